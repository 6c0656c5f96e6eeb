"""Loading a year of the working-day calendar (an administrator's override file) and telling
the running cases whose deadlines in that year are provisional, so they recompute them. The
CLI (`zhidu calendar load`) and the admin page both go through `load_calendar`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from activities.errors import Forbidden
from store import queries

if TYPE_CHECKING:
    from temporalio.client import Client

    from store.db import SessionFactory
    from store.models import User


@dataclass(frozen=True)
class CalendarLoad:
    """What `load_calendar` did: the year and days loaded, the cases told, and the cases the
    signal did not reach (case id -> why)."""

    year: int
    days: int
    signalled: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


async def load_calendar(
    session_factory: SessionFactory,
    path: Path,
    user: User,
    connect: Callable[[], Awaitable[Client]],
) -> CalendarLoad:
    """Load the override file at `path` as `user` (an administrator), then signal
    `calendar_updated` to every case with a provisional open task. A bad file is a ValueError
    naming the cause and loads nothing; `connect` is called only when a case is to be told."""
    if "admin" not in (user.roles or []):
        raise Forbidden(f"{user.id} may not load the calendar: only 系统管理员 (admin) may")
    # Looked up at call time (the module is heavy, and tests replace it).
    from activities.workcalendar import calendar_data, load_year

    loaded = await load_year(session_factory, path, user.id)
    case_ids = await queries.provisional_case_ids(session_factory)
    if not case_ids:
        return CalendarLoad(loaded.year, loaded.days)
    from workflows.model import CalendarUpdatedInput

    update = CalendarUpdatedInput(
        years=[loaded.year], calendar=await calendar_data(session_factory, [loaded.year])
    )
    client = await connect()
    signalled: list[str] = []
    failed: dict[str, str] = {}
    for case_id in case_ids:
        try:
            await client.get_workflow_handle(case_id).signal("calendar_updated", update)
        except Exception as exc:  # one case gone must not stop the others
            failed[case_id] = str(exc) or type(exc).__name__
        else:
            signalled.append(case_id)
    return CalendarLoad(loaded.year, loaded.days, signalled, failed)
