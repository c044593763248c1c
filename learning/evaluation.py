"""The evaluation harness behind `manage.py evaluate` (DESIGN section 5, "Evaluation bundle").

A bundle describes one business. The harness loads it into a throwaway database, onboards
it the way a new customer would (workspace settings, intent taxonomy, history, a trained
triage model, the knowledge base, customers and orders), replays its tickets through the
real pipeline — follow-ups included, so confirmations are answered as the ticket says —
and scores what the pipeline did against what the bundle expected.

Everything the replay could reach outside the process is switched off or pointed at a
throwaway while it runs: the database, the vector index, the task queue, the channel layer,
outbound delivery, e-mail and the store backend. Nothing it does is visible anywhere else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from unittest import mock

from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import override_settings
from django.utils.dateparse import parse_datetime

BUNDLE_FILES = ("history", "articles", "customers", "orders", "tickets")
OUTCOMES = ("answered", "action", "escalated")
OOS_INTENTS = {"oos", "out_of_scope"}
PROGRESS_EVERY = 100


class BundleError(ValueError):
    """The bundle cannot be read: a missing tickets file, a malformed line, a bad value."""


@dataclass
class Bundle:
    name: str
    config: dict[str, Any]
    history: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    tickets: list[dict[str, Any]]

    @property
    def has_triage(self) -> bool:
        """A classifier can only be trained from labelled history; without it, retrieval answers alone."""
        return bool(self.history)


@dataclass
class Observation:
    """What the pipeline did with one bundle ticket."""

    expected: dict[str, Any]
    intent: str | None = None
    urgency: str | None = None
    sentiment: str | None = None
    outcome: str = "none"  # answered | action | escalated | none
    cited: str | None = None
    ranking: list[str] | None = None
    executed: list[dict[str, Any]] = field(default_factory=list)
    escalation_reasons: list[str] = field(default_factory=list)
    routed_to_person: bool = (
        False  # triage's own decision on the first message, before any stage ran
    )
    classify_ms: list[float] = field(default_factory=list)
    resolve_ms: list[float] = field(default_factory=list)
    end_to_end_ms: float | None = None
    error: str = ""


# --- loading --------------------------------------------------------------------------------
def bundle_load(*, path: str | os.PathLike) -> Bundle:
    """Read a bundle folder; only tickets.jsonl is required."""
    folder = Path(path)
    if not (folder / "tickets.jsonl").is_file():
        raise BundleError(f"{folder} is not an evaluation bundle: it has no tickets.jsonl")
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    except json.JSONDecodeError as exc:
        raise BundleError(f"{config_path}: {exc}") from exc
    rows = {name: _read_jsonl(folder / f"{name}.jsonl") for name in BUNDLE_FILES}
    for n, ticket in enumerate(rows["tickets"], 1):
        if not isinstance(ticket.get("body"), str) or not ticket.get("channel"):
            raise BundleError(
                f"{folder / 'tickets.jsonl'} line {n}: a ticket needs a channel and a body"
            )
    return Bundle(name=folder.resolve().name, config=config, **rows)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BundleError(f"{path} line {n}: {exc}") from exc
    return rows


_LOOSE_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_when(value: str | None) -> dt.datetime | None:
    """An ISO-8601 time, forgiving single-digit months and days ("2026-9-10T10:00:00Z") and bare dates; UTC when no zone."""
    if not value:
        return None
    text = _LOOSE_DATE.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", str(value).strip())
    if len(text) == 10:
        text += "T00:00:00"
    parsed = parse_datetime(text.replace("Z", "+00:00"))
    if parsed is None:
        raise BundleError(f"not a date and time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _decimal(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise BundleError(f"{what}: not an amount: {value!r}") from exc


# --- the throwaway world ---------------------------------------------------------------------
@contextlib.contextmanager
def isolated(*, llm: bool) -> Iterator[None]:
    """Run the body against a fresh database and in-process index, and throw both away after.

    The default connection is switched to a database created for this run (a temp SQLite file,
    or `frontline_eval_<pid>` on PostgreSQL) before anything is written, so neither the real
    database nor a concurrent test database is touched. Needs autocommit: the pipeline's
    on-commit hooks must run, and a connection inside a transaction cannot be switched.
    """
    from django_q.conf import Conf

    if connection.in_atomic_block:
        raise RuntimeError(
            "evaluate cannot switch databases inside a transaction "
            "(in tests, use django_db(transaction=True))"
        )
    tempdir = tempfile.mkdtemp(prefix="frontline-eval-")
    real_name = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    real_test_settings = dict(test_settings)
    if connection.vendor == "sqlite":
        test_settings["NAME"] = os.path.join(tempdir, "eval.sqlite3")
    else:
        test_settings["NAME"] = f"frontline_eval_{os.getpid()}"
    overrides = {
        "CHROMA_URL": "memory://",
        "CHROMA_COLLECTION": f"eval-{uuid.uuid4().hex[:12]}",
        # Nothing leaves the building: no chat fan-out (ids in the throwaway database would
        # collide with real tickets' groups), no delivery, no mail, no real store.
        "CHANNEL_LAYERS": {},
        "FRONTLINE_OUTBOUND": {},
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "STORE_BACKEND": "actions.connectors.demo.DemoStore",
    }
    if not llm:
        overrides["LLM_MODEL"] = ""
    queue_sync = Conf.SYNC
    queue_log = logging.getLogger("django-q")
    queue_log_level = queue_log.level
    try:
        # stdout carries the report alone; anything a library prints goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            connection.creation.create_test_db(
                verbosity=0, autoclobber=True, serialize=False, keepdb=False
            )
            # Any task enqueued during the run executes inline: with a Redis broker it would
            # otherwise reach real workers, which read the real database.
            Conf.SYNC = True
            queue_log.setLevel(logging.WARNING)  # inline tasks would log several lines each
            with (
                override_settings(**overrides),
                mock.patch("tickets.services.pipeline_enqueue", _run_inline),
            ):
                _reset_process_caches()
                try:
                    yield
                finally:
                    from knowledge import index

                    index.drop_collection()
                    _reset_process_caches()
    finally:
        Conf.SYNC = queue_sync
        queue_log.setLevel(queue_log_level)
        # Only drop what this run created: if creation failed before the switch, NAME is still
        # the real database.
        if connection.settings_dict["NAME"] != real_name:
            with contextlib.redirect_stdout(sys.stderr):
                connection.creation.destroy_test_db(real_name, verbosity=0)
        test_settings.clear()
        test_settings.update(real_test_settings)
        shutil.rmtree(tempdir, ignore_errors=True)


def _run_inline(*, message_id: int) -> None:
    """The pipeline runs in this process as the message commits, so the reply exists when intake returns."""
    from tickets.pipeline import run_pipeline

    run_pipeline(message_id=message_id)


def _reset_process_caches() -> None:
    """Models and indexes cached per process would otherwise leak between databases."""
    from knowledge import index, retrieval
    from tickets import triage

    triage.reset_cache()
    index.reset_state()
    retrieval._keyword = retrieval._KeywordIndex()


# --- onboarding -----------------------------------------------------------------------------
def bundle_onboard(*, bundle: Bundle) -> dict[str, Any] | None:
    """Set the workspace up from the bundle; returns {"examples", "seconds"} of training, or None."""
    from knowledge.services import article_save, reindex_all
    from tickets.services_triage import triage_train

    _workspace_configure(bundle)
    _intents_import(bundle)
    train = None
    if bundle.has_triage:
        started = time.perf_counter()
        model = triage_train()
        train = {"examples": model.examples, "seconds": round(time.perf_counter() - started, 3)}
    for row in bundle.articles:
        article_save(
            slug=row["slug"],
            title=row.get("title") or row["slug"],
            body=row.get("body", ""),
            category=row.get("category", ""),
            intents=row.get("intents") or [],
        )
    if bundle.articles:
        reindex_all()
    _customers_import(bundle)
    _orders_import(bundle)
    return train


def _workspace_configure(bundle: Bundle) -> None:
    from tickets.models import Workspace

    config = bundle.config
    workspace = Workspace.current()
    brand = config.get("brand") or {}
    workspace.brand_name = brand.get("name") or workspace.brand_name
    workspace.assistant_name = brand.get("assistant_name") or workspace.assistant_name
    workspace.voice = brand.get("voice") or workspace.voice
    workspace.sign_off = (
        brand.get("sign_off") or f"— {workspace.assistant_name}, {workspace.brand_name} support"
    )
    escalate = config.get("escalate") or {}
    if "keywords" in escalate:
        workspace.escalate_keywords = list(escalate["keywords"])
    if "vip_complaints" in escalate:
        workspace.escalate_vip_complaints = bool(escalate["vip_complaints"])
    if escalate.get("refund_over") is not None:
        workspace.refund_approval_over = _decimal(escalate["refund_over"], "escalate.refund_over")
    policies = config.get("policies") or {}
    if policies.get("refund_window_days") is not None:
        workspace.refund_window_days = int(policies["refund_window_days"])
    for key in ("cancel_states", "address_change_states"):
        if key in policies:
            setattr(workspace, key, list(policies[key]))
    if config.get("plans"):
        workspace.plans = {name: str(price) for name, price in config["plans"].items()}
    workspace.triage_enabled = bundle.has_triage
    workspace.save()


def _intents_import(bundle: Bundle) -> None:
    """The bundle's taxonomy replaces the shipped one: its rows go in first, so the defaults never seed."""
    from tickets.models import Intent
    from tickets.stages import ESCALATE_INTENTS

    configured = bundle.config.get("intents") or {}
    names = list(configured) + sorted(
        {row["intent"] for row in bundle.history if row.get("intent")} - set(configured)
    )
    intents = []
    for name in names:
        spec = configured.get(name) or {}
        path = spec.get("path") or (
            Intent.Path.ESCALATE if name in ESCALATE_INTENTS else Intent.Path.ANSWER
        )
        if path not in Intent.Path.values:
            raise BundleError(f"intent {name!r}: unknown path {path!r}")
        intents.append(
            Intent(
                name=name,
                path=path,
                action_type=spec.get("action") or "",
                article_slug=spec.get("article") or "",
            )
        )
    Intent.objects.bulk_create(intents)
    if bundle.history:
        # The same door a team's own export goes through (manage.py import_history).
        from tickets.importers import history_import

        data = "\n".join(json.dumps(row, ensure_ascii=False) for row in bundle.history).encode()
        history_import(data=data, name="history.jsonl", fmt="jsonl")


