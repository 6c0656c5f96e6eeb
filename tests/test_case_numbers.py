"""Case numbers for regulations whose business key is not in the input: allocated from
PostgreSQL before the start (`<code>-<year>-<000123>`), in order, never given out twice."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from activities.starts import allocate_number
from starter import users
from starter.cases import plan_start
from workflows.model import CHINA_TZ
from workflows.regulations.report import ENTRY as REPORT


async def test_numbers_are_sequential_and_unique_under_concurrency(clean_db) -> None:
    year = datetime.now(UTC).astimezone(CHINA_TZ).year
    numbers = await asyncio.gather(*(allocate_number(clean_db, "complaint") for _ in range(25)))
    assert sorted(numbers) == [f"complaint-{year}-{n:06d}" for n in range(1, 26)]
    assert await allocate_number(clean_db, "other") == f"other-{year}-000001"
    # A new year starts again at 1.
    assert await allocate_number(clean_db, "complaint", datetime(2031, 3, 1, tzinfo=UTC)) == (
        "complaint-2031-000001"
    )


async def test_a_numbered_start_takes_the_next_number(clean_db, settings_factory) -> None:
    admin = await users.create_user(clean_db, "root", "管理员", "root-pass-12", ["admin"])
    settings = settings_factory()
    inp = {"title": "月度统计", "period": "month"}
    first = await plan_start(settings, "report", inp, admin, session_factory=clean_db)
    second = await plan_start(settings, "report", inp, admin, session_factory=clean_db)
    assert REPORT.numbered
    assert re.fullmatch(r"report-\d{4}-000001", first.case_id)
    assert second.case_id.endswith("000002") and second.arg.number == second.case_id
    assert first.arg.calendar is not None and len(first.arg.calendar.years) == 2
