"""Recurrence grids: duties that come back on a fixed grid from an anchor ("the first phone
revisit one month after go-live, then every six months"; "every week"; "every six months"),
with catch-up: a case that starts late, or a worker that was down past several occurrences,
makes only the latest overdue occurrence, and says which it skipped.

`Grid` is the arithmetic (pure: months clamp to the month's last day). `recur(key, grid, name)`
keeps a duty going: the `@at(name)` handler runs at each occurrence (less `lead`) with
`{"key", "k", "planned_at", "skipped"}`, and the next occurrence is scheduled after it; the
duty is carried state (`CaseState.recurring`), so it survives continue-as-new."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import add_months
    from workflows.engine.base import CaseBase
    from workflows.model import Deadline, Recurring
    from workflows.spec import at


def shifted(start: datetime, period: Deadline, k: int) -> datetime:
    """`start` plus `k` periods (months clamp to the month's last day)."""
    return add_months(start, period.months * k) + k * period.wall


@dataclass(frozen=True)
class Grid:
    """Occurrence k is at `anchor + offset + k × every` (no offset: the anchor itself)."""

    anchor: datetime
    every: Deadline
    offset: Deadline | None = None

    def at(self, k: int) -> datetime:
        first = shifted(self.anchor, self.offset, 1) if self.offset else self.anchor
        return shifted(first, self.every, k)

    def caught_up(self, k: int, now: datetime) -> int:
        """From occurrence `k`, the latest one that is due by `now` (k itself if none later
        is): what a late start or a long downtime makes, skipping the ones in between."""
        while self.at(k + 1) <= now:
            k += 1
        return k


class RecurrenceMixin(CaseBase):
    """Recurring duties (see the module docstring)."""

    def recur(
        self, key: str, grid: Grid, name: str, *, k: int = 0, lead: timedelta = timedelta(0)
    ) -> None:
        """Run `@at(name)` at occurrence `k` of `grid` (less `lead`), then at each next one."""
        self.s.recurring[key] = Recurring(
            anchor=grid.anchor, every=grid.every, offset=grid.offset, name=name, lead=lead
        )
        self.wake_at(grid.at(k) - lead, "_recur", key=key, k=k)

    def stop_recurring(self, key: str) -> None:
        self.s.recurring.pop(key, None)

    @at("_recur")
    def _recurred(self, data: dict[str, Any]) -> None:
        duty = self.s.recurring.get(data["key"])
        if duty is None:
            return  # the duty was stopped
        grid = Grid(duty.anchor, duty.every, duty.offset)
        k = grid.caught_up(data["k"], self.now + duty.lead)
        skipped = list(range(data["k"], k))
        if skipped:
            self.event("occurrences_skipped", None, None, key=data["key"], skipped=skipped)
        info = {"key": data["key"], "k": k, "planned_at": grid.at(k), "skipped": skipped}
        self._handler("at", duty.name)(self, info)
        if data["key"] in self.s.recurring:
            self.wake_at(grid.at(k + 1) - duty.lead, "_recur", key=data["key"], k=k + 1)
