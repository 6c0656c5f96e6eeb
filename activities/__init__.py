"""zhidu activities: everything that touches the world (database writes, signatures, the
working-day calendar, notifications). Each activity is idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from settings import Settings
    from store.db import SessionFactory


def build_activities(session_factory: SessionFactory, settings: Settings) -> list[Any]:
    """The bound activity methods the Worker registers."""
    # Imported here so importing the package (e.g. from workflow code) stays light.
    from activities.notify import parse_channels
    from activities.signing import Sealer
    from activities.store_step import CaseStore
    from activities.workcalendar import WorkCalendar

    sealer = Sealer.load_or_create(settings.signing_key_file)
    store = CaseStore(session_factory, sealer, channels=parse_channels(settings.notify_channels))
    calendar = WorkCalendar(session_factory)
    return [store.record_step, calendar.compute_due]
