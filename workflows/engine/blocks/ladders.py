"""Escalation ladders (`LadderSpec`): `escalate` opens the first level; a breach or the
outcome `escalate` climbs one level (once per level); the outcome `resolved` ends the ladder
and the regulation's `@after_ladder` handler runs.

A ladder keeps its state in its unit (`unit.data["ladders"][key]`): the level reached, the
level that resolved it, when it began (`start`), the data `escalate` was given (`base`: what
every level's task and report get, besides their level). A level's due counts from when the
level was reached, or from the ladder's start (`Level(counts_from="ladder")`: "level 2
within 10 minutes of the intake")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine.base import CaseBase
    from workflows.model import TaskState, UnitState
    from workflows.spec import LadderSpec


class LaddersMixin(CaseBase):
    """Escalation ladders (see the module docstring)."""

    def escalate(
        self, key: str, unit: UnitState, *, start: datetime | None = None, **data: Any
    ) -> TaskState:
        """Start ladder `key` at its first level. `start` is when the ladder began (default
        now; e.g. when the complaint was registered): the first level is reached then, so its
        due counts from it, as does the due of every level that counts from the ladder. `data`
        is the ladder's base data: every level's task and report get it, and their level."""
        begun = start or self.now
        unit.data.setdefault("ladders", {})[key] = {
            "level": 0,
            "resolved": None,
            "start": begun.isoformat(),
            "base": dict(data),
        }
        return self._open_level(self._ladders[key], unit, 0, data, begun)

    def _open_level(
        self,
        ladder: LadderSpec,
        unit: UnitState,
        level: int,
        data: dict[str, Any],
        start: datetime,
    ) -> TaskState:
        rung = ladder.levels[level]
        self.event(
            "escalated",
            rung.task.clause,
            None,
            ladder=ladder.key,
            level=level + 1,
            role=rung.task.role,
        )
        if rung.report is not None:
            self.open(rung.report.kind, unit, start=start, data={**data, "level": level + 1})
        return self.open(rung.task.kind, unit, start=start, data={**data, "level": level + 1})

    def _climb(self, task: TaskState) -> None:
        """Go one level up (once per level), after `escalate` or a breach."""
        key, level, _ = self._ladder_of[task.kind]
        unit = self.unit(task.unit)
        if unit is None:
            return
        state = unit.data["ladders"][key]
        ladder = self._ladders[key]
        if (
            state["resolved"] is not None
            or state["level"] > level
            or level + 1 >= len(ladder.levels)
        ):
            return
        state["level"] = level + 1
        if "base" in state:
            base = dict(state["base"])
        else:  # a ladder begun before its base data was kept: as then, the level's data
            base = {k: v for k, v in task.data.items() if k != "level"}
        start = self.now
        if ladder.levels[level + 1].counts_from == "ladder" and "start" in state:
            start = datetime.fromisoformat(state["start"])
        self._open_level(ladder, unit, level + 1, base, start)

    def _ladder_step(self, task: TaskState) -> None:
        key, level, part = self._ladder_of[task.kind]
        if part != "task" or task.status != "done":
            return
        unit = self.unit(task.unit)
        assert unit is not None
        state = unit.data["ladders"][key]
        if task.outcome == "escalate":
            self._climb(task)
        elif task.outcome == "resolved" and state["resolved"] is None:
            state["resolved"] = level + 1
            self.event("ladder_resolved", task.clause, task.closed_by, ladder=key, level=level + 1)
            for other in self.open_tasks(unit=unit):
                other_of = self._ladder_of.get(other.kind)
                if other_of and other_of[0] == key and other_of[2] == "task":
                    self.cancel(other, "resolved at a lower level")
            self._handler("ladder", key)(self, unit, level + 1)
