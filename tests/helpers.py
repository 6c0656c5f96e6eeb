"""Helpers shared by the workflow tests: a worker on a fresh task queue, actors, task lookup,
database reads."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    Replayer,
    Worker,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)

import worker
from activities import build_activities
from activities.workcalendar import current_years, year_days
from settings import Settings
from starter.cases import case_histories
from store import models
from store.db import SessionFactory
from tests.blocks_regulation import BLOCKS, ScaledBlocksWorkflow
from worker import AssertionVerifier, workflow_runner
from workflows import REGISTRY
from workflows.model import (
    Actor,
    CalendarData,
    CaseStart,
    CaseView,
    CompleteTaskInput,
    ExtendDeadlineInput,
    TaskState,
)
from workflows.regulations import demo_people

# Every regulation, and the building-blocks test regulation.
TEST_REGISTRY = {**REGISTRY, BLOCKS.code: BLOCKS}
# Workflows the test worker runs besides the registry's (variants of the test regulation).
EXTRA_WORKFLOWS = (ScaledBlocksWorkflow,)

STAFF = Actor(id="staff", roles=["staff"])
OTHER_STAFF = Actor(id="bob", roles=["staff"])
SUPERVISOR = Actor(id="supervisor", roles=["supervisor"], department="客户服务部")
CLERK = Actor(id="clerk", roles=["clerk"])
DIVISION = Actor(id="division", roles=["division_leader"])
PRESIDENT = Actor(id="president", roles=["president_office", "quality_specialist"])
RD = Actor(id="rd", roles=["rd"])
FINANCE = Actor(id="finance", roles=["finance"])


class PreparedOnce(WorkflowRunner):
    """The worker's strict sandbox, with each workflow class's start-up check (a dry import
    in a fresh sandbox, about 0.6 s each: 13 workflows made every test's worker take 8 s to
    start) done once per test session instead of once per worker. Every run of every case
    still runs in the strict sandbox."""

    prepared: set[type] = set()

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn: Any) -> None:
        if defn.cls not in PreparedOnce.prepared:
            self.inner.prepare_workflow(defn)
            PreparedOnce.prepared.add(defn.cls)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return self.inner.create_instance(det)

    def set_worker_level_failure_exception_types(self, types: Any) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


# Cases started by the running test; terminated when its worker stops, because a case left
# running without a worker stalls the shared time-skipping server for the next test.
STARTED: list[WorkflowHandle[Any, Any]] = []


@asynccontextmanager
async def case_worker(
    client: Client, session_factory: SessionFactory, settings: Settings, queue: str | None = None
) -> AsyncIterator[str]:
    """Run every regulation workflow and the real activities on a (fresh) task queue."""
    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    # The worker checks that the people a start names exist with their roles.
    await ensure_people(session_factory)
    # Cases a workflow starts (messages to other cases) go to this worker's queue.
    settings = settings.model_copy(update={"temporal_task_queue": queue})
    try:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[*(e.workflow for e in TEST_REGISTRY.values()), *EXTRA_WORKFLOWS],
            activities=build_activities(session_factory, settings, client, TEST_REGISTRY),
            # Strict: the sandbox re-imports the workflow modules per run and so checks them.
            workflow_runner=PreparedOnce(workflow_runner(strict=True)),
            interceptors=[AssertionVerifier(settings.assertion_keys())],
        ):
            yield queue
    finally:
        while STARTED:
            handle = STARTED.pop()
            await save_histories(client, handle.id)
            try:
                await client.get_workflow_handle(handle.id).terminate("test finished")
            except RPCError:
                pass  # already closed


# The tests' actors besides the demo users: a second staff member and three supervisors.
TEST_PEOPLE = (
    ("bob", ["staff"], "客户服务部"),
    ("boss", ["supervisor"], "客户服务部"),
    ("sup2", ["supervisor"], "客户服务部"),
    ("sup3", ["supervisor"], "工程部"),
)


async def start_case(
    env: Any,
    queue: str,
    regulation: str,
    inp: BaseModel | dict[str, Any],
    policy: BaseModel | None = None,
    *,
    started_by: str = "staff",
    calendar: bool = True,
    begun: bool = True,
    **options: Any,
) -> WorkflowHandle[Any, Any]:
    """Start a case of `regulation` (TEST_REGISTRY) as the starter does: the input validated,
    the policy (default: the regulation's), the working-day calendar of now, the business key;
    terminated when the test's worker stops. `options` go to `start_workflow`."""
    entry = TEST_REGISTRY[regulation]
    model = entry.input_model.model_validate(inp)
    now = await env.get_current_time()
    handle = await env.client.start_workflow(
        entry.workflow_name,
        CaseStart(
            input=model.model_dump(mode="json"),
            policy=(policy or entry.policy_model()).model_dump(mode="json"),
            started_by=started_by,
            calendar=library_calendar(now) if calendar else None,
        ),
        id=(entry.workflow_id(model) if entry.workflow_id else None)
        or f"{regulation}-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        **options,
    )
    STARTED.append(handle)
    if begun:
        await wait_begun(handle)
    return handle


async def wait_begun(handle: WorkflowHandle[Any, Any], within: float = 60.0) -> None:
    """Wait (real time) until the case's first step has run (its `begin`: what its input holds
    is in its state), or the run has ended: an update sent before that is refused "starting"
    (a regulation's own actions) and a test would race the worker."""

    async def step() -> bool:
        try:
            return bool((await state(handle)).events)
        except RPCError:
            return False

    if not await eventually(step, bool, within):
        raise AssertionError(f"case {handle.id} did not begin within {within} s")


# The password hashes of the people ensure_people made, by user id: a test that emptied the
# database gets them back as they were, without hashing every demo password again (argon2 costs
# about half a second a password, and every regulation adds demo people).
MADE_PEOPLE: dict[str, tuple[str, str, list[str], str | None]] = {}


async def ensure_people(session_factory: SessionFactory) -> None:
    """The demo users and the tests' other actors (TEST_PEOPLE), those that are missing."""
    from starter import users

    async with session_factory() as s:
        present = set(await s.scalars(select(models.User.id)))
        for uid, (name, hashed, roles, department) in MADE_PEOPLE.items():
            if uid not in present:
                s.add(models.User(id=uid, name=name, password_hash=hashed, roles=roles,
                                  department=department, active=True))  # fmt: skip
        await s.commit()
    await users.ensure_demo_users(session_factory)
    for uid, roles, department in TEST_PEOPLE:
        if await users.get_user(session_factory, uid) is None:
            await users.create_user(
                session_factory, uid, f"测试 {uid}", f"{uid}-password", roles, department
            )
    if not MADE_PEOPLE:
        ids = [p.id for p in demo_people()] + [uid for uid, _, _ in TEST_PEOPLE]
        async with session_factory() as s:
            for u in await s.scalars(select(models.User).where(models.User.id.in_(ids))):
                MADE_PEOPLE[u.id] = (u.name, u.password_hash, list(u.roles), u.department)


def replayer(workflows: Iterable[type] | None = None, *, strict: bool = True) -> Replayer:
    """worker.replayer with the tests' assertion key: histories replayed as the worker runs them."""
    key = os.environ["ZHIDU_ASSERTION_KEY"].encode("utf-8")
    return worker.replayer([key], workflows, strict=strict)


async def sent_code(session_factory: SessionFactory, case_id: str) -> str | None:
    """The one-time signing code of the newest code message the outbox holds for a case (what
    the customer reads out), or None."""
    async with session_factory() as s:
        body = await s.scalar(
            select(models.Notification.body)
            .where(
                models.Notification.case_id == case_id,
                models.Notification.key.like("sigcode/%"),
            )
            .order_by(models.Notification.id.desc())
            .limit(1)
        )
    found = re.search(r"验证码：(\d{6})", body or "")
    return found.group(1) if found else None


async def save_histories(client: Client, workflow_id: str) -> None:
    """With ZHIDU_SAVE_HISTORIES=<dir>, keep every run of the case as JSON for the replay test
    (tests/histories: `<regulation>_<case>_run<N>.json`)."""
    target = os.environ.get("ZHIDU_SAVE_HISTORIES")
    if not target:
        return
    # The regulation is the longest registered code the id starts with (codes have hyphens:
    # `service-request-…` is service-request's, not `service`'s).
    code = max(
        (c for c in TEST_REGISTRY if workflow_id.startswith(f"{c}-")),
        key=len,
        default=workflow_id.split("-")[0],
    )
    for n, hist in enumerate(await case_histories(client, workflow_id), start=1):
        path = Path(target) / f"{code}_{workflow_id}_run{n}.json"
        path.write_text(hist.to_json())


async def sleep_to(env: Any, when: datetime) -> None:
    """Move the time-skipping server's clock to `when` (if it is not there yet)."""
    now = await env.get_current_time()
    if when > now:
        await skip(env, when - now)


async def refused(coro: Any, kind: str, text: str = "") -> str:
    """Await an update that a validator must refuse with an error of `kind` whose text holds
    `text`; returns the refusal's text."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    cause = info.value.cause
    assert getattr(cause, "type", None) == kind, f"{cause!r}"
    assert text in str(cause), str(cause)
    return str(cause)


async def skip(env: Any, duration: timedelta, step: timedelta = timedelta(days=20)) -> None:
    """Move the time-skipping server's clock on. One long sleep is one RPC that can time out
    while the server runs months of timers and activities, so skip in steps."""
    remaining = duration
    while remaining > timedelta(0):
        chunk = min(step, remaining)
        req = SleepRequest()
        req.duration.FromTimedelta(chunk)
        await env.client.test_service.unlock_time_skipping_with_sleep(
            req, timeout=timedelta(minutes=5)
        )
        remaining -= chunk


def library_calendar(now: datetime) -> CalendarData:
    """The calendar a starter gives a new case (this year and the next), without overrides."""
    return CalendarData(years={y: year_days(y) for y in current_years(now)})


async def state(handle: WorkflowHandle[Any, Any]) -> CaseView:
    """The case as its `state` query shows it. A query is answered by the worker between
    workflow tasks: on a loaded machine one can outlast the RPC's deadline; ask again then."""
    for attempt in range(5):
        try:
            return await handle.query("state", result_type=CaseView)
        except RPCError as exc:
            if attempt == 4 or exc.status not in (RPCStatusCode.DEADLINE_EXCEEDED,
                                                  RPCStatusCode.CANCELLED):  # fmt: skip
                raise
    raise AssertionError("unreachable")


async def open_task(handle: WorkflowHandle[Any, Any], kind: str, within: float = 10.0) -> TaskState:
    """The newest open task of that kind, polling (real seconds) until the workflow gets there."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        view = await state(handle)
        found = [t for t in view.tasks if t.kind == kind and t.status == "open"]
        if found:
            return found[-1]
        if asyncio.get_running_loop().time() > deadline:
            tasks = [(t.kind, t.status) for t in view.tasks]
            raise AssertionError(f"no open {kind} task; tasks: {tasks}")
        await asyncio.sleep(0.1)


async def complete(
    handle: WorkflowHandle[Any, Any],
    task: TaskState | str,
    actor: Actor,
    outcome: str = "done",
    data: dict[str, Any] | None = None,
    signatures: list[dict[str, Any]] | None = None,
) -> TaskState:
    task_id = task if isinstance(task, str) else task.id
    return await handle.execute_update(
        "complete_task",
        CompleteTaskInput.model_validate(
            {
                "task_id": task_id,
                "actor": actor,
                "outcome": outcome,
                "data": data or {},
                "signatures": signatures or [],
            }
        ),
        result_type=TaskState,
    )


async def extend(
    handle: WorkflowHandle[Any, Any], task: TaskState, actor: Actor, new_due: Any, reason: str
) -> TaskState:
    return await handle.execute_update(
        "extend_deadline",
        ExtendDeadlineInput(task_id=task.id, actor=actor, new_due=new_due, reason=reason),
        result_type=TaskState,
    )


async def rows(session_factory: SessionFactory, model: Any, **where: Any) -> list[Any]:
    async with session_factory() as s:
        stmt = select(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return list((await s.execute(stmt)).scalars())


async def eventually_rows(
    session_factory: SessionFactory,
    model: Any,
    count: int | None,
    within: float = 10.0,
    **where: Any,
) -> list[Any]:
    """Rows written by a workflow step that runs after the update returned: poll (real time)
    until there are `count` of them (None: at least one), then return them."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await rows(session_factory, model, **where)
        enough = len(found) >= 1 if count is None else len(found) == count
        if enough or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.1)


async def eventually(
    fetch: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], within: float = 10.0
) -> Any:
    """Poll `fetch()` (real time) until `ok(result)`; return the last result either way."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await fetch()
        if ok(result) or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.1)


async def records(
    session_factory: SessionFactory, case_id: str, kind: str, count: int | None = None
) -> list[models.Record]:
    return await eventually_rows(session_factory, models.Record, count, case_id=case_id, kind=kind)


async def penalties(
    session_factory: SessionFactory, case_id: str, count: int | None = None
) -> list[models.LedgerEntry]:
    """The case's ledger rows (fines, charges, sanctions, commendations, ...)."""
    return await eventually_rows(session_factory, models.LedgerEntry, count, case_id=case_id)
