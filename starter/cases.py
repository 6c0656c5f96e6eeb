"""Starting and steering cases in Temporal — the one place the HTTP API, the CLI and the web
pages go through, so all behave the same. What a new case is made of (policy, case number,
calendar, search attributes) is activities/starts.py, which a case's message to another case
uses too.

Every check that depends on who acts happens here or in the workflow's update validator, and
the actor is always built from the signed-in user (`actor_for`), never from client input.

Reads go to PostgreSQL (store.queries), not to a workflow's `state` query: a query sent while a
worker that held the case is gone (kill -9, within the sticky-queue timeout) makes the Temporal
core apply a pending timer to the case with a stale clock, and the history it then records does
not replay (temporalio sdk-core; tests/repro/stale_query_activation.py reproduces it). The
`state` query stays for operators (`zhidu show --live`, the Temporal web console).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHistory,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.errors import (
    REFUSALS,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    invalid_from,
)
from activities.starts import StartPlan, get_entry, plan_case, validated_input
from activities.zh import refusal_zh
from starter import attachments, sigcodes
from starter.taskids import full_task_id
from store.db import is_unavailable
from store.models import Case, Task, User
from store.queries import jsonable, unfit_person
from workflows.model import Actor, CaseView
from workflows.registry import ActionSpec, Registry, RegulationEntry
from workflows.regulations import ROLE_BOOK, registry_or_default

if TYPE_CHECKING:
    from settings import Settings
    from store.db import SessionFactory

# How long an update may wait for a worker to accept and answer it.
UPDATE_TIMEOUT = timedelta(seconds=30)
# How long a look at a case may take before Temporal counts as not answering (503).
DESCRIBE_TIMEOUT = timedelta(seconds=10)


def action_spec(entry: RegulationEntry, action: str) -> ActionSpec:
    spec = entry.all_actions().get(action)
    if spec is None:
        names = ", ".join(entry.all_actions())
        raise NotFound(f"{entry.code} has no action {action!r} (actions: {names})", "action")
    return spec


# ---- people ------------------------------------------------------------------------------------


def actor_for(user: User) -> Actor:
    """The workflow's idea of who acts, built from the database user only."""
    return Actor(
        id=user.id, roles=list(user.roles or []), name=user.name, department=user.department
    )


async def check_people(
    session_factory: SessionFactory | None, people: Mapping[str, str], values: Any
) -> None:
    """Every person a case or an action names (`people`: field -> role code) must be an active
    user holding that role. `values` is the validated input model (or a mapping); fields whose
    value is None are not checked. Invalid (422) naming the first bad field."""
    if not any(
        (values.get(n) if isinstance(values, Mapping) else getattr(values, n, None)) is not None
        for n in people
    ):
        return
    if session_factory is None:
        raise ServiceError(503, "checking the people a case names needs the database")
    bad = await unfit_person(session_factory, people, values)
    if bad is not None:
        name, uid, role = bad
        raise Invalid(
            f"no active user {json.dumps(uid, ensure_ascii=False)} with role {role}",
            name,
            f"没有角色为「{ROLE_BOOK.zh(role)}」的在职用户 {json.dumps(uid, ensure_ascii=False)}",
        )


# ---- starting a case ----------------------------------------------------------------------------


async def plan_start(
    settings: Settings,
    code: str,
    raw_input: Mapping[str, Any],
    user: User,
    *,
    registry: Registry | None = None,
    session_factory: SessionFactory | None = None,
) -> StartPlan:
    """Every check of a start (regulation, role, input, the people it names, policy), without
    touching Temporal."""
    entry = get_entry(code, registry)
    roles = set(user.roles or [])
    if entry.start_roles and not roles & set(entry.start_roles):
        raise Forbidden(
            f"{user.id} may not start {entry.code} ({entry.title_zh}): "
            f"needs one of the roles {', '.join(entry.start_roles)}"
        )
    inp = validated_input(entry, raw_input)
    await check_people(session_factory, entry.people, inp)
    return await plan_case(settings, session_factory, entry, inp, user.id, None)


async def launch(client: Client, settings: Settings, plan: StartPlan) -> tuple[str, str]:
    """Start a planned case; (case id, first run id). Conflict if a case with that id exists,
    running or closed: the database keys of a case (tasks, records, signatures) derive from its
    workflow id, so a second run under the same id would collide with the first run's rows."""
    try:
        handle = await client.start_workflow(
            plan.entry.workflow_name,
            plan.arg,
            id=plan.case_id,
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=plan.search_attributes,
            static_summary=plan.title,
        )
    except WorkflowAlreadyStartedError as exc:
        status = await _case_status(client, plan.case_id)
        raise Conflict(
            f"case {plan.case_id} already exists (status {status}); a returning customer gets a "
            "new customer id",
            "id",
        ) from exc
    return plan.case_id, handle.result_run_id or ""


