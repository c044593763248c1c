"""Chat sessions, for tracing a conversation back to its browser; read-only."""

from __future__ import annotations

from django.contrib import admin

from channels_intake.models import ChatSession


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ["token_prefix", "customer", "ticket", "created_at", "last_seen_at"]
    list_select_related = ["customer", "ticket"]
    search_fields = ["ticket__number", "customer__email"]
    # The full token lets a browser resume the conversation as the customer; show only a prefix.
    fields = ["token_prefix", "customer", "ticket", "created_at", "last_seen_at"]
    readonly_fields = fields

    @admin.display(description="session")
    def token_prefix(self, obj: ChatSession) -> str:
        return f"{obj.token[:8]}…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
