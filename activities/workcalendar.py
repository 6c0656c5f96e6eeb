"""China's statutory working-day calendar and the activity that turns "N working days" into a
due time.

Which source decides whether a day is a working day, in order:
1. a row in `calendar_days` (an administrator's override file for that year);
2. for any other day of a year in `calendar_years` (override loaded): Monday to Friday;
3. for years the `chinese_calendar` package covers (it ships the State Council schedules, up to
   2026 in 1.11): that package, including 调休 makeup working days on weekends;
4. otherwise (year not yet published) a guess: Monday to Friday minus the statutory holiday days
   themselves — the fixed ones (元旦 1-1, 劳动节 5-1/5-2, 国庆 10-1..3) plus the lunar-based ones
   (除夕, 春节, 清明, 端午, 中秋) as `holidays.China` computes them without "observed" days.
   The bridging days and makeup weekends of such a year cannot be known before the State Council
   publishes them, so every day counted in such a year makes the result provisional.

The workflows do not call this module for each deadline: a case carries the years it needs
as data (`calendar_data`, one character per day), given by the starter or read once by the
`zhidu.calendar` activity, and counts working days itself (workflows.calendar).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import holidays as holidays_lib
from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from store import models
from store.db import SessionFactory
from workflows.model import CHINA_TZ, CalendarData, CalendarRequest, YearDays

# Fixed-date statutory holidays (全国年节及纪念日放假办法, as revised for 2025 onwards).
FIXED_HOLIDAYS: tuple[tuple[int, int], ...] = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))


@lru_cache(maxsize=1)
def library_years() -> frozenset[int]:
    """Years whose official schedule the installed chinese_calendar ships (read from its data)."""
    return frozenset(d.year for d in chinese_calendar.holidays) | frozenset(
        d.year for d in chinese_calendar.workdays
    )


@lru_cache(maxsize=64)
def guessed_holidays(year: int) -> frozenset[date]:
    """Statutory holiday days of a year without a published schedule (see module doc)."""
    days = {date(year, m, d) for m, d in FIXED_HOLIDAYS}
    days |= set(holidays_lib.China(years=year, observed=False).keys())
    return frozenset(days)


@dataclass(frozen=True)
class Overrides:
    """What the database says: loaded years and the days their override files state."""

    days: Mapping[date, bool] = field(default_factory=dict)
    years: frozenset[int] = frozenset()


NO_OVERRIDES = Overrides()


def is_confirmed_year(year: int, overrides: Overrides = NO_OVERRIDES) -> bool:
    return year in overrides.years or year in library_years()


def is_working_day(day: date, overrides: Overrides | Mapping[date, bool] = NO_OVERRIDES) -> bool:
    """Whether `day` is a working day in mainland China (see the module doc for the sources)."""
    if not isinstance(overrides, Overrides):
        overrides = Overrides(days=dict(overrides))
    stated = overrides.days.get(day)
    if stated is not None:
        return stated
    if day.year in overrides.years:
        return day.weekday() < 5
    if day.year in library_years():
        if day in chinese_calendar.workdays:  # 调休 makeup working day on a weekend
            return True
        return day.weekday() < 5 and day not in chinese_calendar.holidays
    return day.weekday() < 5 and day not in guessed_holidays(day.year)


def add_working_days(
    start: date, n: int, overrides: Overrides = NO_OVERRIDES
) -> tuple[date, list[int]]:
    """The n-th working day after `start` and the unconfirmed years of the days counted."""
    if n < 0:
        raise ValueError("working days must not be negative")
    day = start
    unconfirmed: set[int] = set()
    remaining = n
    while remaining:
        day += timedelta(days=1)
        if not is_confirmed_year(day.year, overrides):
            unconfirmed.add(day.year)
        if is_working_day(day, overrides):
            remaining -= 1
    return day, sorted(unconfirmed)


def year_days(year: int, overrides: Overrides = NO_OVERRIDES) -> YearDays:
    """The year as the workflows carry it: one 'W'/'H' per day, and whether it is confirmed."""
    first, days = date(year, 1, 1), []
    day = first
    while day.year == year:
        days.append("W" if is_working_day(day, overrides) else "H")
        day += timedelta(days=1)
    return YearDays(days="".join(days), confirmed=is_confirmed_year(year, overrides))


async def load_overrides(session_factory: SessionFactory, from_year: int) -> Overrides:
    """Loaded years, and the override days from `from_year` on (a few dozen rows a year)."""
    async with session_factory() as s:
        years = frozenset((await s.execute(select(models.CalendarYear.year))).scalars())
        rows = await s.execute(
            select(models.CalendarDay.day, models.CalendarDay.is_workday).where(
                models.CalendarDay.year >= from_year
            )
        )
        days = {d: w for d, w in rows.all()}
    return Overrides(days=days, years=years)


async def calendar_data(session_factory: SessionFactory, years: list[int]) -> CalendarData:
    """The working-day calendar of `years` as data for the workflows (see workflows.calendar)."""
    if not years:
        return CalendarData()
    overrides = await load_overrides(session_factory, min(years))
    return CalendarData(years={y: year_days(y, overrides) for y in sorted(set(years))})


def current_years(now: datetime | None = None) -> list[int]:
    """This year and the next in China: what a new case carries."""
    year = (now or datetime.now(UTC)).astimezone(CHINA_TZ).year
    return [year, year + 1]


class WorkCalendar:
    """Activities of the working-day calendar."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sf = session_factory

    @activity.defn(name="zhidu.calendar")
    async def calendar(self, req: CalendarRequest) -> CalendarData:
        return await calendar_data(self._sf, req.years)


