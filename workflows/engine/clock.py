"""The clock of a case: `now`, due times, the one pending timer (never cancelled) and what
runs when something falls due; the working-day calendar carried in the state (read at the start,
merged when a year is published: the `calendar_updated` signal) and the provisional dues it
recomputes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import calendar as cal
    from workflows.engine.base import CaseBase
    from workflows.engine.common import ACTIVITY_TIMEOUT, STORE_RETRY
    from workflows.model import CHINA_TZ, CalendarData, CalendarRequest, CalendarUpdatedInput
    from workflows.spec import DeadlineRef


class ClockMixin(CaseBase):
    """The clock and the working-day calendar of a case (see the module docstring)."""

    @property
    def now(self) -> datetime:
        return workflow.now()

    def due_after(self, start: datetime, rule: DeadlineRef) -> tuple[datetime, bool]:
        """The due time `rule` after `start` and whether it is provisional."""
        deadline = self.deadline(rule)
        if deadline is None:
            return start, False
        return cal.due_after(self.s.calendar, start, deadline)

    def _tick(self) -> None:
        """Run everything that is due now, earliest first, until nothing is."""
        for _ in range(10_000):
            item = self._next_due()
            if item is None:
                return
            _, _, what, obj = item
            if what == "wakeup":
                self.s.wakeups.remove(obj)
                self._handler("at", obj.name)(self, obj.data)
            elif what == "remind":
                self._remind(obj)
            elif what == "breach":
                self._breach(obj)
            else:
                self._lapse(obj)
            self._wake = True
        raise RuntimeError("the clock did not settle (a handler keeps scheduling the past)")

    def _due_items(self) -> Iterable[tuple[datetime, int, str, Any]]:
        for t in self.s.tasks:
            if t.status != "open" or t.paused_at is not None:
                continue
            if t.remind_at and not t.reminded:
                yield (t.remind_at, 0, "remind", t)
            if t.due_at and (t.breached_at is None or t.breached_at < t.due_at):
                yield (t.due_at, 1, "breach", t)
            if t.lapse_at:
                yield (t.lapse_at, 2, "lapse", t)
        for w in self.s.wakeups:
            yield (w.at, 3, "wakeup", w)

    def _next_due(self) -> tuple[datetime, int, str, Any] | None:
        now = self.now
        due = [i for i in self._due_items() if i[0] <= now]
        return min(due, key=lambda i: (i[0], i[1], getattr(i[3], "seq", 0))) if due else None

    def _arm_timer(self) -> None:
        """Keep one pending timer at or before the next due instant; never cancel one."""
        now = self.now
        upcoming = [i[0] for i in self._due_items() if i[0] > now]
        if not upcoming:
            return
        nxt = min(upcoming)
        if any(t <= nxt for t in self._timers):
            return
        self._timers.append(nxt)
        asyncio.create_task(self._timer(nxt))

    async def _timer(self, when: datetime) -> None:
        await workflow.sleep(when - self.now)
        self._timers.remove(when)
        self._wake = True

    @workflow.signal(name="calendar_updated")
    def calendar_updated(self, inp: CalendarUpdatedInput) -> None:
        """A year of the statutory calendar was loaded: recompute provisional deadlines."""
        self.event("calendar_updated", None, None, years=inp.years)
        if inp.calendar is not None:
            self.s.calendar = cal_merge(self.s.calendar, inp.calendar)
            self._recompute_provisional(sorted(inp.calendar.years))
        else:
            self.s.calendar_years_pending.extend(
                y for y in inp.years or [] if y not in self.s.calendar_years_pending
            )
        self._wake = True

    async def _ensure_calendar(self) -> None:
        year = self.now.astimezone(CHINA_TZ).year
        missing = [y for y in (year, year + 1) if y not in self.s.calendar.years]
        if missing:
            self.s.calendar = cal_merge(self.s.calendar, await self._read_calendar(missing))

    async def _load_pending_calendar(self) -> None:
        if self.s.calendar_years_pending:
            years, self.s.calendar_years_pending = self.s.calendar_years_pending, []
            self.s.calendar = cal_merge(self.s.calendar, await self._read_calendar(years))
            self._recompute_provisional(years)

    async def _read_calendar(self, years: list[int]) -> CalendarData:
        return await workflow.execute_activity(
            "zhidu.calendar",
            CalendarRequest(years=sorted(years)),
            result_type=CalendarData,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=STORE_RETRY,
        )

    def _recompute_provisional(self, years: list[int]) -> None:
        for task in self.s.tasks:
            if task.status != "open" or not task.provisional or task.due_base is None:
                continue
            if task.due_rule is None:
                continue  # extended or moved: that decision stands
            old = task.due_at
            task.due_at, task.provisional = cal.due_after(
                self.s.calendar, task.due_base, task.due_rule
            )
            self._set_clocks(task, self._specs[task.kind], task.due_base)
            task.reminded = (
                task.remind_at is not None and task.remind_at <= self.now and task.reminded
            )
            self._touch(task)
            self.event(
                "deadline_recomputed",
                task.clause,
                None,
                task_id=task.id,
                old_due=old,
                new_due=task.due_at,
                provisional=task.provisional,
                years=years,
            )
        self._wake = True


def cal_merge(base: CalendarData, more: CalendarData) -> CalendarData:
    return CalendarData(years={**base.years, **more.years})
