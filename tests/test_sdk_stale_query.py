"""The cause of shared/evidence/revisit-C10-nondeterminism.json, reduced to its smallest form: a
defect of the Temporal core (temporalio 1.35), not of zhidu's workflow code.

A worker holding a case on its sticky queue is killed (-9) while one of the case's timers is
pending. A query sent now waits at the dead sticky queue for the sticky schedule-to-start
timeout; if the timer fires meanwhile, the server then hands the query to another worker as a
*legacy query task* whose history already ends with the fired timer. That worker replays the
history to answer the query and core also gives the workflow the not-yet-processed timer as a
live activation stamped with the *previous* workflow task's time: `workflow.now()` is still
before the deadline, so the workflow starts another timer, which core keeps and sends later
(or, if an update then cancels it within the same task, drops while its sequence number stays
used). The recorded history then differs from what a replay computes, which sees the timer
together with the next workflow task at the right time.

No workflow code can make both activations produce the same commands: they see different
clocks. zhidu therefore keeps queries out of its own paths (the API, CLI and pages read
PostgreSQL; `zhidu show --live` is the operators' exception), and its worker uses a short
sticky schedule-to-start timeout (worker.STICKY_TIMEOUT), which bounds the window in which a
query can wait at a dead worker's queue.

This test is a canary: it asserts the defect is still there. When an SDK release fixes it, this
test fails, and the note above (and starter/cases.py) can be revisited.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker
from temporalio.workflow import NondeterminismError

pytestmark = pytest.mark.asyncio(loop_scope="session")


@workflow.defn(name="test.stale_query")
class DueWorkflow:
    """Wait until a due time that an update may move."""

    def __init__(self) -> None:
        self.version = 0
        self.due = workflow.now()

    @workflow.run
    async def run(self, seconds: float) -> str:
        self.due = workflow.now() + timedelta(seconds=seconds)
        while workflow.now() < self.due:
            seen = self.version
            try:
                await workflow.wait_condition(
                    lambda seen=seen: self.version != seen,  # type: ignore[misc]
                    timeout=self.due - workflow.now(),
                )
            except TimeoutError:
                pass
        return "due"

    @workflow.update
    def extend(self, seconds: float) -> None:
        self.due = workflow.now() + timedelta(seconds=seconds)
        self.version += 1

    @workflow.query
    def state(self) -> int:
        return self.version


RUNNER = UnsandboxedWorkflowRunner()


async def _worker_process(address: str, queue: str) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=queue, workflows=[DueWorkflow], workflow_runner=RUNNER):
        await asyncio.Event().wait()


async def test_query_at_a_dead_sticky_queue_records_a_history_that_does_not_replay(
    local_env: WorkflowEnvironment,
) -> None:
    client = local_env.client
    queue = f"stale-{uuid.uuid4().hex[:6]}"
    first = subprocess.Popen(  # noqa: ASYNC220 - started once, never waited on here
        [sys.executable, __file__, client.service_client.config.target_host, queue],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        await asyncio.sleep(3)
        handle = await client.start_workflow(
            DueWorkflow.run, 6.0, id=f"stale-{queue}", task_queue=queue
        )
        for _ in range(100):  # until the timer is recorded
            history = await handle.fetch_history()
            if any(e.HasField("timer_started_event_attributes") for e in history.events):
                break
            await asyncio.sleep(0.2)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    async with Worker(client, task_queue=queue, workflows=[DueWorkflow], workflow_runner=RUNNER):
        await asyncio.sleep(1)
        assert await handle.query(DueWorkflow.state) == 0  # waits ~10 s at the dead queue
        await handle.execute_update(DueWorkflow.extend, 3.0)
        assert await handle.result() == "due"
    history = await handle.fetch_history()
    timers = [
        e.timer_started_event_attributes.timer_id
        for e in history.events
        if e.HasField("timer_started_event_attributes")
    ]
    assert timers == ["1", "3"]  # timer 2 was started and dropped inside one workflow task
    with pytest.raises(NondeterminismError, match="expected timer id 2, it was 3"):
        await Replayer(workflows=[DueWorkflow], workflow_runner=RUNNER).replay_workflow(history)


if __name__ == "__main__":  # the worker that gets killed
    asyncio.run(_worker_process(sys.argv[1], sys.argv[2]))
