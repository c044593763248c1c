"""The demo store behind `manage.py seed_demo`: Northwind Goods, its customers, orders and staff.

Everything is generated from `random.Random(42)`, so every machine gets the same customers and
the same orders, and rows are only created when missing: seeding twice changes nothing more,
and an order a visitor cancelled in the demo stays cancelled.

It lives in tickets because the store's customers and orders are the shared schema; it is the
one place that reaches into every app, and only `seed_demo` and tests import it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from rest_framework.authtoken.models import Token

from knowledge import index
from knowledge.models import Article, Passage
from knowledge.services import article_save, reindex_all
from tickets.models import Customer, Order, TriageModel, Workspace
from tickets.permissions import AGENTS, MANAGERS, groups_ensure
from tickets.services_triage import intents_ensure_defaults, triage_train
from tickets.webhooks import webhooks_schedule_ensure

log = logging.getLogger(__name__)

ARTICLES_FILE = Path(settings.BASE_DIR) / "knowledge" / "data" / "demo_articles.jsonl"
SWEEP_SCHEDULE = "frontline-sweep"
ORDER_FIRST, ORDER_COUNT = 1001, 200
DEMO_EMAIL, DEMO_NAME = "maya@example.com", "Maya Lopez"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    group: str = ""
    superuser: bool = False


DEMO_USERS = [
    DemoUser("admin", "admin-demo", "superuser", superuser=True),
    DemoUser("agent", "agent-demo", f"staff, group {AGENTS}", group=AGENTS),
    DemoUser("manager", "manager-demo", f"staff, group {MANAGERS}", group=MANAGERS),
]

CATALOGUE = [
    ("TOW-03", "Bath towel set", "34.99"),
    ("MUG-12", "Stoneware mug set (4)", "28.00"),
    ("DUV-21", "Linen duvet cover, queen", "119.00"),
    ("THR-07", "Wool throw blanket", "89.00"),
    ("CAN-02", "Soy candle, cedar", "18.50"),
    ("SKL-10", "Cast-iron skillet 10in", "42.00"),
    ("TEE-30", "Organic cotton tee", "24.00"),
    ("SWE-44", "Merino crew sweater", "79.00"),
    ("SCK-05", "Everyday socks (3-pack)", "16.00"),
    ("TOT-01", "Canvas tote bag", "22.00"),
    ("JKT-16", "Waxed cotton jacket", "149.00"),
    ("PIL-08", "Feather pillow", "39.00"),
]
FIRST_NAMES = [
    "Liam", "Olivia", "Noah", "Emma", "James", "Nora", "Lucas", "Sophia", "Mateo", "Isabella",
    "Ethan", "Mia", "Aiden", "Harper", "Elijah", "Amelia", "Daniel", "Chloe", "Henry", "Grace",
    "Omar", "Priya", "Kenji", "Fatima", "Diego", "Hannah", "Samuel", "Zoe", "Arjun", "Leah",
]
LAST_NAMES = [
    "Smith", "Johnson", "Nguyen", "Garcia", "Brown", "Patel", "Kim", "Martinez", "Davis", "Chen",
    "Wilson", "Okafor", "Anderson", "Rossi", "Thomas", "Silva", "Moore", "Haddad", "Clark", "Novak",
]
STREETS = ["Alder St", "Maple Ave", "Cedar Ln", "Harbor Rd", "Elm St", "Park Blvd", "Birch Way", "Lake Dr"]
CITIES = [
    ("Portland", "OR", "97205"), ("Austin", "TX", "78701"), ("Denver", "CO", "80202"),
    ("Chicago", "IL", "60607"), ("Boston", "MA", "02116"), ("Seattle", "WA", "98101"),
    ("Atlanta", "GA", "30303"), ("Madison", "WI", "53703"),
]
PAYMENT_METHODS = (["visa", "mastercard", "amex", "paypal"], [45, 30, 10, 15])
PLANS = (["basic", "plus", "pro"], [55, 30, 15])
# Weighted towards what a real shop has most of; every status occurs in the 200 orders.
STATUSES = (
    ["pending", "paid", "shipped", "delivered", "cancelled", "refunded", "returned"],
    [8, 15, 15, 37, 10, 7, 8],
)
# How long ago an order in each status was placed, in days (min, max).
PLACED_DAYS_AGO = {
    "pending": (0, 1), "paid": (0, 3), "shipped": (2, 8), "delivered": (6, 120),
    "cancelled": (1, 60), "refunded": (10, 120), "returned": (15, 120),
}


def demo_seed() -> list[tuple[str, str]]:
    """Bring the database up to the demo store, creating only what is missing.

    Returns what each part looks like now, as (part, summary) pairs for the command to print.
    """
    workspace = Workspace.current()
    return [
        ("workspace", f"{workspace.brand_name} (assistant {workspace.assistant_name})"),
        ("triage model", _triage_ensure()),
        ("articles", _articles_ensure()),
        ("search index", _index_ensure()),
        ("customers", _customers_ensure()),
        ("orders", _orders_ensure()),
        ("staff", _users_ensure()),
        ("sweep schedule", _sweep_schedule_ensure()),
    ]


def _triage_ensure() -> str:
    intents_ensure_defaults()
    model = TriageModel.objects.filter(active=True).order_by("-version").first()
    if model is not None:
        return f"v{model.version} active ({model.examples} examples)"
    model = triage_train()
    return f"v{model.version} trained on {model.examples} examples in {model.train_seconds:.1f}s"


def _articles_ensure() -> str:
    rows = [json.loads(line) for line in ARTICLES_FILE.read_text().splitlines() if line.strip()]
    existing = {a.slug: a for a in Article.objects.filter(slug__in=[r["slug"] for r in rows])}
    saved = 0
    for row in rows:
        fields = {
            "title": row["title"], "body": row["body"], "category": row.get("category", ""),
            "intents": row.get("intents", []), "status": Article.Status.PUBLISHED,
        }
        current = existing.get(row["slug"])
        # Saving re-splits passages and queues a re-index: skip articles that are unchanged.
        if current is None or any(getattr(current, name) != value for name, value in fields.items()):
            article_save(slug=row["slug"], **fields)
            saved += 1
    return f"{len(rows)} published ({saved} saved now)"


def _index_ensure() -> str:
    published = Article.objects.filter(status=Article.Status.PUBLISHED)
    # Every published passage has entries (several views each: knowledge.index.upsert_article).
    expected = set(Passage.objects.filter(article__in=published).values_list("pk", flat=True))
    try:
        if index.indexed_passages() == expected:
            return f"index up to date ({len(expected)} passages at {settings.CHROMA_URL})"
        return f"indexed {reindex_all()} entries at {settings.CHROMA_URL}"
    except (ValueError, httpx.HTTPError) as exc:  # chromadb says "could not connect" as ValueError
        index.reset_state()
        log.warning("Chroma is not reachable at %s (%s): articles are not indexed", settings.CHROMA_URL, exc)
        return (
            f"NOT INDEXED: Chroma is not reachable at {settings.CHROMA_URL}; "
            "run `manage.py reindex` once it is up"
        )


def _customer_rows(rng: random.Random) -> list[dict]:
    names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    rows = [
        {
            "email": DEMO_EMAIL, "name": DEMO_NAME, "phone": "+15550001111", "vip": False, "plan": "plus",
            "address": "412 Alder St\nPortland, OR 97205", "payment": ("visa", "4821"),
        }
    ]
    vips = set(rng.sample(range(1, 50), 4))
    for i, (first, last) in enumerate(names[:49], start=1):
        city, state, zip_code = rng.choice(CITIES)
        rows.append(
            {
                "email": f"{first}.{last}@example.com".lower(),
                "name": f"{first} {last}",
                "phone": f"+1555{rng.randrange(10**7):07d}",
                "vip": i in vips,
                "plan": rng.choices(*PLANS)[0],
                "address": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}\n{city}, {state} {zip_code}",
                "payment": (rng.choices(*PAYMENT_METHODS)[0], f"{rng.randrange(10**4):04d}"),
            }
        )
    return rows


def _customers_ensure() -> str:
    rows = _customer_rows(random.Random(42))
    known = set(Customer.objects.filter(email__in=[r["email"] for r in rows]).values_list("email", flat=True))
    Customer.objects.bulk_create(
        Customer(email=r["email"], name=r["name"], phone=r["phone"], vip=r["vip"], plan=r["plan"])
        for r in rows
        if r["email"] not in known
    )
    vips = Customer.objects.filter(email__in=[r["email"] for r in rows], vip=True).count()
    return f"{len(rows)} ({len(rows) - len(known)} created now, {vips} VIP)"


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(16))
    if carrier == "USPS":
        return "9400" + "".join(rng.choice("0123456789") for _ in range(18))
    return "".join(rng.choice("0123456789") for _ in range(12 if carrier == "FedEx" else 10))


def _order_row(rng: random.Random, now: dt.datetime, number: int, customer: dict, status: str, days: tuple) -> dict:
    """One order; `days` is how long ago it was placed (min, max), in days."""
    items = []
    for sku, name, price in rng.sample(CATALOGUE, rng.choices([1, 2, 3], [60, 30, 10])[0]):
        items.append({"sku": sku, "name": name, "qty": rng.choices([1, 2], [85, 15])[0], "unit_price": price})
    placed = now - dt.timedelta(days=rng.randint(*days), hours=rng.randint(1, 20), minutes=rng.randint(0, 59))
    row = {
        "number": f"N-{number}",
        "customer_email": customer["email"],
        "status": status,
        "items": items,
        "total": sum((Decimal(i["unit_price"]) * i["qty"] for i in items), Decimal("0")),
        "payment_method": customer["payment"][0],
        "payment_last4": customer["payment"][1],
        "shipping_address": customer["address"],
        "placed_at": placed,
    }
    if status in ("shipped", "delivered", "refunded", "returned"):
        carrier = rng.choice(["UPS", "FedEx", "USPS", "DHL"])
        row.update(carrier=carrier, tracking_number=_tracking(rng, carrier), shipped_at=placed + dt.timedelta(days=1))
        if status != "shipped":
            row["delivered_at"] = row["shipped_at"] + dt.timedelta(days=rng.randint(1, 4))
    return row


def _order_rows(now: dt.datetime) -> list[dict]:
    rng = random.Random(42)
    customers = _customer_rows(rng)
    maya = customers[0]
    # Maya's orders are the demo script: a shipped one to ask about, two to cancel (the demo
    # still works after one cancellation), a recent delivered one to ask for a refund on.
    fixed = {
        1042: ("shipped", (2, 3)), 1043: ("paid", (1, 1)), 1044: ("delivered", (8, 10)), 1045: ("pending", (0, 0)),
    }
    rows = []
    for number in range(ORDER_FIRST, ORDER_FIRST + ORDER_COUNT):
        if number in fixed:
            status, days = fixed[number]
            rows.append(_order_row(rng, now, number, maya, status, days))
        else:
            status = rng.choices(*STATUSES)[0]
            rows.append(_order_row(rng, now, number, rng.choice(customers[1:]), status, PLACED_DAYS_AGO[status]))
    return rows


def _orders_ensure() -> str:
    rows = _order_rows(timezone.now())
    known = set(Order.objects.filter(number__in=[r["number"] for r in rows]).values_list("number", flat=True))
    customers = dict(Customer.objects.filter(email__in={r["customer_email"] for r in rows}).values_list("email", "id"))
    Order.objects.bulk_create(
        Order(customer_id=customers[r["customer_email"]], **{k: v for k, v in r.items() if k != "customer_email"})
        for r in rows
        if r["number"] not in known
    )
    counts = Counter(Order.objects.filter(number__in=[r["number"] for r in rows]).values_list("status", flat=True))
    detail = ", ".join(f"{status} {counts[status]}" for status in STATUSES[0])
    return f"{len(rows)} ({len(rows) - len(known)} created now): {detail}"


@transaction.atomic
def _users_ensure() -> str:
    groups = groups_ensure()
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = User.objects.create_user(
                spec.username, f"{spec.username}@northwind.example", spec.password,
                is_staff=True, is_superuser=spec.superuser,
            )
        if spec.group:
            user.groups.add(groups[spec.group])
    Token.objects.get_or_create(user=User.objects.get(username="admin"))
    return ", ".join(spec.username for spec in DEMO_USERS)


def _sweep_schedule_ensure() -> str:
    from tickets.services_triage import schedules_ensure

    Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={"func": "tickets.tasks.sweep", "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
    )
    schedules_ensure()
    webhooks_schedule_ensure()
    return "tickets.tasks.sweep every minute, triage retrain weekly, webhook retries every minute"


def demo_guide() -> list[str]:
    """What a newcomer needs to try the demo: URLs, logins, the API token, things to ask."""
    site = settings.SITE_URL.rstrip("/")
    lines = [
        f"  Chat page       {site}/",
        f"  Admin           {site}/admin/",
        f"  API docs        {site}/api/docs/",
        "",
        "Demo logins:",
    ]
    users = {u.username: u for u in User.objects.filter(username__in=[s.username for s in DEMO_USERS])}
    for spec in DEMO_USERS:
        user = users.get(spec.username)
        password = spec.password if user and user.check_password(spec.password) else "(changed since seeding)"
        lines.append(f"  {spec.username:<9} password {password:<24} {spec.role}")
    token = Token.objects.filter(user__username="admin").values_list("key", flat=True).first()
    lines += ["", f"API token (admin): {token}", f"  curl -H 'Authorization: Token {token}' {site}/api/v1/tickets/"]

    lines += ["", f"Try it as {DEMO_NAME} <{DEMO_EMAIL}> on the chat page:"]
    tries = []
    orders = Order.objects.filter(customer__email=DEMO_EMAIL)
    tracked = orders.filter(number="N-1042").first()
    if tracked is not None:
        tries.append(("where is my order N-1042?", f"{tracked.status}, {tracked.carrier} {tracked.tracking_number}"))
    cancellable = orders.filter(status__in=Workspace.current().cancel_states).order_by("number").first()
    if cancellable is not None:
        tries.append(
            (f"please cancel my order {cancellable.number}", f"{cancellable.status}, ${cancellable.total}; the AI asks you to confirm first")
        )
    tries += [
        ("how long does shipping take?", "answered from a help article, which it cites"),
        ("I want to talk to a lawyer", "escalated: log in as agent to reply from the admin"),
    ]
    for question, why in tries:
        quoted = f'"{question}"'
        lines.append(f"  {quoted:<34}({why})")
    return lines
