"""The agents' console: the ticket queue, a ticket's whole story, and the reply box."""

from __future__ import annotations

import json
import threading

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from tickets import services
from tickets.importers import HistoryImportError, history_import, mapping_parse
from tickets.models import (
    Customer,
    Intent,
    Message,
    Order,
    RoutingRule,
    Ticket,
    TicketEvent,
    TrainingExample,
    TriageModel,
    WebhookDelivery,
    WebhookEndpoint,
    Workspace,
)

LOW_CONFIDENCE = 0.5

STATUS_COLOURS = {
    Ticket.Status.NEW: "#6b7280",
    Ticket.Status.TRIAGED: "#2563eb",
    Ticket.Status.ANSWERED: "#15803d",
    Ticket.Status.AWAITING_CONFIRMATION: "#b45309",
    Ticket.Status.ESCALATED: "#dc2626",
    Ticket.Status.RESOLVED: "#166534",
    Ticket.Status.CLOSED: "#374151",
    Ticket.Status.REOPENED: "#7c3aed",
}


class QueueFilter(admin.SimpleListFilter):
    """The queues agents work from."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("human", "Needs a human"),
            ("low", "Low confidence"),
            ("confirm", "Awaiting confirmation"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "human":
            return queryset.filter(status=Ticket.Status.ESCALATED)
        if self.value() == "low":
            return queryset.filter(confidence__lt=LOW_CONFIDENCE)
        if self.value() == "confirm":
            return queryset.filter(status=Ticket.Status.AWAITING_CONFIRMATION)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    """Separate from the queue so "my escalated tickets" is two clicks."""

    title = "assigned"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", "Assigned to me"), ("nobody", "Unassigned")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["created_at", "author", "agent", "kind", "body"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    classes = ["collapse"]
    verbose_name_plural = "messages (raw)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent")

    @admin.display(description="kind")
    def kind(self, obj: Message) -> str:
        return obj.meta.get("kind", "")


class TicketEventInline(ReadOnlyInline):
    model = TicketEvent
    fields = ["created_at", "stage", "outcome", "duration", "detail_json"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = "event trail"

    @admin.display(description="duration")
    def duration(self, obj: TicketEvent) -> str:
        return f"{obj.duration_ms:.1f} ms"

    @admin.display(description="detail")
    def detail_json(self, obj: TicketEvent) -> str:
        return json.dumps(obj.detail, ensure_ascii=False) if obj.detail else ""


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "customer",
        "channel",
        "status_badge",
        "intent",
        "confidence_display",
        "urgency",
        "sentiment",
        "outcome",
        "assigned_to",
        "created_at",
    ]
    list_select_related = ["customer", "assigned_to"]
    search_fields = ["number", "customer__email", "customer__name", "messages__body"]
    list_filter = [QueueFilter, AssigneeFilter, "status", "intent", "channel", "urgency"]
    date_hierarchy = "created_at"
    list_per_page = 50
    inlines = [TicketEventInline, MessageInline]
    actions = ["assign_to_me", "mark_resolved", "escalate", "approve_drafts"]
    fieldsets = [
        (
            None,
            {"fields": ["number", "customer", "channel", "subject", "status_badge", "assigned_to"]},
        ),
        (
            "Classification",
            {
                "fields": [
                    "intent",
                    "confidence",
                    "urgency",
                    "sentiment",
                    "complexity",
                    "outcome",
                    "escalation_reason",
                ]
            },
        ),
        ("Times", {"fields": ["created_at", "updated_at", "resolved_at"], "classes": ["collapse"]}),
    ]
    # Only the assignee and the intent (an agent's correction) are edited here; status changes go
    # through the reply box and the actions, which call services and leave an event behind.
    readonly_fields = [
        "number",
        "customer",
        "channel",
        "subject",
        "status_badge",
        "confidence",
        "urgency",
        "sentiment",
        "complexity",
        "outcome",
        "escalation_reason",
        "created_at",
        "updated_at",
        "resolved_at",
    ]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Ticket) -> str:
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:9px;white-space:nowrap">{}</span>',
            STATUS_COLOURS.get(obj.status, "#6b7280"),
            obj.get_status_display(),
        )

    @admin.display(description="confidence", ordering="confidence")
    def confidence_display(self, obj: Ticket) -> str:
        if obj.confidence is None:
            return "–"
        colour = "#dc2626" if obj.confidence < LOW_CONFIDENCE else "inherit"
        return format_html('<span style="color:{}">{}</span>', colour, f"{obj.confidence:.2f}")

    def has_add_permission(self, request):
        # Tickets enter only through the intake service, which runs the pipeline.
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assigned_to":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True, is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "intent" in form.base_fields:
            names = list(Intent.objects.values_list("name", flat=True))
            if obj is not None and obj.intent and obj.intent not in names:
                names.append(obj.intent)  # e.g. out_of_scope: the agent may leave it as it is
            form.base_fields["intent"] = forms.ChoiceField(
                choices=[("", "—"), *((name, name) for name in names)],
                required=False,
                help_text="Changing it records a correction that the next retraining learns from.",
            )
        return form

    def save_model(self, request, obj, form, change):
        stored = Ticket.objects.get(pk=obj.pk)
        if "assigned_to" in form.changed_data:
            # The form already changed `obj`; the service compares against the stored row.
            services.ticket_assign(ticket=stored, agent=obj.assigned_to)
        # A form posted without the field must not wipe the intent.
        if "intent" in form.changed_data and obj.intent:
            services.ticket_intent_correct(ticket=stored, intent=obj.intent, agent=request.user)

    # --- the change page: transcript and reply box -----------------------------------------

    def get_urls(self):
        reply = self.admin_site.admin_view(require_POST(self.reply_view))
        return [
            path("<path:object_id>/reply/", reply, name="tickets_ticket_reply"),
            path(
                "<path:object_id>/draft/<int:draft_id>/approve/",
                self.admin_site.admin_view(require_POST(self.draft_approve_view)),
                name="tickets_ticket_draft_approve",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["transcript"] = list(
                obj.messages.select_related("agent").order_by("created_at", "id")
            )
            context["can_reply"] = self.has_change_permission(request, obj)
            context["reply_url"] = reverse("admin:tickets_ticket_reply", args=[obj.pk])
            context["drafts"] = self._pending_drafts(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def reply_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = self.get_object(request, unquote(object_id))
        if ticket is None:
            raise Http404("No such ticket.")
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied
        resolve = request.POST.get("action") == "resolve"
        try:
            services.ticket_reply_agent(
                ticket=ticket,
                agent=request.user,
                body=request.POST.get("body", ""),
                resolve=resolve,
            )
        except ValidationError as exc:
            for error in exc.messages:
                self.message_user(request, error, messages.ERROR)
        else:
            done = "sent and the ticket resolved" if resolve else "sent"
            self.message_user(
                request, f"Reply {done} on {ticket.get_channel_display()}.", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    # --- AI drafts awaiting approval (the confidence gate in knowledge.stages) -------------
    # knowledge is downstream of tickets: imported where used, so tickets never needs it to load.

    def _pending_drafts(self, ticket: Ticket) -> list:
        from knowledge.services_drafts import drafts_pending

        return [
            {"message": m, "url": reverse("admin:tickets_ticket_draft_approve", args=[ticket.pk, m.pk])}
            for m in drafts_pending(ticket=ticket)
        ]

    def draft_approve_view(self, request: HttpRequest, object_id: str, draft_id: int) -> HttpResponse:
        from knowledge.services_drafts import draft_approve

        ticket = self.get_object(request, unquote(object_id))
        if ticket is None:
            raise Http404("No such ticket.")
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied
        draft = ticket.messages.filter(pk=draft_id, author=Message.Author.AI).first()
        if draft is None:
            raise Http404("No such draft.")
        try:
            sent = draft_approve(draft=draft, agent=request.user, body=request.POST.get("body"))
        except ValidationError as exc:
            for error in exc.messages:
                self.message_user(request, error, messages.ERROR)
        else:
            how = "edited and sent" if sent.meta["draft"]["edited"] else "approved and sent"
            self.message_user(request, f"Draft {how} on {ticket.get_channel_display()}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[ticket.pk]))

    @admin.action(description="Approve AI drafts as written and send them", permissions=["change"])
    def approve_drafts(self, request, queryset: QuerySet[Ticket]):
        from knowledge.services_drafts import draft_approve, drafts_pending

        sent = 0
        for ticket in queryset:
            for draft in drafts_pending(ticket=ticket):
                draft_approve(draft=draft, agent=request.user)
                sent += 1
        self.message_user(request, f"{sent} draft(s) sent.", messages.SUCCESS)

    # --- bulk actions ----------------------------------------------------------------------

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset: QuerySet[Ticket]):
        for ticket in queryset:
            services.ticket_assign(ticket=ticket, agent=request.user)
        self.message_user(request, f"{len(queryset)} ticket(s) assigned to you.", messages.SUCCESS)

    @admin.action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request, queryset: QuerySet[Ticket]):
        open_tickets = list(queryset.exclude(status__in=services.CLOSED_STATES))
        for ticket in open_tickets:
            services.ticket_resolve(ticket=ticket, agent=request.user)
        self.message_user(request, f"{len(open_tickets)} ticket(s) resolved.", messages.SUCCESS)

    @admin.action(
        description="Escalate to a human (no message to the customer)", permissions=["change"]
    )
    def escalate(self, request, queryset: QuerySet[Ticket]):
        # A bulk action should not message many customers at once; the agent who picks the
        # ticket up writes to the customer.
        pending = list(queryset.exclude(status=Ticket.Status.ESCALATED))
        for ticket in pending:
            services.ticket_escalate(
                ticket=ticket,
                reason=f"escalated by {request.user.get_username()}",
                tell_customer=False,
            )
        self.message_user(request, f"{len(pending)} ticket(s) escalated.", messages.SUCCESS)


class CustomerTicketInline(ReadOnlyInline):
    model = Ticket
    fields = ["number", "channel", "status", "intent", "created_at"]
    readonly_fields = fields
    show_change_link = True
    ordering = ["-created_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "phone", "vip", "plan", "ticket_count", "created_at"]
    list_filter = ["vip", "plan"]
    search_fields = ["email", "name", "phone"]
    inlines = [CustomerTicketInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ticket_count=Count("tickets"))

    @admin.display(description="tickets", ordering="ticket_count")
    def ticket_count(self, obj: Customer) -> int:
        return obj.ticket_count


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "status", "total", "currency", "placed_at"]
    list_filter = ["status"]
    list_select_related = ["customer"]
    search_fields = ["number", "customer__email", "customer__name", "tracking_number"]
    raw_id_fields = ["customer"]
    date_hierarchy = "placed_at"


# The active model's scores, read once per admin page rather than once per row.
_page = threading.local()


def _active_per_intent() -> dict:
    model = TriageModel.objects.filter(active=True).order_by("-version").only("scores").first()
    return (model.scores or {}).get("per_intent") or {} if model else {}


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = ["name", "path", "action_type", "article_slug", "example_count", "precision", "recall", "description"]
    list_filter = ["path"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "path", "action_type", "article_slug", "linked_articles", "example_count", "precision", "recall"]
    readonly_fields = ["linked_articles", "example_count", "precision", "recall"]
    change_list_template = "admin/tickets/history_import_link.html"

    def get_queryset(self, request):
        # TrainingExample.intent is a name, not a foreign key: count through a subquery.
        counts = (
            TrainingExample.objects.filter(intent=OuterRef("name"))
            .order_by()
            .values("intent")
            .annotate(n=Count("id"))
            .values("n")
        )
        return super().get_queryset(request).annotate(
            examples=Coalesce(Subquery(counts, output_field=IntegerField()), 0)
        )

    def changelist_view(self, request, extra_context=None):
        _page.scores = _active_per_intent()
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        _page.scores = _active_per_intent()
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="examples", ordering="examples")
    def example_count(self, obj: Intent) -> int:
        return getattr(obj, "examples", 0)

    def _score(self, obj: Intent, key: str) -> str:
        value = (getattr(_page, "scores", {}).get(obj.name) or {}).get(key)
        return "—" if value is None else f"{value:.1%}"

    @admin.display(description="precision")
    def precision(self, obj: Intent) -> str:
        return self._score(obj, "precision")

    @admin.display(description="recall")
    def recall(self, obj: Intent) -> str:
        return self._score(obj, "recall")

    @admin.display(description="linked articles")
    def linked_articles(self, obj: Intent) -> str:
        # Looked up by name at call time: tickets sits upstream of knowledge and must not import it.
        if not obj.pk or not apps.is_installed("knowledge"):
            return obj.article_slug or "—"
        article_model = apps.get_model("knowledge", "Article")
        slugs = {obj.article_slug} - {""}
        # JSON containment is not portable to SQLite; an intent's articles are few, so filter here.
        slugs |= {slug for slug, intents in article_model.objects.values_list("slug", "intents") if obj.name in (intents or [])}
        return ", ".join(sorted(slugs)) or "—"


class HistoryUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV or JSONL: text|body|message, subject, category|intent|label, urgency, sentiment")
    format = forms.ChoiceField(choices=[("", "guess"), ("csv", "CSV"), ("jsonl", "JSONL")], required=False)
    mapping = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        required=False,
        help_text='One "Old category=new_intent" per line, or a JSON object. Unmapped categories become new intents.',
    )
    dry_run = forms.BooleanField(required=False, help_text="report only; store nothing")
    train = forms.BooleanField(required=False, help_text="retrain the triage model afterwards")


@admin.register(TrainingExample)
class TrainingExampleAdmin(admin.ModelAdmin):
    list_display = ["text", "intent", "urgency", "sentiment", "source", "created_at"]
    list_filter = ["source", "intent"]
    search_fields = ["text", "intent"]
    change_list_template = "admin/tickets/history_import_link.html"

    def get_urls(self):
        upload = self.admin_site.admin_view(self.history_import_view)
        return [path("import-history/", upload, name="tickets_history_import"), *super().get_urls()]

    def history_import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = HistoryUploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = history_import(
                    data=upload.read(),
                    name=upload.name,
                    fmt=form.cleaned_data["format"] or None,
                    mapping=mapping_parse(form.cleaned_data["mapping"]),
                    dry_run=form.cleaned_data["dry_run"],
                )
            except HistoryImportError as exc:
                form.add_error(None, str(exc))
            else:
                done = "checked (dry run)" if report.dry_run else "imported"
                self.message_user(request, f"{report.imported} examples {done}.", messages.SUCCESS)
                if form.cleaned_data["train"] and not report.dry_run:
                    from tickets.services_triage import triage_train

                    model = triage_train()
                    self.message_user(request, f"Active triage model: v{model.version}.", messages.SUCCESS)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import ticket history",
            "form": form,
            "report_lines": report.lines() if report else [],
        }
        return TemplateResponse(request, "admin/tickets/history_import.html", context)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Evaluated in (order, id) before the built-in rules; see tickets.routing."""

    list_display = ["name", "order", "enabled", "action", "conditions"]
    list_editable = ["order", "enabled"]
    list_filter = ["enabled", "action"]
    search_fields = ["name", "intent"]
    fieldsets = [
        (None, {"fields": ["name", "order", "enabled"]}),
        (
            "Conditions (all must hold; blank means any)",
            {"fields": ["intent", "min_urgency", "sentiment", "vip_only", "amount_over", "keywords"]},
        ),
        ("Then", {"fields": ["action", "priority"]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "intent":
            names = Intent.objects.values_list("name", flat=True)
            return forms.ChoiceField(choices=[("", "any intent"), *((n, n) for n in names)], required=False)
        if db_field.name == "amount_over":
            kwargs["help_text"] = (
                f"{db_field.help_text}. The workspace's refund approval limit is "
                f"{Workspace.current().refund_approval_over}."
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="conditions")
    def conditions(self, obj: RoutingRule) -> str:
        parts = [
            f"intent {obj.intent}" if obj.intent else "",
            f"urgency ≥ {obj.min_urgency}" if obj.min_urgency else "",
            f"sentiment {obj.sentiment}" if obj.sentiment else "",
            "VIP" if obj.vip_only else "",
            f"amount > {obj.amount_over}" if obj.amount_over is not None else "",
            f"keywords {', '.join(obj.keywords)}" if obj.keywords else "",
        ]
        return "; ".join(p for p in parts if p) or "any ticket"


@admin.register(TriageModel)
class TriageModelAdmin(admin.ModelAdmin):
    """Models come from training; here they are only inspected."""

    list_display = ["version", "examples", "train_seconds", "active", "trained_at"]
    fields = ["version", "examples", "train_seconds", "active", "trained_at", "scores_json"]
    readonly_fields = fields
    actions = ["retrain"]

    @admin.action(description="Retrain the triage model now (in the background)", permissions=["retrain"])
    def retrain(self, request, queryset):
        from django_q.tasks import async_task

        # Any selected row will do: training always uses every labelled example.
        async_task("tickets.tasks.retrain_triage", task_name="retrain-triage-admin")
        self.message_user(
            request,
            "Retraining started in the background. The new version appears here when it is done and "
            "becomes active only if it scores no worse than the current one.",
        )

    def has_retrain_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.groups.filter(name="Managers").exists()

    @admin.display(description="scores")
    def scores_json(self, obj: TriageModel) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.scores, indent=2, sort_keys=True))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = [
        "brand_name",
        "assistant_name",
        "refund_approval_over",
        "refund_window_days",
        "updated_at",
    ]

    def has_add_permission(self, request):
        # One row: Workspace.current() creates it; a second would be ignored.
        return super().has_add_permission(request) and not Workspace.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = [
        "event", "status", "attempts", "last_status_code", "last_error",
        "next_attempt_at", "delivered_at", "created_at",
    ]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "active", "secret"]

    def clean_url(self) -> str:
        from tickets.webhooks import webhook_url_check

        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url=url)
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["url"]) from exc
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "events", "active", "created_by", "created_at"]
    list_filter = ["active"]
    inlines = [WebhookDeliveryInline]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # Staff who may only view endpoints (Agents, Managers) don't get to read the signing secret.
        if not self.has_change_permission(request, obj):
            fields = [f for f in fields if f != "secret"]
        return fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
