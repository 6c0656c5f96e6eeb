"""What a new case is made of, for every start: from the pages, the API and the CLI
(starter/cases.py, after checking who starts it and the people it names) and from another case
(a message that starts its target, activities/messaging.py). The regulation and its input, the
policy in force, the case number, the working-day calendar and the search attributes; `launch`
(starter) or the messenger then sends the plan to Temporal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

from activities.errors import Invalid, NotFound, ServiceError, invalid_from
from activities.policy import load_policy
from activities.workcalendar import calendar_data, current_years
from store.models import CalendarYear, CaseNumber
from workflows.model import CHINA_TZ, CalendarData, CaseStart
from workflows.registry import Registry, RegulationEntry
from workflows.regulations import registry_or_default
from workflows.search import CASE_STATUS, CUSTOMER_ID, REGULATION

if TYPE_CHECKING:
    from settings import Settings
    from store.db import SessionFactory


def get_entry(code: str, registry: Registry | None = None) -> RegulationEntry:
    entries = registry_or_default(registry)
    entry = entries.get(code)
    if entry is None:
        known = ", ".join(sorted(entries)) or "none"
        raise NotFound(f"unknown regulation {code!r} (known: {known})", "code")
    return entry


@dataclass(frozen=True)
class StartPlan:
    """A checked start: everything `launch` sends to Temporal."""

    entry: RegulationEntry
    case_id: str
    title: str
    arg: CaseStart
    search_attributes: TypedSearchAttributes


_CALENDAR_CACHE: dict[tuple[Any, ...], CalendarData] = {}


async def case_calendar(
    session_factory: SessionFactory | None, now: datetime | None = None
) -> CalendarData | None:
    """This year's and next year's working-day calendar for a new case (cached until an
    administrator loads a year); None without a database (the case reads it itself)."""
    if session_factory is None:
        return None
    years = current_years(now)
    async with session_factory() as session:
        stamp = (
            await session.execute(select(func.count(), func.max(CalendarYear.loaded_at)))
        ).one()
    key = (*years, *stamp)
    data = _CALENDAR_CACHE.get(key)
    if data is None:
        data = await calendar_data(session_factory, years)
        _CALENDAR_CACHE.clear()
        _CALENDAR_CACHE[key] = data
    return data


async def allocate_number(
    session_factory: SessionFactory, code: str, now: datetime | None = None
) -> str:
    """The next case number of `code` this year (China time): `<code>-2026-000123`. Taken in
    its own transaction before the start, so a number is never given out twice."""
    year = (now or datetime.now(UTC)).astimezone(CHINA_TZ).year
    insert_row = insert(CaseNumber).values(regulation=code, year=year, last=1)
    stmt = insert_row.on_conflict_do_update(
        index_elements=["regulation", "year"], set_={"last": CaseNumber.last + 1}
    ).returning(CaseNumber.last)
    async with session_factory() as session, session.begin():
        n = (await session.execute(stmt)).scalar_one()
    return f"{code}-{year}-{n:06d}"


def validated_input(entry: RegulationEntry, raw_input: Any) -> BaseModel:
    if not isinstance(raw_input, Mapping):
        raise Invalid("the case input must be a JSON object", "body")
    try:
        return entry.input_model.model_validate(dict(raw_input))
    except ValidationError as exc:
        raise invalid_from(exc) from exc


async def plan_case(
    settings: Settings,
    session_factory: SessionFactory | None,
    entry: RegulationEntry,
    inp: BaseModel,
    started_by: str,
    case_id: str | None,
) -> StartPlan:
    policy = load_policy(entry, settings)
    number = None
    if case_id is None:
        if entry.workflow_id is not None:
            case_id = entry.workflow_id(inp)  # None: this input's case takes a number
        if case_id is None:
            if session_factory is None:
                raise ServiceError(503, "case numbers are allocated by the database")
            number = case_id = await allocate_number(session_factory, entry.code)
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(REGULATION, entry.code),
        SearchAttributePair(CASE_STATUS, "open"),
    ]
    customer = entry.customer_id(inp)
    if customer:
        pairs.append(SearchAttributePair(CUSTOMER_ID, customer))
    return StartPlan(
        entry=entry,
        case_id=case_id,
        title=entry.case_title(inp),
        arg=CaseStart(
            input=inp.model_dump(mode="json"),
            policy=policy.model_dump(mode="json"),
            started_by=started_by,
            calendar=await case_calendar(session_factory),
            number=number,
        ),
        search_attributes=TypedSearchAttributes(pairs),
    )


async def plan_system_start(
    settings: Settings,
    session_factory: SessionFactory,
    code: str,
    raw_input: Mapping[str, Any],
    case_id: str,
    *,
    registry: Registry | None = None,
) -> StartPlan:
    """A start asked for by another case (a message that starts its target)."""
    entry = get_entry(code, registry)
    try:
        inp = validated_input(entry, raw_input)
    except ServiceError as exc:
        raise ApplicationError(str(exc), type="Invalid", non_retryable=True) from exc
    return await plan_case(settings, session_factory, entry, inp, "system", case_id)
