import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Tickets"

    def ready(self) -> None:
        # One BLAS thread per process. The models' matrix work per ticket is small, and BLAS
        # threads waiting on a core busy with onnxruntime, or with another worker, tripled
        # classification's tail: measured p95 31 ms with the default threads, 9 ms with one.
        from django_q.signals import post_spawn
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        post_spawn.connect(warm_up, dispatch_uid="tickets.warm_up")


def warm_up(sender=None, **kwargs) -> None:
    """In a new queue worker: load the embedding model and the active triage model now, not
    inside the first customer's ticket (about a second otherwise)."""
    from tickets import embeddings, triage
    from tickets.models import TriageModel

    try:
        embeddings.embed(["warm up"])
        if TriageModel.objects.filter(active=True).exists():  # never train from here
            triage.active_model()
    except Exception:  # a worker that cannot warm up still works, only slower at first
        log.warning("warm-up failed", exc_info=True)
