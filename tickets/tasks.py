"""django-q2 tasks: take an id, call the service."""

from __future__ import annotations

from tickets import pipeline


def run_pipeline(message_id: int) -> str:
    return pipeline.run_pipeline(message_id=message_id)


def sweep() -> dict[str, int]:
    return pipeline.sweep()


def retrain_triage() -> dict[str, object]:
    from tickets.services_triage import triage_train

    row = triage_train()
    return {"active_version": row.version, "examples": row.examples}


def deliver_webhook(delivery_id: int) -> str:
    from tickets.webhooks import webhook_deliver

    return webhook_deliver(delivery_id=delivery_id)


def retry_webhooks() -> int:
    from tickets.webhooks import webhooks_retry_due

    return webhooks_retry_due()
