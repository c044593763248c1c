import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_spawn.connect(warm_up, dispatch_uid="knowledge.warm_up")


def warm_up(sender=None, **kwargs) -> None:
    """In a new queue worker: build the keyword index and the speller before the first search."""
    from knowledge import retrieval

    try:
        retrieval._keyword.refresh(wait=True)
    except Exception:  # a worker that cannot warm up still works, only slower at first
        log.warning("warm-up failed", exc_info=True)
