"""The registry: one line per regulation. Each regulation is a folder here (its clauses, forms,
labels, people and clause list, see workflows/regulations/revisit/); everything the rest of
the system needs of it — the sandbox's pass-through list, the page labels, the workflow names,
business keys and case numbers, the demo users, the roles, the replay test's list — is read
from these entries."""

from __future__ import annotations

from workflows.labels import Labels, merge
from workflows.registry import Registry, RegulationEntry
from workflows.regulations import (
    data_sharing,
    key_custody,
    mall_complaint,
    reception,
    renovation,
    report,
    resident,
    revisit,
    satisfaction,
    service_request,
    shuttle_cart,
    vehicle,
)
from workflows.regulations.complaint import ENTRY as COMPLAINT
from workflows.roles import DemoPerson, RoleBook, book_of, demo_of

REGISTRY: dict[str, RegulationEntry] = {
    e.code: e
    for e in (
        revisit.ENTRY,
        COMPLAINT,
        report.ENTRY,
        service_request.ENTRY,
        mall_complaint.ENTRY,
        shuttle_cart.ENTRY,
        reception.ENTRY,
        vehicle.ENTRY,
        satisfaction.ENTRY,
        resident.ENTRY,
        renovation.ENTRY,
        data_sharing.ENTRY,
        key_custody.ENTRY,
    )
}


def registry_or_default(registry: Registry | None = None) -> Registry:
    """`registry`, or every regulation."""
    return REGISTRY if registry is None else registry


def roles_of(registry: Registry | None = None) -> RoleBook:
    """Every role of the regulations (with the system's own), and which stands above which."""
    return book_of(e.roles for e in registry_or_default(registry).values())


def labels_of(registry: Registry | None = None) -> Labels:
    """The regulations' words, merged (the engine's generic ones are workflows.engine.LABELS)."""
    return merge(*(e.labels for e in registry_or_default(registry).values()))


def demo_people(registry: Registry | None = None) -> tuple[DemoPerson, ...]:
    """Every demo person the regulations need, the administrator first."""
    return demo_of(e.demo for e in registry_or_default(registry).values())


ROLE_BOOK = roles_of()