def _customers_import(bundle: Bundle) -> None:
    from tickets.models import Customer

    Customer.objects.bulk_create(
        Customer(
            email=row["email"].strip().lower(),
            name=row.get("name") or "",
            vip=bool(row.get("vip")),
            phone=re.sub(r"[^\d+]", "", row.get("phone") or ""),
            plan=row.get("plan") or "",
        )
        for row in bundle.customers
    )


def _orders_import(bundle: Bundle) -> None:
    from tickets.models import Customer, Order

    orders = []
    for row in bundle.orders:
        customer, _ = Customer.objects.get_or_create(email=row["customer_email"].strip().lower())
        payment = row.get("payment") or {}
        orders.append(
            Order(
                number=row["number"],
                customer=customer,
                status=row.get("status") or Order.Status.PENDING,
                total=_decimal(row.get("total", "0"), f"order {row['number']} total"),
                currency=row.get("currency") or "USD",
                items=row.get("items") or [],
                payment_method=payment.get("method") or "",
                payment_last4=payment.get("last4") or "",
                shipping_address=row.get("shipping_address") or "",
                carrier=row.get("carrier") or "",
                tracking_number=row.get("tracking_number") or "",
                placed_at=parse_when(row.get("placed_at"))
                or parse_when(bundle.config.get("now"))
                or dt.datetime.now(dt.UTC),
                shipped_at=parse_when(row.get("shipped_at")),
                delivered_at=parse_when(row.get("delivered_at")),
            )
        )
    Order.objects.bulk_create(orders)


