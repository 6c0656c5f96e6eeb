"""Units (overlapping pieces of work in one case, each with its tasks), wake-ups (`@at`
handlers), jobs (an activity whose result goes to an `@on_result` handler), messages to other
cases, and seeded sampling."""

from __future__ import annotations

import asyncio
import math
import random
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from workflows.engine.base import CaseBase
    from workflows.engine.common import STORE_RETRY, M
    from workflows.model import CaseMessage, Job, UnitState, Wakeup
    from workflows.spec import on_result


class UnitsMixin(CaseBase):
    """Units, wake-ups, jobs and messages to other cases (see the module docstring)."""

    def open_unit(
        self, kind: str, title: str, model: BaseModel | None = None, /, **data: Any
    ) -> UnitState:
        """A unit of work; its data a model (kept as JSON, read back with `unit_data`) and/or
        plain values."""
        self.s.unit_seq += 1
        unit = UnitState(
            id=f"{self.s.case_id}/u{self.s.unit_seq}",
            kind=kind,
            title=title,
            data={**(model.model_dump(mode="json") if model is not None else {}), **data},
            opened_at=self.now,
        )
        self.s.units.append(unit)
        self.event("unit_opened", None, None, unit=unit.id, kind=kind, title=title)
        return unit

    @staticmethod
    def unit_data(unit: UnitState, model: type[M]) -> M:
        """A unit's data as its model (times and deadlines typed, what else it holds left)."""
        return model.model_validate(unit.data)

    def unit(self, unit_id: str | None) -> UnitState | None:
        return next((u for u in self.s.units if u.id == unit_id), None) if unit_id else None

    def close_unit(self, unit: UnitState, status: str = "done", **detail: Any) -> None:
        if unit.status != "open":
            return
        unit.status, unit.closed_at = status, self.now  # type: ignore[assignment]
        for t in self.open_tasks(unit=unit):
            self.cancel(t, f"unit {status}")
        self.event("unit_closed", None, None, unit=unit.id, kind=unit.kind, status=status, **detail)

    def wake_at(self, when: datetime, name: str, **data: Any) -> None:
        """Run the `@at(name)` handler at `when` (at once if it has passed)."""
        self.s.wake_seq += 1
        self.s.wakeups.append(Wakeup(seq=self.s.wake_seq, at=when, name=name, data=data))
        self._wake = True

    def run_job(
        self, activity: str, arg: BaseModel | dict[str, Any], then: str, **context: Any
    ) -> None:
        """Run an activity and hand its result to the `@on_result(then)` handler."""
        self.s.job_seq += 1
        payload = arg.model_dump(mode="json") if isinstance(arg, BaseModel) else arg
        self.s.jobs.append(
            Job(seq=self.s.job_seq, activity=activity, arg=payload, then=then, context=context)
        )
        self._wake = True

    def _start_jobs(self) -> None:
        for job in self.s.jobs:
            if job.seq not in self._jobs_running:
                self._jobs_running.add(job.seq)
                asyncio.create_task(self._run_job(job))

    async def _run_job(self, job: Job) -> None:
        try:
            result = await workflow.execute_activity(
                job.activity,
                job.arg,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=STORE_RETRY,
                result_type=dict,
            )
            error = None
        except ActivityError as err:
            result, error = {}, str(err.cause or err)
        self._jobs_running.discard(job.seq)
        self.s.jobs.remove(job)
        if error is not None:
            self.event("job_failed", None, None, activity=job.activity, error=error[:500])
        self._handler("result", job.then)(self, result, job.context)
        self._wake = True

    def send_to_case(
        self,
        target: str,
        name: str,
        key: str,
        payload: dict[str, Any] | None = None,
        *,
        start_regulation: str | None = None,
        start_input: dict[str, Any] | None = None,
    ) -> None:
        """Deliver a message to another case once per `key` (its handler dedups), starting
        that case first when `start_regulation` and `start_input` are given."""
        msg = CaseMessage(key=key, name=name, sender=self.s.case_id, payload=payload or {})
        self.run_job(
            "zhidu.send_case_message",
            {
                "target": target,
                "message": msg.model_dump(mode="json"),
                "start_regulation": start_regulation,
                "start_input": start_input,
            },
            "_message_sent",
            target=target,
            key=key,
            name=name,
        )

    @on_result("_message_sent")
    def _message_sent(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        self.event("message_sent", None, None, **context, **result)

    def sample(
        self, items: list[str], rate: float, minimum: int = 1, *, seed: int | None = None
    ) -> list[str]:
        """A seeded random sample (workflow.random: replays the same), recorded on the timeline.
        With `seed`, the sample is `random.Random(seed).sample(sorted(items), k)` and the seed is
        recorded too, so anyone can draw it again from the record (an auditor's check)."""
        if not items:
            return []
        k = min(len(items), max(minimum, math.ceil(len(items) * rate)))
        if seed is None:
            chosen = workflow.random().sample(sorted(items), k)
            self.event("sampled", None, None, population=len(items), rate=rate, chosen=chosen)
            return chosen
        chosen = random.Random(seed).sample(sorted(items), k)
        self.event(
            "sampled", None, None, population=len(items), rate=rate, chosen=chosen, seed=seed
        )
        return chosen
