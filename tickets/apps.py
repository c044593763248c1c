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

    try:
        embeddings.embed(["warm up"])
        # Never train from here: every worker would, at once. The first ticket trains a model
        # that is missing or was saved by an older version.
        triage.active_model(train=False)
    except Exception:  # a worker that cannot warm up still works, only slower at first
        log.warning("warm-up failed", exc_info=True)