async def _case_status(client: Client, case_id: str) -> str:
    """The status of the newest run of `case_id` in lower case (e.g. running, completed)."""
    try:
        desc = await client.get_workflow_handle(case_id).describe()
    except RPCError:
        return "unknown"
    return desc.status.name.lower() if desc.status else "unknown"


async def start_case(
    client: Client,
    settings: Settings,
    code: str,
    raw_input: Mapping[str, Any],
    user: User,
    *,
    registry: Registry | None = None,
    session_factory: SessionFactory | None = None,
) -> tuple[str, str]:
    """Start a case of regulation `code`; return (case id, first run id).

    Every check runs before anything is sent to Temporal, so a refused start leaves nothing."""
    plan = await plan_start(
        settings, code, raw_input, user, registry=registry, session_factory=session_factory
    )
    started = await launch(client, settings, plan)
    if session_factory is not None:
        await case_row_stored(session_factory, plan.case_id)
    return started


async def case_row_stored(
    session_factory: SessionFactory, case_id: str, within: float = 5.0
) -> bool:
    """Read-your-writes for a start: wait (briefly) until the case's first step is stored, so
    the page or command that follows finds it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        try:
            async with session_factory() as session:
                if await session.scalar(select(Case.id).where(Case.id == case_id)) is not None:
                    return True
        except Exception as exc:
            if is_unavailable(exc):
                return False  # started; the first step is stored once the database is back
            raise
        await asyncio.sleep(0.05)
    return False


# ---- steering a running case ---------------------------------------------------------------------


def _is_not_found(exc: RPCError) -> bool:
    return exc.status == RPCStatusCode.NOT_FOUND


def _rpc_failure(exc: RPCError, what: str, missing: str) -> ServiceError:
    """The answer for a Temporal call that failed: 404 for no such case, 503 while Temporal
    does not answer (restarting, unreachable: try again), 502 for anything else it said."""
    if _is_not_found(exc):
        return NotFound(missing, "case_id")
    if is_unavailable(exc):
        return ServiceError(503, f"Temporal does not answer ({what}); try again shortly")
    return ServiceError(502, f"{what}: {exc.message}")


_T = TypeVar("_T")


async def case_state(client: Client, case_id: str) -> CaseView:
    """The case's own answer to the `state` query (operators only, see the module doc)."""
    return await case_query(client, case_id, "state", result_type=CaseView)


async def case_query(
    client: Client, case_id: str, name: str, *args: Any, result_type: type[_T]
) -> _T:
    """A case's answer to one of its queries; refusals as for every Temporal call."""
    handle = client.get_workflow_handle(case_id)
    try:
        return await handle.query(name, *args, result_type=result_type)
    except RPCError as exc:
        raise _rpc_failure(exc, f"case {case_id}", f"no case {case_id}") from exc
    except WorkflowQueryFailedError as exc:
        raise ServiceError(502, f"case {case_id} could not answer: {exc}") from exc


async def case_histories(client: Client, case_id: str) -> list[WorkflowHistory]:
    """Every run of a case, oldest first (following each run's continued-from link back from
    the latest): what an operator replays to check a case against the current code."""
    found: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        hist = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
        found.append(hist)
        started = hist.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
        if not run_id:
            return list(reversed(found))


@dataclass(frozen=True)
class CaseRef:
    case_id: str
    entry: RegulationEntry
    run_id: str | None


async def resolve_case(client: Client, case_id: str, registry: Registry | None = None) -> CaseRef:
    """The running case and its regulation, from the workflow type Temporal recorded (the one
    authority that also survives an id scheme change)."""
    handle = client.get_workflow_handle(case_id)
    try:
        desc = await handle.describe(rpc_timeout=DESCRIBE_TIMEOUT)
    except RPCError as exc:
        raise _rpc_failure(exc, f"case {case_id}", f"no case {case_id}") from exc
    entry = next(
        (
            e
            for e in registry_or_default(registry).values()
            if e.workflow_name == desc.workflow_type
        ),
        None,
    )
    if entry is None:
        raise NotFound(f"{case_id} is not a case of a known regulation", "case_id")
    if desc.status != WorkflowExecutionStatus.RUNNING:
        state = desc.status.name.lower() if desc.status else "closed"
        raise Conflict(f"case {case_id} is no longer running ({state})", "case_id")
    return CaseRef(case_id, entry, desc.run_id)