# --- replay ---------------------------------------------------------------------------------
def bundle_replay(
    *, bundle: Bundle, progress: Callable[[int, int], None] | None = None
) -> list[Observation]:
    """Send every ticket, then its follow-ups, through the pipeline and observe the result."""
    from tickets import clock

    observations = []
    total = len(bundle.tickets)
    with clock.frozen(parse_when(bundle.config.get("now"))):
        for n, case in enumerate(bundle.tickets, 1):
            observations.append(_replay_one(case))
            if progress and (n % PROGRESS_EVERY == 0 or n == total):
                progress(n, total)
    return observations


def _replay_one(case: dict[str, Any]) -> Observation:
    from tickets.models import Ticket
    from tickets.services import ticket_receive

    observation = Observation(expected=case.get("expected") or {})
    try:
        started = time.perf_counter()
        ticket, first, _ = ticket_receive(
            channel=case["channel"],
            body=case["body"],
            email=case.get("customer_email"),
            subject=case.get("subject") or "",
        )
        observation.end_to_end_ms = (time.perf_counter() - started) * 1000
        for followup in case.get("followups") or []:
            ticket.refresh_from_db(fields=["status"])
            if ticket.status == Ticket.Status.ESCALATED:
                break  # a person has it now; the customer waits for them, not the AI
            ticket_receive(channel=case["channel"], body=followup, ticket=ticket)
    except ValidationError as exc:
        observation.error = f"{case.get('id')}: rejected at intake: {exc}"
        return observation
    _observe(observation, ticket, first)
    return observation


