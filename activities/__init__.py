"""zhidu activities: everything that touches the world (database writes, signatures, the
working-day calendar, notifications, messages between cases, reports). Each activity is
idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from temporalio.client import Client

    from settings import Settings
    from store.db import SessionFactory
    from workflows.registry import RegulationEntry


def build_activities(
    session_factory: SessionFactory,
    settings: Settings,
    client: Client | None = None,
    registry: Mapping[str, RegulationEntry] | None = None,
) -> list[Any]:
    """The bound activity methods the Worker registers (messages between cases need the
    worker's Temporal `client`; `registry` is the one cases are started from, default all)."""
    # Imported here so importing the package (e.g. from workflow code) stays light.
    from activities.notify import parse_channels
    from activities.reports import Reports
    from activities.signing import Sealer
    from activities.store_step import CaseStore
    from activities.workcalendar import WorkCalendar

    sealer = Sealer.load_or_create(settings.signing_key_file)
    store = CaseStore(
        session_factory,
        sealer,
        channels=parse_channels(settings.notify_channels),
        registry=registry,
    )
    activities: list[Any] = [
        store.record_step,
        WorkCalendar(session_factory).calendar,
        Reports(session_factory).report,
    ]
    if client is not None:
        from activities.messaging import CaseMessenger

        activities.append(CaseMessenger(client, session_factory, settings, registry).send)
    return activities
