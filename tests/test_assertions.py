"""The workflow no longer trusts the actor a Temporal client claims: every start, signal and
update must carry an assertion signed with the system's key, bound to the case, the message,
its exact arguments and a short expiry. Refusals leave no trace in the case."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import (
    Client,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter

from store import models
from tests.blocks_regulation import BlocksInput, BlocksPolicy
from tests.helpers import (
    STARTED,
    case_worker,
    eventually,
    eventually_rows,
    library_calendar,
    rows,
    start_case,
    state,
)
from worker import AssertionSigner, header
from workflows import assertions
from workflows.model import (
    Actor,
    CaseMessage,
    CaseStart,
    ExtendDeadlineInput,
    PauseTaskInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEY = os.environ["ZHIDU_ASSERTION_KEY"].encode("utf-8")
HEAD = Actor(id="head", roles=["center_head"])


class FixedToken(OutboundInterceptor):
    """Sends a given assertion (or none) with every update: what an attacker can do."""

    token: str | None = None

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        if FixedToken.token is not None:
            input.headers = {**input.headers, assertions.HEADER: header(FixedToken.token)}
        return await super().start_workflow_update(input)


class _Fixed:
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return FixedToken(next)


async def raw_client(env: Any, interceptors: list[Any]) -> Client:
    return await Client.connect(
        env.client.service_client.config.target_host,
        data_converter=pydantic_data_converter,
        interceptors=interceptors,
    )


async def start(env: Any, queue: str, customer: str) -> Any:
    inp = BlocksInput(customer_id=customer, units=["fix"], deposit_yuan=0)
    return await start_case(env, queue, "blocks", inp)


async def refused(coro: Any, text: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    assert getattr(info.value.cause, "type", None) == "Forbidden", info.value.cause
    assert text in str(info.value.cause), str(info.value.cause)


async def test_unsigned_forged_misdirected_changed_and_expired_messages_are_refused(
    local_env, session_factory, clean_db, settings_factory
):
    env = local_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        case = await start(env, queue, f"AS{uuid.uuid4().hex[:5]}")
        other = await start(env, queue, f"AT{uuid.uuid4().hex[:5]}")
        view = await eventually(lambda: state(case), lambda v: bool(v.tasks))
        fix = view.tasks[0]
        arg = ExtendDeadlineInput(
            task_id=fix.id, actor=HEAD, new_due=fix.due_at + timedelta(days=1), reason="等配件"
        )

        plain = await raw_client(env, [])  # `temporal workflow update execute`, in effect
        await refused(
            plain.get_workflow_handle(case.id).execute_update("extend_deadline", arg), "not signed"
        )
        forger = await raw_client(env, [AssertionSigner(b"not-the-key")])
        await refused(
            forger.get_workflow_handle(case.id).execute_update("extend_deadline", arg), "forged"
        )

        fixed = await raw_client(env, [_Fixed()])
        now = time.time()
        FixedToken.token = assertions.sign(KEY, other.id, "extend_deadline", [arg], now)
        await refused(
            fixed.get_workflow_handle(case.id).execute_update("extend_deadline", arg),
            "another case",
        )
        FixedToken.token = assertions.sign(KEY, case.id, "pause_task", [arg], now)
        await refused(
            fixed.get_workflow_handle(case.id).execute_update("extend_deadline", arg),
            "another case or message",
        )
        boss = arg.model_copy(update={"actor": Actor(id="nobody", roles=["director"])})
        FixedToken.token = assertions.sign(KEY, case.id, "extend_deadline", [arg], now)
        await refused(
            fixed.get_workflow_handle(case.id).execute_update("extend_deadline", boss), "changed"
        )
        FixedToken.token = assertions.sign(KEY, case.id, "extend_deadline", [arg], now - 3600)
        await refused(
            fixed.get_workflow_handle(case.id).execute_update("extend_deadline", arg), "expired"
        )

        # Refusals leave no trace; the signed request goes through.
        accepted = [
            e for e in (await case.fetch_history()).events
            if e.HasField("workflow_execution_update_accepted_event_attributes")
        ]  # fmt: skip
        assert accepted == []
        assert (await state(case)).tasks[0].extensions == []
        done = await case.execute_update("extend_deadline", arg)
        assert done["extensions"][0]["granted_by"] == "head"

        # An unsigned signal is dropped; a signed one is handled.
        await plain.get_workflow_handle(case.id).signal(
            "case_message", CaseMessage(key="x1", name="ping", payload={"n": 1})
        )
        await case.signal("case_message", CaseMessage(key="x2", name="ping", payload={"n": 2}))
        view = await eventually(lambda: state(case), lambda v: v.summary["messages"] >= 1)
        assert [e.detail["key"] for e in view.events if e.kind == "message_received"] == ["x2"]

        # An unsigned start never becomes a case.
        rogue = await plain.start_workflow(
            "test.blocks",
            CaseStart(
                input=BlocksInput(customer_id="ROGUE").model_dump(mode="json"),
                policy={},
                started_by="boss",
            ),
            id=f"blocks-rogue-{uuid.uuid4().hex[:5]}",
            task_queue=queue,
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await rogue.result()
        assert "not signed" in str(failed.value.cause)
        assert not await rows(session_factory, models.Case, id=rogue.id)
        _ = PauseTaskInput


async def test_a_case_started_while_no_worker_runs_goes_on(
    local_env, session_factory, clean_db, settings_factory
):
    """A start's assertion is judged at the time Temporal accepted the start, not when a worker
    first runs the case: a case started during a deploy (no worker for longer than an
    assertion lives) is not refused later."""
    import asyncio

    env = local_env
    queue = f"late-{uuid.uuid4().hex[:6]}"
    # Signed so that the assertion expires 8 s from now; no worker serves the queue yet.
    late = await raw_client(
        env, [AssertionSigner(KEY, clock=lambda: time.time() - assertions.TTL_SECONDS + 8)]
    )
    handle = await late.start_workflow(
        "test.blocks",
        CaseStart(
            input=BlocksInput(
                customer_id=f"LA{uuid.uuid4().hex[:5]}", units=["fix"], deposit_yuan=0
            ).model_dump(mode="json"),
            policy=BlocksPolicy().model_dump(mode="json"),
            started_by="staff",
            calendar=library_calendar(await env.get_current_time()),
        ),
        id=f"blocks-late-{uuid.uuid4().hex[:5]}",
        task_queue=queue,
    )
    STARTED.append(handle)
    await asyncio.sleep(12)  # the worker comes back after the assertion expired
    async with case_worker(env.client, session_factory, settings_factory(), queue):
        view = await eventually(lambda: state(handle), lambda v: bool(v.tasks), within=20)
        assert view.status == "open" and view.tasks
        assert await eventually_rows(session_factory, models.Case, 1, id=handle.id)
