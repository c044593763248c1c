"""Chat sessions (read-only), the intake log with per-channel coverage, attachments, social identities."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from channels_intake.models import Attachment, ChatSession, InboundEvent, SocialIdentity
from channels_intake.selectors import intake_coverage


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


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    """The intake log: every provider delivery and what became of it, with per-channel totals."""

    change_list_template = "admin/channels_intake/inboundevent/change_list.html"
    list_display = ["created_at", "channel", "provider", "status", "reason", "sender", "ticket_link", "external_id"]
    list_filter = ["channel", "status", "provider", "reason"]
    list_select_related = ["ticket"]
    search_fields = ["external_id", "sender", "reason", "ticket__number"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in InboundEvent._meta.fields]

    @admin.display(description="ticket")
    def ticket_link(self, obj: InboundEvent) -> str:
        if obj.ticket is None:
            return "—"
        url = reverse("admin:tickets_ticket_change", args=[obj.ticket_id])
        return format_html('<a href="{}">{}</a>', url, obj.ticket.number)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "coverage": sorted(intake_coverage().items())}
        return super().changelist_view(request, extra_context=extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "content_type", "size", "skipped_reason", "message", "created_at"]
    list_filter = ["content_type"]
    list_select_related = ["message__ticket"]
    search_fields = ["filename", "message__ticket__number"]
    readonly_fields = ["message", "filename", "content_type", "size", "file", "skipped_reason", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(SocialIdentity)
class SocialIdentityAdmin(admin.ModelAdmin):
    list_display = ["platform", "sender_id", "customer", "created_at"]
    list_filter = ["platform"]
    list_select_related = ["customer"]
    search_fields = ["sender_id", "customer__email", "customer__name", "customer__phone"]
    raw_id_fields = ["customer"]
