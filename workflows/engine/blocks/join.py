"""Joins: "after all of these tasks close". A handler marked `@after_all("report", "materials")`
runs once per unit, when a task of one of those kinds closes (done or lapsed) and no task of
those kinds is open in its unit any more: `handler(self, unit, closed)` with what each of them
came to (`Closed`: status, outcome, data), by kind. What a closed task came to is kept on its
unit (`unit.data["closed"]`), so a join survives continue-as-new, which carries open tasks
only."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from workflows.engine.base import CaseBase
    from workflows.model import TaskState, UnitState


class Closed(BaseModel):
    """What a closed task came to."""

    status: str
    outcome: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status == "done"


class JoinMixin(CaseBase):
    """Joins (see the module docstring)."""

    def closed_task(self, unit: UnitState, kind: str) -> Closed | None:
        """What the last closed task of `kind` in `unit` came to, if one closed."""
        found = unit.data.get("closed", {}).get(kind)
        return Closed.model_validate(found) if found is not None else None

    def _join_step(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None:
            return
        joins = [(kinds, fn) for kinds, fn in self._joins if task.kind in kinds]
        if not joins:
            return
        unit.data.setdefault("closed", {})[task.kind] = Closed(
            status=task.status, outcome=task.outcome, data=task.data
        ).model_dump(mode="json")
        for kinds, handler in joins:
            if any(self.open_tasks(kind, unit) for kind in kinds):
                continue
            closed = {k: c for k in kinds if (c := self.closed_task(unit, k)) is not None}
            handler(self, unit, closed)