def _observe(observation: Observation, ticket, first) -> None:
    from actions.models import ActionRequest
    from tickets.models import Message, Ticket

    ticket.refresh_from_db()
    events = list(ticket.events.all())
    for event in events:
        if event.stage == "classify":
            observation.classify_ms.append(event.duration_ms)
            if event.message_id == first.pk:
                observation.intent = event.outcome
                observation.urgency = event.detail.get("urgency")
                observation.sentiment = event.detail.get("sentiment")
        elif event.stage == "resolve":
            observation.resolve_ms.append(event.duration_ms)
            if observation.ranking is None:
                observation.ranking = list(event.detail.get("retrieval") or [])
        elif event.stage == "route" and event.message_id == first.pk:
            observation.routed_to_person = event.outcome == "escalate"
        elif event.stage == "escalate":
            observation.escalation_reasons.append(str(event.detail.get("reason", "")))

    for action in ticket.actions.filter(status=ActionRequest.Status.EXECUTED).select_related(
        "order", "confirmed_in"
    ):
        confirmed = (
            action.confirmed_in is not None
            and action.confirmed_in.author == Message.Author.CUSTOMER
        )
        observation.executed.append(
            {
                "type": action.type,
                "order": action.order.number if action.order else None,
                "amount": action.amount,
                "confirmed": confirmed,
            }
        )
    replies = list(ticket.messages.filter(author=Message.Author.AI))
    if observation.executed:
        observation.outcome = "action"
    elif observation.escalation_reasons or ticket.status == Ticket.Status.ESCALATED:
        observation.outcome = "escalated"
    elif replies:
        observation.outcome = "answered"
    observation.cited = next(
        (m.meta["citations"][0].get("article") for m in replies if (m.meta or {}).get("citations")),
        None,
    )


