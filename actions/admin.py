"""Backend actions and their audit log: visible to agents, never editable from the console."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from actions.models import ActionAudit, ActionRequest
from tickets.admin import ReadOnlyInline, TicketAdmin
from tickets.models import Ticket


class ActionAuditInline(ReadOnlyInline):
    model = ActionAudit
    fields = ["created_at", "event", "detail_json"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = "audit log"

    @admin.display(description="detail")
    def detail_json(self, obj: ActionAudit) -> str:
        return json.dumps(obj.detail, ensure_ascii=False, sort_keys=True) if obj.detail else ""


@admin.register(ActionRequest)
class ActionRequestAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "type",
        "ticket",
        "order",
        "amount",
        "status",
        "created_at",
        "decided_at",
        "executed_at",
    ]
    list_filter = ["status", "type"]
    list_select_related = ["ticket", "order"]
    search_fields = ["ticket__number", "order__number", "summary"]
    date_hierarchy = "created_at"
    fields = [
        "type",
        "ticket",
        "order",
        "amount",
        "status",
        "summary",
        "params_json",
        "result_json",
        "idempotency_key",
        "created_at",
        "decided_at",
        "executed_at",
    ]
    readonly_fields = fields
    inlines = [ActionAuditInline]

    @admin.display(description="params")
    def params_json(self, obj: ActionRequest) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.params, indent=2, sort_keys=True))

    @admin.display(description="result")
    def result_json(self, obj: ActionRequest) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.result, indent=2, sort_keys=True))

    # Actions are proposed, confirmed and executed by the pipeline only; the record of what
    # happened to a customer's money must not be rewritten by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TicketActionInline(ReadOnlyInline):
    model = ActionRequest
    fields = ["type", "order", "amount", "status", "summary", "created_at", "executed_at"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "actions"


# Imports point from actions to tickets, never back, so this app adds its inline to the ticket page.
admin.site.unregister(Ticket)


@admin.register(Ticket)
class TicketWithActionsAdmin(TicketAdmin):
    inlines = [*TicketAdmin.inlines, TicketActionInline]