# ---- override files ---------------------------------------------------------------------


class CalendarEntry(BaseModel):
    date: date
    name: str = Field(min_length=1, max_length=100)


class CalendarFile(BaseModel):
    """An override file: a year's statutory holidays and its 调休 makeup working days."""

    year: int = Field(ge=2000, le=2100)
    holidays: list[CalendarEntry] = Field(default_factory=list)
    workdays: list[CalendarEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> CalendarFile:
        problems: list[str] = []
        seen: dict[date, str] = {}
        for kind, entries in (("holidays", self.holidays), ("workdays", self.workdays)):
            for e in entries:
                if e.date.year != self.year:
                    problems.append(f"{kind}: {e.date} ({e.name}) is not in {self.year}")
                if e.date in seen:
                    problems.append(f"{kind}: {e.date} is listed twice (also in {seen[e.date]})")
                seen[e.date] = kind
        if not self.holidays and not self.workdays:
            problems.append("the file lists no holidays and no workdays")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def read_calendar_file(path: Path) -> CalendarFile:
    """Parse and validate an override file; every problem is a ValueError naming the cause."""
    return parse_calendar(Path(path).read_text(encoding="utf-8"))


def parse_calendar(text: str) -> CalendarFile:
    """An override file's content, parsed and validated (ValueError naming the cause)."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from exc
    try:
        return CalendarFile.model_validate(raw)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {msg}" if where else msg)
        raise ValueError("invalid calendar file: " + "; ".join(parts)) from None


@dataclass(frozen=True)
class LoadedYear:
    """What `load_year` loaded: the calendar year the file states and its number of days."""

    year: int
    days: int


async def load_year(session_factory: SessionFactory, path: Path, loaded_by: str) -> LoadedYear:
    """Replace one year's override days from `path`; return the year and the days loaded.

    Validation happens before any write, and the replacement is one transaction: a bad file
    loads nothing and leaves the previous override in place."""
    cal = read_calendar_file(path)
    rows = [
        {"day": e.date, "year": cal.year, "is_workday": False, "name": e.name} for e in cal.holidays
    ] + [
        {"day": e.date, "year": cal.year, "is_workday": True, "name": e.name} for e in cal.workdays
    ]
    async with session_factory() as s, s.begin():
        await s.execute(delete(models.CalendarDay).where(models.CalendarDay.year == cal.year))
        await s.execute(insert(models.CalendarDay).values(rows))
        stmt = insert(models.CalendarYear).values(
            year=cal.year, source=str(path)[-300:], loaded_by=loaded_by
        )
        await s.execute(
            stmt.on_conflict_do_update(
                index_elements=["year"],
                set_={
                    "source": stmt.excluded.source,
                    "loaded_by": stmt.excluded.loaded_by,
                    "loaded_at": func.now(),
                },
            )
        )
    return LoadedYear(year=cal.year, days=len(rows))