# --- scoring --------------------------------------------------------------------------------
def report_build(
    *, bundle: Bundle, observations: list[Observation], train: dict[str, Any] | None, mode: str
) -> dict[str, Any]:
    """The report of DESIGN section 5; a metric without ground truth in the bundle is None."""
    return {
        "bundle": bundle.name,
        "mode": mode,
        "tickets": len(observations),
        "intent": _intent_scores(observations),
        "urgency": {"accuracy": _accuracy(observations, "urgency")},
        "sentiment": {"accuracy": _accuracy(observations, "sentiment")},
        "outcome": _outcome_scores(observations),
        "retrieval": _retrieval_scores(observations),
        "actions": _action_scores(observations),
        "latency_ms": {
            "classify": _percentiles([ms for o in observations for ms in o.classify_ms]),
            "resolve": _percentiles([ms for o in observations for ms in o.resolve_ms]),
            "end_to_end": _percentiles(
                [o.end_to_end_ms for o in observations if o.end_to_end_ms is not None]
            ),
        },
        "train": train,
        "out_of_scope": _out_of_scope(observations),
        "errors": [o.error for o in observations if o.error],
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _accuracy(observations: list[Observation], key: str) -> float | None:
    scored = [o for o in observations if o.expected.get(key)]
    return _ratio(sum(getattr(o, key) == o.expected[key] for o in scored), len(scored))


def _intent_scores(observations: list[Observation]) -> dict[str, Any]:
    pairs = [
        (o.expected["intent"], o.intent or "") for o in observations if o.expected.get("intent")
    ]
    if not pairs:
        return {"accuracy": None, "macro_f1": None, "per_intent": {}, "worst_confusions": []}
    per_intent = {}
    for label in sorted({label for pair in pairs for label in pair}):
        tp = sum(1 for e, p in pairs if e == label and p == label)
        predicted = sum(1 for _, p in pairs if p == label)
        support = sum(1 for e, _ in pairs if e == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label or "(none)"] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    confusions = Counter((e, p or "(none)") for e, p in pairs if e != p)
    return {
        "accuracy": _ratio(sum(e == p for e, p in pairs), len(pairs)),
        # Over every label seen, expected or predicted (as scikit-learn's macro average).
        "macro_f1": round(sum(s["f1"] for s in per_intent.values()) / len(per_intent), 4),
        "per_intent": per_intent,
        "worst_confusions": [
            {"expected": e, "predicted": p, "count": c} for (e, p), c in confusions.most_common(10)
        ],
    }


def _outcome_scores(observations: list[Observation]) -> dict[str, Any]:
    total = len(observations)
    scored = [o for o in observations if o.expected.get("outcome") in OUTCOMES]
    expected_escalated = [o for o in observations if o.expected.get("outcome") == "escalated"]
    wrong = 0
    for o in observations:
        if o.outcome != "answered":
            continue
        article = o.expected.get("article")
        if o.expected.get("outcome") in ("escalated", "action") or (article and o.cited != article):
            wrong += 1
    with_article = [
        o for o in observations if o.expected.get("article") and o.outcome == "answered"
    ]
    reasons = Counter(
        re.sub(r"\d+(?:\.\d+)?", "#", r) for o in observations for r in o.escalation_reasons
    )
    return {
        "accuracy": _ratio(sum(o.outcome == o.expected["outcome"] for o in scored), len(scored)),
        "answered_rate": _ratio(sum(o.outcome == "answered" for o in observations), total),
        "escalated_rate": _ratio(sum(o.outcome == "escalated" for o in observations), total),
        "escalation_recall": _ratio(
            sum(o.outcome == "escalated" for o in expected_escalated), len(expected_escalated)
        ),
        "wrong_answer_rate": _ratio(wrong, total),
        # Of the tickets answered that name their article, the share citing it.
        "answered_article_accuracy": _ratio(
            sum(o.cited == o.expected["article"] for o in with_article), len(with_article)
        ),
        "escalation_reasons": dict(reasons.most_common(10)),
    }


def _retrieval_scores(observations: list[Observation]) -> dict[str, Any]:
    # A ticket that never reached retrieval (classified to an action or a person) ranks nothing: a miss.
    scored = [o for o in observations if o.expected.get("article")]
    ranks = []
    for o in scored:
        ranking = o.ranking or []
        ranks.append(
            ranking.index(o.expected["article"]) + 1 if o.expected["article"] in ranking else None
        )
    return {
        "hit_at_1": _ratio(sum(r == 1 for r in ranks), len(ranks)),
        "hit_at_3": _ratio(sum(r is not None and r <= 3 for r in ranks), len(ranks)),
        "mrr": _ratio(sum(1 / r for r in ranks if r), len(ranks)),
        "retrieved": sum(o.ranking is not None for o in scored),
    }


def _action_scores(observations: list[Observation]) -> dict[str, int]:
    expected = correct = wrong = unconfirmed = 0
    for o in observations:
        want = o.expected.get("action")
        expected += bool(want)
        matched = False
        for action in o.executed:
            unconfirmed += not action["confirmed"]
            if want and not matched and _action_matches(action, want):
                matched = True
            else:
                wrong += 1
        correct += matched
    return {
        "expected": expected,
        "correct": correct,
        "wrong": wrong,
        "unconfirmed_executions": unconfirmed,
    }


def _action_matches(action: dict[str, Any], want: dict[str, Any]) -> bool:
    if action["type"] != want.get("type"):
        return False
    if want.get("order") and action["order"] != want["order"]:
        return False
    if want.get("amount") is not None:
        return action["amount"] is not None and Decimal(str(action["amount"])) == _decimal(
            want["amount"], "expected amount"
        )
    return True


def _out_of_scope(observations: list[Observation]) -> dict[str, Any]:
    """How well routing sends unknown topics to a person, and spares the known ones.

    Counted at routing, not at the final outcome: a bundle without articles escalates every
    ticket later for missing knowledge, which would make any out-of-scope decision look perfect.
    """
    oos = [o for o in observations if o.expected.get("intent") in OOS_INTENTS]
    in_scope = [o for o in observations if o.expected.get("intent") not in OOS_INTENTS | {None, ""}]
    return {
        "recall": _ratio(sum(o.routed_to_person for o in oos), len(oos)),
        # In-scope tickets whose intent came out right: one rejected as out of scope is wrong.
        "in_scope_accuracy": _ratio(
            sum(o.intent == o.expected["intent"] for o in in_scope), len(in_scope)
        )
        if oos
        else None,
        "in_scope_routed_to_person": _ratio(
            sum(o.routed_to_person for o in in_scope), len(in_scope)
        )
        if oos
        else None,
        "support": len(oos),
    }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        # Linear interpolation between closest ranks (numpy's default).
        position = (len(ordered) - 1) * q
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2)

    return {"p50": pick(0.5), "p95": pick(0.95)}


