"""The console's two roles, as Django groups: Agents work tickets, Managers also run the knowledge base."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

AGENTS = "Agents"
MANAGERS = "Managers"

# Every model of these apps is visible to both roles, including models added later.
VIEW_APPS = ["tickets", "knowledge", "actions", "channels_intake", "learning"]

AGENT_EDITS = [
    ("tickets", "change_ticket"),
    ("tickets", "change_message"),
]
MANAGER_EDITS = [
    ("knowledge", "add_article"),
    ("knowledge", "change_article"),
    ("knowledge", "delete_article"),
    ("tickets", "add_intent"),
    ("tickets", "change_intent"),
    ("tickets", "add_trainingexample"),
    ("tickets", "change_trainingexample"),
    ("tickets", "delete_trainingexample"),
    ("tickets", "change_workspace"),
    ("tickets", "add_routingrule"),
    ("tickets", "change_routingrule"),
    ("tickets", "delete_routingrule"),
]


def groups_ensure() -> dict[str, Group]:
    """Create or correct the Agents and Managers groups; safe to run any number of times.

    The groups end up with exactly the permissions defined here. Needs migrations applied
    (Django creates the permission rows after migrate). Users still need `is_staff` to log in.
    """
    views = list(
        Permission.objects.filter(
            content_type__app_label__in=VIEW_APPS, codename__startswith="view_"
        )
    )
    agent_perms = views + _permissions(AGENT_EDITS)
    manager_perms = agent_perms + _permissions(MANAGER_EDITS)
    groups = {}
    for name, perms in ((AGENTS, agent_perms), (MANAGERS, manager_perms)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(perms)
        groups[name] = group
    return groups


def _permissions(pairs: list[tuple[str, str]]) -> list[Permission]:
    found = list(
        Permission.objects.filter(
            content_type__app_label__in={app for app, _ in pairs},
            codename__in={code for _, code in pairs},
        ).select_related("content_type")
    )
    wanted = set(pairs)
    chosen = [p for p in found if (p.content_type.app_label, p.codename) in wanted]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in chosen}
    if missing:
        raise LookupError(f"Permissions missing (migrations not applied?): {sorted(missing)}")
    return chosen
