"""AI drafts an agent approves or edits before the customer sees anything.

The confidence gate (knowledge.stages) stores a middling answer as an undelivered AI message
with meta {"kind": "draft", "status": "pending"}. Approving it posts the final text as a new
message, delivered on the ticket's channel; the draft keeps both texts so the edit can be
learnt from.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tickets import services
from tickets.models import Message, Ticket

DRAFT = "draft"


def drafts_pending(*, ticket: Ticket) -> list[Message]:
    return [m for m in ticket.messages.filter(author=Message.Author.AI, meta__kind=DRAFT) if m.meta.get("status") == "pending"]


def draft_approve(*, draft: Message, agent, body: str | None = None) -> Message:
    """Send the draft, as written or as the agent edited it; returns the delivered message.

    Precondition: `draft` is a pending draft. Approving twice is refused, so a double click
    cannot message the customer twice.
    """
    final = (body if body is not None else draft.body).strip()
    if not final:
        raise ValidationError({"body": "The reply is empty."})
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=draft.pk)
        if locked.meta.get("kind") != DRAFT or locked.meta.get("status") != "pending":
            raise ValidationError({"draft": "This draft was already handled."})
        edited = final != locked.body.strip()
        meta = {
            "kind": "answer",
            "citations": locked.meta.get("citations", []),
            "draft": {"message": locked.pk, "original": locked.body, "final": final, "edited": edited},
        }
        sent = services.message_post(
            ticket=locked.ticket, author=Message.Author.AI, body=final, in_reply_to=locked.in_reply_to, agent=agent, meta=meta
        )
        locked.meta = {**locked.meta, "status": "approved", "final": final, "edited": edited, "sent_as": sent.pk,
                       "agent": agent.get_username()}
        locked.save(update_fields=["meta"])
        ticket = locked.ticket
        if ticket.assigned_to_id is None:
            ticket.assigned_to = agent
            ticket.save(update_fields=["assigned_to"])
        services.ticket_set_status(ticket=ticket, status=Ticket.Status.ANSWERED, outcome="answered")
        services.event_record(
            ticket, stage="agent", outcome="draft_edited" if edited else "draft_approved", message=locked.in_reply_to,
            detail={"agent": agent.get_username(), "draft": locked.pk, "sent": sent.pk},
        )
    return sent
