"""Escalation ladders (`LadderSpec`): `escalate` opens the first level; a breach or the
outcome `escalate` climbs one level (once per level); the outcome `resolved` ends the ladder,
and so does `end_ladder` from outside its levels; then the regulation's `@after_ladder`
handler runs.

A ladder keeps its state in its unit (`unit.data["ladders"][key]`): the level reached, the
level that resolved it, when it began (`start`), the data `escalate` was given (`base`: what
every level's task and report get, besides their level) and, when it was ended from outside,
why (`ended`). A level's due counts from when the level was reached, or from the ladder's
start (`Level(counts_from="ladder")`: "level 2 within 10 minutes of the intake")."""

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
            or state.get("ended")
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
            self._cancel_levels(key, unit, "resolved at a lower level")
            self._handler("ladder", key)(self, unit, level + 1)

    def _cancel_levels(self, key: str, unit: UnitState, reason: str) -> None:
        """Cancel the open level tasks of ladder `key` (the written reports owed stay open)."""
        for other in self.open_tasks(unit=unit):
            other_of = self._ladder_of.get(other.kind)
            if other_of and other_of[0] == key and other_of[2] == "task":
                self.cancel(other, reason)

    def end_ladder(self, key: str, unit: UnitState, reason: str, actor: str | None = None) -> bool:
        """End ladder `key` from outside its levels (the matter was settled another way): its
        open level tasks are cancelled, the written reports already owed stay open, the
        timeline says why (`ladder_ended`), and the `@after_ladder` handler runs with the level
        reached; `ladder_ended(unit, key)` tells it the ladder was ended so, and why. False
        (nothing done) if the ladder was not running."""
        state = unit.data.get("ladders", {}).get(key)
        if state is None or state["resolved"] is not None or state.get("ended"):
            return False
        level = state["level"] + 1
        state["ended"] = {"reason": reason, "actor": actor, "level": level}
        clause = self._ladders[key].levels[level - 1].task.clause
        self.event("ladder_ended", clause, actor, ladder=key, level=level, reason=reason)
        self._cancel_levels(key, unit, reason)
        self._handler("ladder", key)(self, unit, level)
        return True

    def ladder_ended(self, unit: UnitState, key: str) -> str | None:
        """Why ladder `key` of `unit` was ended from outside (`end_ladder`); None while it runs
        or when a level resolved it."""
        ended = unit.data.get("ladders", {}).get(key, {}).get("ended")
        return str(ended["reason"]) if ended else None