# --- all of it ------------------------------------------------------------------------------
def bundle_evaluate(
    *,
    path: str | os.PathLike,
    llm: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Load, onboard, replay and score a bundle in a throwaway database; returns the report."""
    bundle = bundle_load(path=path)
    with isolated(llm=llm):
        train = bundle_onboard(bundle=bundle)
        observations = bundle_replay(bundle=bundle, progress=progress)
    return report_build(
        bundle=bundle, observations=observations, train=train, mode="llm" if llm else "offline"
    )


def report_summary(report: dict[str, Any]) -> str:
    """One line for a terminal."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    actions = report["actions"]
    e2e = report["latency_ms"]["end_to_end"]["p50"]
    oos = report["out_of_scope"]
    scope = (
        f" (in scope {pct(oos['in_scope_accuracy'])}, out-of-scope recall {pct(oos['recall'])})"
        if oos["support"]
        else ""
    )
    return (
        f"{report['bundle']} [{report['mode']}] {report['tickets']} tickets: "
        f"intent {pct(report['intent']['accuracy'])}{scope}, outcome {pct(report['outcome']['accuracy'])}, "
        f"answered {pct(report['outcome']['answered_rate'])}, escalated {pct(report['outcome']['escalated_rate'])}, "
        f"wrong answers {pct(report['outcome']['wrong_answer_rate'])}, hit@1 {pct(report['retrieval']['hit_at_1'])}, "
        f"actions {actions['correct']}/{actions['expected']} correct, {actions['wrong']} wrong, "
        f"{actions['unconfirmed_executions']} unconfirmed; end-to-end p50 "
        + ("n/a" if e2e is None else f"{e2e:.0f} ms")
    )
