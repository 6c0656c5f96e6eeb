"""The statutory working-day calendar: real 2026 schedule (chinese_calendar), provisional
guesses for 2027, and administrator override files (real PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.workcalendar import (
    LoadedYear,
    WorkCalendar,
    add_working_days,
    is_confirmed_year,
    is_working_day,
    load_year,
)
from store import models
from store.db import SessionFactory
from workflows import calendar as wcal
from workflows.model import CHINA_TZ, CalendarRequest, Deadline

# The async tests run on the session event loop of the session-scoped conftest fixtures
# (asyncio_default_test_loop_scope = "session" in pyproject.toml). No module-level
# `pytestmark = pytest.mark.asyncio(...)` here: it would also mark the sync tests, which
# pytest-asyncio warns about.


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


class Due:
    def __init__(self, due_at: datetime, provisional: bool) -> None:
        self.due_at, self.provisional = due_at, provisional


async def due(db: SessionFactory, start: datetime, n: int) -> Due:
    """N working days after `start` as a case computes it: on the calendar data the
    `zhidu.calendar` activity reads (this year and the next), counted in workflow code."""
    year = start.astimezone(CHINA_TZ).year
    data = await ActivityEnvironment().run(
        WorkCalendar(db).calendar, CalendarRequest(years=[year, year + 1])
    )
    return Due(*wcal.due_after(data, start, Deadline(working_days=n)))


def write(tmp_path: Path, content: Any, name: str = "cal.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def test_2026_schedule_from_the_library() -> None:
    assert is_confirmed_year(2026) and not is_confirmed_year(2027)
    # 调休 makeup working days of 2026 (Saturdays and a Sunday) count as working days.
    for makeup in (
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ):
        assert is_working_day(date.fromisoformat(makeup)), makeup
    # Spring Festival 2026: Feb 15-23 off, including the weekdays.
    assert not any(is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert is_working_day(date(2026, 2, 24))
    assert not is_working_day(date(2026, 10, 5))  # 国庆 Monday
    assert not is_working_day(date(2026, 3, 7))  # ordinary Saturday
    assert add_working_days(date(2026, 2, 13), 1) == (date(2026, 2, 14), [])
    assert add_working_days(date(2026, 2, 14), 1) == (date(2026, 2, 24), [])


async def test_three_working_days_across_national_day_2026(clean_db: SessionFactory) -> None:
    # Wed 30 Sep + 3: Oct 1-7 off, then Thu 8, Fri 9 and the makeup Saturday 10 Oct.
    result = await due(clean_db, cst(2026, 9, 30, 9, 30), 3)
    assert result.due_at == cst(2026, 10, 10, 9, 30)
    assert result.due_at.utcoffset() is not None
    assert not result.provisional


async def test_china_date_decides_not_utc(clean_db: SessionFactory) -> None:
    # 17:00 UTC on Fri 13 Feb is 01:00 on Sat 14 Feb (a makeup working day) in China.
    result = await due(clean_db, datetime(2026, 2, 13, 17, 0, tzinfo=UTC), 1)
    assert result.due_at == cst(2026, 2, 24, 1, 0)
    sunday = await due(clean_db, cst(2026, 9, 18, 18, 0), 1)  # Fri → makeup Sunday 20 Sep
    assert sunday.due_at == cst(2026, 9, 20, 18, 0)


async def test_zero_working_days_is_the_start(clean_db: SessionFactory) -> None:
    start = cst(2026, 10, 3, 12, 0)
    result = await due(clean_db, start, 0)
    assert result.due_at == start and not result.provisional


async def test_unconfirmed_year_is_provisional(clean_db: SessionFactory) -> None:
    result = await due(clean_db, cst(2026, 12, 30, 10, 0), 3)
    # Guess: Thu 31 Dec, (1 Jan 元旦), Mon 4 Jan, Tue 5 Jan.
    assert result.due_at == cst(2027, 1, 5, 10, 0)
    assert result.provisional
    within = await due(clean_db, cst(2027, 3, 1, 10, 0), 1)
    assert within.provisional
    # 2026-only span stays confirmed.
    assert not (await due(clean_db, cst(2026, 12, 28, 10, 0), 2)).provisional


async def test_loaded_override_confirms_the_year(clean_db: SessionFactory, tmp_path: Path) -> None:
    before = await due(clean_db, cst(2027, 2, 5, 9, 0), 1)
    # Guess for 2027 keeps 5-8 Feb (除夕 .. 初三) off.
    assert before.due_at == cst(2027, 2, 9, 9, 0) and before.provisional

    path = write(
        tmp_path,
        {
            "year": 2027,
            "holidays": [
                {"date": "2027-01-01", "name": "元旦"},
                {"date": "2027-01-04", "name": "测试假日"},
                {"date": "2027-01-05", "name": "测试假日"},
            ],
            "workdays": [{"date": "2027-01-02", "name": "测试调休"}],
        },
    )
    assert await load_year(clean_db, path, "admin") == LoadedYear(year=2027, days=4)

    result = await due(clean_db, cst(2026, 12, 30, 10, 0), 3)
    # Thu 31 Dec, the makeup Saturday 2 Jan, then 4-5 Jan off → Wed 6 Jan.
    assert result.due_at == cst(2027, 1, 6, 10, 0)
    assert not result.provisional
    # Days the file does not state follow the weekday rule (Mon 8 Feb is now a working day).
    after = await due(clean_db, cst(2027, 2, 5, 9, 0), 1)
    assert after.due_at == cst(2027, 2, 8, 9, 0) and not after.provisional

    async with clean_db() as s:
        year = await s.get(models.CalendarYear, 2027)
    assert year is not None and year.loaded_by == "admin" and year.source.endswith("cal.json")

    # Loading the year again replaces all its days: only 6 Jan is off now (not even 1 Jan).
    write(tmp_path, {"year": 2027, "holidays": [{"date": "2027-01-06", "name": "x"}]})
    assert await load_year(clean_db, path, "admin2") == LoadedYear(year=2027, days=1)
    result = await due(clean_db, cst(2026, 12, 30, 10, 0), 3)
    assert result.due_at == cst(2027, 1, 4, 10, 0) and not result.provisional


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"holidays": []}, "year"),
        (
            {"year": 2027, "holidays": [{"date": "2028-01-01", "name": "元旦"}]},
            "2028-01-01 (元旦) is not in 2027",
        ),
        (
            {
                "year": 2027,
                "holidays": [{"date": "2027-10-01", "name": "国庆"}],
                "workdays": [{"date": "2027-10-01", "name": "调休"}],
            },
            "listed twice",
        ),
        ({"year": 2027, "holidays": [{"date": "2027-02-30", "name": "x"}]}, "holidays.0.date"),
        ({"year": 2027}, "no holidays and no workdays"),
    ],
)
async def test_bad_override_file_loads_nothing(
    clean_db: SessionFactory, tmp_path: Path, content: Any, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await load_year(clean_db, path, "admin")
    async with clean_db() as s:
        assert (await s.execute(select(func.count()).select_from(models.CalendarDay))).scalar() == 0
        assert (
            await s.execute(select(func.count()).select_from(models.CalendarYear))
        ).scalar() == 0