async def act(
    client: Client,
    case_id: str,
    action: str,
    payload: Mapping[str, Any],
    user: User,
    *,
    registry: Registry | None = None,
    session_factory: SessionFactory | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Send `action` (an update or signal of the case's regulation) as `user`.

    A `complete_task` whose `signatures` include a one-time code ("otp") is checked and the
    code spent here (starter.sigcodes); the workflow receives server-made evidence instead."""
    ref = await resolve_case(client, case_id, registry)
    spec = action_spec(ref.entry, action)
    roles = set(user.roles or [])
    if spec.roles and not roles & set(spec.roles):
        raise Forbidden(
            f"{user.id} may not {action} on {case_id}: needs one of the roles "
            f"{', '.join(spec.roles)}",
            message_zh=f"{user.id} 不能在案件 {case_id} 上执行此操作：需要角色 "
            + "、".join(ROLE_BOOK.zh(r) for r in spec.roles),
        )
    if not isinstance(payload, Mapping):
        raise Invalid("the action payload must be a JSON object", "body")
    payload = dict(payload)
    if isinstance(payload.get("task_id"), str):
        payload["task_id"] = full_task_id(case_id, payload["task_id"])
    otp = sigcodes.otp_request(spec, payload)
    # The actor is who signed in, whatever the client sent.
    data = {**payload, "actor": actor_for(user).model_dump()}
    if otp is not None:
        data["signatures"] = sigcodes.placeholder_signatures(payload)
    arg = validated_action_input(spec, data)
    await check_people(session_factory, spec.people, arg)
    if otp is not None:
        if session_factory is None:
            raise ServiceError(503, "one-time signature codes need the database")
        result = await sigcodes.send_with_otp(
            session_factory, case_id, arg, otp, user, settings,
            lambda signed: send(client, case_id, spec, signed),
        )  # fmt: skip
    else:
        result = await send(client, case_id, spec, arg)
    if session_factory is not None and action == "complete_task" and payload.get("signatures"):
        # the image of a drawn signature, shown on the record it signed
        await attachments.keep_drawings(session_factory, payload["signatures"], user.id)
    if session_factory is not None:
        try:
            await _task_row_caught_up(session_factory, result)
        except Exception as exc:
            # The workflow applied the action: answer with its result even when the database
            # does not answer right now (the step is stored once it is back).
            if not is_unavailable(exc):
                raise
    return result


async def _task_row_caught_up(
    session_factory: SessionFactory, result: Mapping[str, Any], within: float = 3.0
) -> None:
    """Read-your-writes for task updates: the workflow persists a step right after the update
    returns, so wait (briefly) until the task row shows at least the returned version; a
    following "my tasks" or timeline read then agrees with what the caller was told."""
    task_id, version = result.get("id"), result.get("version")
    if not isinstance(task_id, str) or not isinstance(version, int):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with session_factory() as session:
            stored = await session.scalar(select(Task.version).where(Task.id == task_id))
        if stored is not None and stored >= version:
            return
        await asyncio.sleep(0.05)


def validated_action_input(spec: ActionSpec, data: Mapping[str, Any]) -> BaseModel:
    """An action's input model from its data; Invalid (422) naming the first bad field."""
    try:
        return spec.input_model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from exc


async def send(client: Client, case_id: str, spec: ActionSpec, arg: BaseModel) -> dict[str, Any]:
    """Deliver an action; a validator's refusal becomes the matching ServiceError."""
    handle = client.get_workflow_handle(case_id)
    try:
        if spec.kind == "signal":
            await handle.signal(spec.name, arg)
            return {"ok": True, "case_id": case_id, "action": spec.name}
        seconds = UPDATE_TIMEOUT.total_seconds()
        # rpc_timeout bounds each call; the outer timeout bounds the SDK's retry loop.
        async with asyncio.timeout(seconds + 5):
            result = await handle.execute_update(spec.name, arg, rpc_timeout=UPDATE_TIMEOUT)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise ServiceError(
            504,
            f"no worker answered {spec.name} on {case_id} within {seconds:g} s: is `zhidu "
            "worker` running? The update may still be applied once a worker picks it up; check "
            "the case before trying again",
        ) from exc
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in REFUSALS:
            raise REFUSALS[cause.type](cause.message, message_zh=refusal_zh(cause.details)) from exc
        raise ServiceError(500, f"{spec.name} failed on {case_id}: {cause or exc}") from exc
    except RPCError as exc:
        what = f"{spec.name} on {case_id}"
        raise _rpc_failure(exc, what, f"no running case {case_id}") from exc
    out = jsonable(result)
    return out if isinstance(out, dict) else {"result": out}
