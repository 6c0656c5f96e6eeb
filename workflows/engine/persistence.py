"""Persistence: everything a step changes is buffered (`_touch` and the `_p_*` lists) and
written by one `zhidu.record_step` activity; one write is in flight at a time and the next
carries everything that changed meanwhile."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.engine.base import CaseBase
    from workflows.engine.common import ACTIVITY_TIMEOUT, STORE_RETRY
    from workflows.model import CaseWrite, StepChanges, TaskState


class PersistenceMixin(CaseBase):
    """The buffered changes of a case and their writer (see the module docstring)."""

    @property
    def provisional(self) -> bool:
        return any(t.provisional and t.status == "open" for t in self.s.tasks)

    def _touch(self, task: TaskState) -> None:
        task.version += 1
        self._p_tasks[task.id] = task
        self._case_dirty = True

    def _dirty(self) -> bool:
        return bool(
            self._case_dirty
            or self._p_events
            or self._p_tasks
            or self._p_notes
            or self._p_records
            or self._p_sigs
            or self._p_ledger
            or self._p_discipline
        )

    def _take_changes(self) -> StepChanges:
        first = not self.s.case_written
        # The summary as the case stands now. A step taken between an update's handler and the
        # run loop's next pass (the handler closed the case) carries the new status, so it
        # carries the summary that goes with it; before, the case row read "closed" with the
        # old summary until the loop's next step. The loop still compares with self.summary and
        # writes again when it differs: the steps, and so the commands, are as before.
        summary = self.summarize() if self._ready else self.summary
        changes = StepChanges(
            case=CaseWrite(
                id=self.s.case_id,
                regulation=self.REGULATION,
                title=self.title,
                number=self.s.number,
                customer_id=self._customer_id(),
                status=self.s.status,
                provisional=self.provisional,
                version=self.s.event_seq,
                started_by=self.started_by,
                closed_at=self.s.closed_at,
                summary=summary,
                attention=self.s.attention,
                input=self._start.input if first else None,
                policy=self._start.policy if first else None,
            ),
            events=self._p_events,
            tasks=[t.model_copy(deep=True) for t in self._p_tasks.values()],
            notifications=self._p_notes,
            records=self._p_records,
            signatures=self._p_sigs,
            ledger=self._p_ledger,
            discipline=self._p_discipline,
        )
        self.s.case_written = True
        self._p_events, self._p_tasks, self._p_notes = [], {}, []
        self._p_records, self._p_sigs, self._p_ledger = [], [], []
        self._p_discipline = []
        self._case_dirty = False
        return changes

    async def _persist_loop(self) -> None:
        """One write in flight at a time; the next carries everything changed meanwhile."""
        while True:
            await workflow.wait_condition(self._dirty)
            changes = self._take_changes()
            self._writing = True
            try:
                result = await workflow.execute_activity(
                    "zhidu.record_step",
                    changes,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=STORE_RETRY,
                    result_type=dict,
                )
                if result and result.get("refused_start"):
                    self._refused = str(result["refused_start"])
                if result and result.get("repairs"):
                    self.needs_attention(
                        f"数据库拒绝了部分数据（{result.get('refused')}），已清理后保存："
                        f"{', '.join(result['repairs'][:5])}"
                    )
            except ActivityError as err:
                # The database refused the step even repaired: it is in this case's history,
                # not in the database. The case goes on; an administrator is told.
                self.needs_attention(f"一个步骤无法保存到数据库：{err.cause or err}"[:500])
            finally:
                self._writing = False
                self._wake = True
