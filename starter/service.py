"""The one place the HTTP API and the CLI go through, so both behave the same.

Every check that depends on who acts happens here or in the workflow's update validator, and
the actor is always built from the signed-in user (`actor_for`), never from client input.
Failures are `ServiceError`s whose `status` is the HTTP status the API answers with.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, or_, select
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from store.models import (
    Case,
    Event,
    Notification,
    Penalty,
    Record,
    Signature,
    SignatureCode,
    Task,
    User,
)
from worker import CASE_STATUS, CUSTOMER_ID, REGULATION
from workflows.authority import may_act
from workflows.model import Actor, CaseView, TaskState
from workflows.registry import ActionSpec, RegulationEntry

if TYPE_CHECKING:
    from settings import Settings
    from store.db import SessionFactory

Registry = Mapping[str, RegulationEntry]

# How long an update may wait for a worker to accept and answer it.
UPDATE_TIMEOUT = timedelta(seconds=30)


# ---- errors ----------------------------------------------------------------------------------


class ServiceError(Exception):
    """A refusal with the HTTP status the API answers with and, where known, the field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class _Refusal(ServiceError):
    """A ServiceError whose status comes with its kind."""

    STATUS = 500

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(self.STATUS, message, field)


class NotFound(_Refusal):
    STATUS = 404


class Forbidden(_Refusal):
    STATUS = 403


class Conflict(_Refusal):
    STATUS = 409


class Invalid(_Refusal):
    STATUS = 422


class ConfigError(_Refusal):
    """The server's own configuration is wrong (e.g. a bad policy file)."""


# Validator refusals (ApplicationError.type, see workflows.engine.refuse) -> service errors.
_REFUSALS: dict[str, type[NotFound | Forbidden | Conflict | Invalid]] = {
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "Conflict": Conflict,
    "Invalid": Invalid,
}


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    # Imported lazily: the starter imports even while a regulation module is being written.
    from workflows import REGISTRY

    return REGISTRY


def get_entry(code: str, registry: Registry | None = None) -> RegulationEntry:
    entry = _registry(registry).get(code)
    if entry is None:
        known = ", ".join(sorted(_registry(registry))) or "none"
        raise NotFound(f"unknown regulation {code!r} (known: {known})", "code")
    return entry


def field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def invalid_from(exc: ValidationError, prefix: str = "") -> Invalid:
    """The first error of a pydantic ValidationError, naming its field path."""
    err = exc.errors()[0]
    path = field_path(tuple(err["loc"]))
    if prefix:
        path = f"{prefix}.{path}" if path != "body" else prefix
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return Invalid(f"{err['msg']}{extra}", path)


# ---- people ------------------------------------------------------------------------------------


def actor_for(user: User) -> Actor:
    """The workflow's idea of who acts, built from the database user only."""
    return Actor(id=user.id, roles=list(user.roles or []), name=user.name)


async def check_people(
    session_factory: SessionFactory | None, people: Mapping[str, str], values: Any
) -> None:
    """Every person a case or an action names (`people`: field -> role code) must be an active
    user holding that role. `values` is the validated input model (or a mapping); fields whose
    value is None are not checked. Invalid (422) naming the first bad field."""
    wanted: list[tuple[str, str, str]] = []
    for name, role in people.items():
        value = values.get(name) if isinstance(values, Mapping) else getattr(values, name, None)
        if value is not None:
            wanted.append((name, str(value), role))
    if not wanted:
        return
    if session_factory is None:
        raise ServiceError(503, "checking the people a case names needs the database")
    async with session_factory() as session:
        found = (
            await session.scalars(select(User).where(User.id.in_({uid for _, uid, _ in wanted})))
        ).all()
    by_id = {u.id: u for u in found}
    for name, uid, role in wanted:
        user = by_id.get(uid)
        if user is None or not user.active or role not in (user.roles or []):
            raise Invalid(
                f"no active user {json.dumps(uid, ensure_ascii=False)} with role {role}", name
            )


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "roles": list(user.roles or []),
        "department": user.department,
        "email": user.email,
        "phone": user.phone,
        "active": user.active,
    }


# ---- policy ------------------------------------------------------------------------------------


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_policy(entry: RegulationEntry, settings: Settings) -> BaseModel:
    """The regulation's policy: its defaults, overlaid with the company's policy file
    (`{code: {field: value}}`, nested models merged field by field). A bad file is refused
    with a message that names the file and the field."""
    defaults = entry.policy_model()
    path = settings.policy_file
    if path is None:
        return defaults
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"policy file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"policy file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"policy file {path} must be a JSON object {{code: {{field: value}}}}")
    section = data.get(entry.code)
    if section is None:
        return defaults
    if not isinstance(section, dict):
        raise ConfigError(f"policy file {path}: {entry.code!r} must be an object", entry.code)
    unknown = sorted(set(section) - set(entry.policy_model.model_fields))
    if unknown:
        raise ConfigError(
            f"policy file {path}: {entry.code} has no policy field(s) {', '.join(unknown)}",
            f"{entry.code}.{unknown[0]}",
        )
    merged = _deep_merge(defaults.model_dump(mode="json"), section)
    try:
        return entry.policy_model.model_validate(merged)
    except ValidationError as exc:
        bad = invalid_from(exc, entry.code)
        raise ConfigError(f"policy file {path}: {bad.field}: {bad.message}", bad.field) from exc


# ---- cases in Temporal ---------------------------------------------------------------------------


def console_url(settings: Settings, case_id: str) -> str:
    base = settings.temporal_ui_url.rstrip("/")
    ns = quote(settings.temporal_namespace, safe="")
    return f"{base}/namespaces/{ns}/workflows/{quote(case_id, safe='')}"


def _is_not_found(exc: RPCError) -> bool:
    return exc.status == RPCStatusCode.NOT_FOUND


@dataclass(frozen=True)
class StartPlan:
    """A checked start: everything `launch` sends to Temporal."""

    entry: RegulationEntry
    case_id: str
    title: str
    arg: BaseModel
    search_attributes: TypedSearchAttributes


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
    if not isinstance(raw_input, Mapping):
        raise Invalid("the case input must be a JSON object", "body")
    try:
        inp = entry.input_model.model_validate(dict(raw_input))
    except ValidationError as exc:
        raise invalid_from(exc) from exc
    await check_people(session_factory, getattr(entry, "people", {}), inp)
    policy = load_policy(entry, settings)
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(REGULATION, entry.code),
        SearchAttributePair(CASE_STATUS, "open"),
    ]
    customer = entry.customer_id(inp)
    if customer:
        pairs.append(SearchAttributePair(CUSTOMER_ID, customer))
    return StartPlan(
        entry=entry,
        case_id=entry.workflow_id(inp),
        title=entry.case_title(inp),
        arg=entry.start_arg(inp, policy, actor_for(user)),
        search_attributes=TypedSearchAttributes(pairs),
    )


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
    return await launch(client, settings, plan)


async def case_state(client: Client, case_id: str) -> CaseView:
    """The case's own answer to the `state` query."""
    handle = client.get_workflow_handle(case_id)
    try:
        return await handle.query("state", result_type=CaseView)
    except RPCError as exc:
        if _is_not_found(exc):
            raise NotFound(f"no case {case_id}", "case_id") from exc
        raise ServiceError(502, f"case {case_id}: {exc.message}") from exc
    except WorkflowQueryFailedError as exc:
        raise ServiceError(502, f"case {case_id} could not answer: {exc}") from exc


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
        desc = await handle.describe()
    except RPCError as exc:
        if _is_not_found(exc):
            raise NotFound(f"no case {case_id}", "case_id") from exc
        raise ServiceError(502, f"case {case_id}: {exc.message}") from exc
    entry = next(
        (e for e in _registry(registry).values() if e.workflow_name == desc.workflow_type), None
    )
    if entry is None:
        raise NotFound(f"{case_id} is not a case of a known regulation", "case_id")
    if desc.status != WorkflowExecutionStatus.RUNNING:
        state = desc.status.name.lower() if desc.status else "closed"
        raise Conflict(f"case {case_id} is no longer running ({state})", "case_id")
    return CaseRef(case_id, entry, desc.run_id)


def jsonable(value: Any) -> Any:
    """Plain JSON values: pydantic models dumped, datetimes ISO 8601, decimals as floats."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def action_spec(entry: RegulationEntry, action: str) -> ActionSpec:
    spec = entry.all_actions().get(action)
    if spec is None:
        names = ", ".join(entry.all_actions())
        raise NotFound(f"{entry.code} has no action {action!r} (actions: {names})", "action")
    return spec


async def act(
    client: Client,
    case_id: str,
    action: str,
    payload: Mapping[str, Any],
    user: User,
    *,
    registry: Registry | None = None,
    session_factory: SessionFactory | None = None,
) -> dict[str, Any]:
    """Send `action` (an update or signal of the case's regulation) as `user`.

    A `complete_task` whose `data.customer_signature.method` is "otp" carries the customer's
    one-time code in `data.customer_signature.code`; it is checked and spent here
    (`_send_with_otp`) and the workflow receives server-made evidence instead of the code."""
    ref = await resolve_case(client, case_id, registry)
    spec = action_spec(ref.entry, action)
    roles = set(user.roles or [])
    if spec.roles and not roles & set(spec.roles):
        raise Forbidden(
            f"{user.id} may not {action} on {case_id}: needs one of the roles "
            f"{', '.join(spec.roles)}"
        )
    if not isinstance(payload, Mapping):
        raise Invalid("the action payload must be a JSON object", "body")
    # The actor is who signed in, whatever the client sent.
    data = {**payload, "actor": actor_for(user).model_dump()}
    try:
        arg = spec.input_model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from exc
    await check_people(session_factory, spec.people, arg)
    otp = _otp_request(spec, payload)
    if otp is not None:
        if session_factory is None:
            raise ServiceError(503, "one-time signature codes need the database")
        result = await _send_with_otp(client, session_factory, case_id, spec, arg, otp, user)
    else:
        result = await _send(client, case_id, action, spec, arg)
    if session_factory is not None:
        await _task_row_caught_up(session_factory, result)
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


async def _send(
    client: Client, case_id: str, action: str, spec: ActionSpec, arg: BaseModel
) -> dict[str, Any]:
    handle = client.get_workflow_handle(case_id)
    try:
        if spec.kind == "signal":
            await handle.signal(spec.name, arg)
            return {"ok": True, "case_id": case_id, "action": action}
        seconds = UPDATE_TIMEOUT.total_seconds()
        # rpc_timeout bounds each call; the outer timeout bounds the SDK's retry loop.
        async with asyncio.timeout(seconds + 5):
            result = await handle.execute_update(spec.name, arg, rpc_timeout=UPDATE_TIMEOUT)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise ServiceError(
            504,
            f"no worker answered {action} on {case_id} within {seconds:g} s: is `zhidu worker` "
            "running? The update may still be applied once a worker picks it up; check the "
            "case before trying again",
        ) from exc
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in _REFUSALS:
            raise _REFUSALS[cause.type](cause.message) from exc
        raise ServiceError(500, f"{action} failed on {case_id}: {cause or exc}") from exc
    except RPCError as exc:
        if _is_not_found(exc):
            raise NotFound(f"no running case {case_id}", "case_id") from exc
        raise ServiceError(502, f"{action} on {case_id}: {exc.message}") from exc
    out = jsonable(result)
    return out if isinstance(out, dict) else {"result": out}


# ---- customer signature by one-time code ("otp") ------------------------------------------------
#
# A customer who cannot draw on the screen signs the 《客户回访记录表》 with a 6-digit code sent to
# one of the case's contacts. Only sha256("<task id>:<code>") is stored (signature_codes); the
# plain code exists in the outbox row that delivers it (and, on the console channel, in the log
# line, which is how the dev stack shows it). The workflow never sees the code: the server
# replaces it with evidence "otp:<code id>:<code hash>".
#
# Spending a code: the newest code row of the task is locked (SELECT ... FOR UPDATE), checked,
# marked used, and the update is sent while that transaction is still open. It commits only when
# the workflow accepted the update; any refusal or error rolls `used_at` back, so the customer
# can retry with the same code after e.g. a missing field is filled in. A second request with
# the same code waits on the row lock and then finds it used.

CODE_TTL = timedelta(minutes=10)
CODE_RESEND_AFTER = timedelta(seconds=30)
MAX_CODE_ATTEMPTS = 5
CODE_FIELD = "data.customer_signature.code"
SIGNATURE_FIELD = "data.customer_signature"
# Task kinds whose completion takes a customer signature (VisitRecordData.customer_signature).
SIGNABLE_TASK_KINDS = ("visit",)
_CODE_RE = re.compile(r"^[0-9]{6}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def full_task_id(case_id: str, task_id: str) -> str:
    """`t3` -> `<case id>/t3`; a full task id is returned as is."""
    return task_id if "/" in task_id else f"{case_id}/{task_id}"


def code_hash(task_id: str, code: str) -> str:
    return hashlib.sha256(f"{task_id}:{code}".encode()).hexdigest()


def _authorized_for(task: TaskState, user: User) -> bool:
    """The workflows' own rule (workflows.authority.may_act)."""
    return may_act(task.role, task.assignee, user.id, list(user.roles or []))


def _task_for(view: CaseView, task_id: str, user: User) -> TaskState:
    task = next((t for t in view.tasks if t.id == task_id), None)
    if task is None:
        raise NotFound(f"no task {task_id} in case {view.case_id}", "task_id")
    if not _authorized_for(task, user):
        who = f"role {task.role}" + (f" and user {task.assignee}" if task.assignee else "")
        raise Forbidden(f"{user.id} may not act on task {task_id} ({task.title}): it needs {who}")
    return task


def _norm_address(value: str) -> str:
    """Comparable form of a phone (digits and a leading +) or an e-mail (lower case)."""
    value = value.strip()
    if "@" in value:
        return value.lower()
    digits = re.sub(r"[^0-9]", "", value)
    return ("+" if value.startswith("+") else "") + digits


def _is_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value.strip()))


def _code_channel(settings: Settings, recipient: str) -> str | None:
    """The one outbox channel that can deliver a code to `recipient`, or None.

    smtp reaches e-mail addresses; console (development) shows any recipient in the log. The
    webhook channel posts to a staff group chat, so it never carries a customer's code."""
    from activities.notify import parse_channels

    channels = parse_channels(settings.notify_channels)
    if _is_email(recipient) and "smtp" in channels:
        return "smtp"
    if "console" in channels:
        return "console"
    return None


async def _case_contacts(session_factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    """The customer's contacts, as the case was started with them (cases.input["contacts"])."""
    async with session_factory() as session:
        case = await session.get(Case, case_id)
    contacts: Any = (case.input or {}).get("contacts") if case is not None else None
    return [dict(c) for c in contacts or [] if isinstance(c, Mapping)]


def _pick_recipient(settings: Settings, contacts: list[dict[str, Any]], wanted: str | None) -> str:
    """`wanted` when it is a phone or e-mail of one of the case's contacts (a code sent anywhere
    else would prove nothing about the customer); else the first contact's phone, else e-mail,
    that a configured channel can reach."""
    addresses: list[str] = []
    for key in ("phone", "email"):
        for c in contacts:
            value = c.get(key)
            if isinstance(value, str) and value.strip():
                addresses.append(value.strip())
    if wanted is not None:
        wanted = wanted.strip()
        match = next((a for a in addresses if _norm_address(a) == _norm_address(wanted)), None)
        if match is None:
            raise Invalid(
                f"{wanted!r} is not a phone or e-mail of this case's customer contacts; the "
                "code must go to the customer",
                "recipient",
            )
        if _code_channel(settings, match) is None:
            raise Invalid(
                f"no notification channel reaches {match} "
                f"(channels: {settings.notify_channels}); choose an e-mail address",
                "recipient",
            )
        return match
    reachable = [a for a in addresses if _code_channel(settings, a) is not None]
    if not reachable:
        raise Conflict(
            "no customer contact of this case has a phone or e-mail that a notification "
            f"channel ({settings.notify_channels}) can reach",
            "recipient",
        )
    return reachable[0]


async def issue_signature_code(
    client: Client,
    session_factory: SessionFactory,
    case_id: str,
    task_id: str,
    user: User,
    recipient: str | None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Send a one-time code to the customer of `task_id` so they can sign its record ("otp").

    Returns {code_id, recipient, expires_at}, never the code. Only the user who may complete
    the task may ask; the recipient must be one of the case's customer contacts."""
    if settings is None:
        from settings import get_settings

        settings = get_settings()
    task_id = full_task_id(case_id, task_id)
    view = await case_state(client, case_id)
    task = _task_for(view, task_id, user)
    if task.status != "open":
        raise Conflict(f"task {task_id} is already {task.status}", "task_id")
    if task.kind not in SIGNABLE_TASK_KINDS:
        raise Invalid(f"task {task_id} ({task.title}) takes no customer signature", "task_id")
    address = _pick_recipient(settings, await _case_contacts(session_factory, case_id), recipient)
    channel = _code_channel(settings, address)
    assert channel is not None  # _pick_recipient only returns reachable addresses
    now = datetime.now(UTC)
    code = f"{secrets.randbelow(10**6):06d}"
    async with session_factory() as session, session.begin():
        last = await session.scalar(
            select(SignatureCode)
            .where(SignatureCode.task_id == task_id)
            .order_by(SignatureCode.id.desc())
            .limit(1)
        )
        if last is not None and last.used_at is None and now - last.created_at < CODE_RESEND_AFTER:
            wait = int((CODE_RESEND_AFTER - (now - last.created_at)).total_seconds()) + 1
            raise ServiceError(
                429, f"a code for task {task_id} was just sent; ask again in {wait} s", "task_id"
            )
        row = SignatureCode(
            case_id=case_id,
            task_id=task_id,
            recipient=address,
            code_hash=code_hash(task_id, code),
            created_at=now,
            expires_at=now + CODE_TTL,
            attempts=0,
        )
        session.add(row)
        await session.flush()
        minutes = int(CODE_TTL.total_seconds() // 60)
        session.add(
            Notification(
                key=f"sigcode/{row.id}",
                case_id=case_id,
                channel=channel,
                recipient=address,
                subject="客户回访记录表签字验证码",
                body=f"您的签字验证码：{code}，{minutes} 分钟内有效（客户回访记录表）",
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
        )
    return {"code_id": row.id, "recipient": address, "expires_at": row.expires_at.isoformat()}


@dataclass(frozen=True)
class _OtpRequest:
    task_id: str
    code: str
    signer_name: str


def _otp_request(spec: ActionSpec, payload: Mapping[str, Any]) -> _OtpRequest | None:
    """The one-time code of a complete_task signed by "otp", checked for shape; else None."""
    if spec.name != "complete_task":
        return None
    data = payload.get("data")
    sig = data.get("customer_signature") if isinstance(data, Mapping) else None
    if not isinstance(sig, Mapping) or sig.get("method") != "otp":
        return None
    code = sig.get("code")
    if code is None or (isinstance(code, str) and not code.strip()):
        if sig.get("evidence"):
            raise Invalid(
                "the evidence of an otp signature is set by the server only; send the 6-digit "
                "code the customer received",
                CODE_FIELD,
            )
        raise Invalid("an otp signature needs the 6-digit code the customer received", CODE_FIELD)
    code = str(code).strip()
    if not _CODE_RE.match(code):
        raise Invalid("the one-time code is 6 digits", CODE_FIELD)
    signer = sig.get("signer_name")
    if not isinstance(signer, str) or not signer.strip():
        raise Invalid("the customer who signs must be named", f"{SIGNATURE_FIELD}.signer_name")
    return _OtpRequest(str(payload.get("task_id") or ""), code, signer.strip())


def _code_refusal(row: SignatureCode | None, task_id: str, now: datetime) -> str | None:
    """Why the newest code row of the task cannot be used at all (before comparing)."""
    if row is None:
        return f"no one-time code was sent for task {task_id}; request one first"
    if row.used_at is not None:
        return "this one-time code has already been used; request a new one"
    if row.expires_at <= now:
        return "the one-time code has expired; request a new one"
    if row.attempts >= MAX_CODE_ATTEMPTS:
        return "too many wrong codes; request a new one"
    return None


async def _send_with_otp(
    client: Client,
    session_factory: SessionFactory,
    case_id: str,
    spec: ActionSpec,
    arg: BaseModel,
    otp: _OtpRequest,
    user: User,
) -> dict[str, Any]:
    task_id = otp.task_id
    # Only who may complete the task may try codes (others would burn the customer's code).
    _task_for(await case_state(client, case_id), task_id, user)
    async with session_factory() as session:
        # Newest code of the task, locked: a concurrent request with the same code waits here.
        row = await session.scalar(
            select(SignatureCode)
            .where(SignatureCode.task_id == task_id, SignatureCode.case_id == case_id)
            .order_by(SignatureCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        now = datetime.now(UTC)
        problem = _code_refusal(row, task_id, now)
        if problem is not None:
            raise Invalid(problem, CODE_FIELD)
        assert row is not None
        if not hmac.compare_digest(row.code_hash, code_hash(task_id, otp.code)):
            row.attempts += 1
            left = MAX_CODE_ATTEMPTS - row.attempts
            await session.commit()
            more = f"{left} tries left" if left > 0 else "request a new one"
            raise Invalid(f"wrong one-time code ({more})", CODE_FIELD)
        row.used_at = now
        await session.flush()
        data = dict(getattr(arg, "data", {}))
        data["customer_signature"] = {
            "signer_name": otp.signer_name,
            "method": "otp",
            "evidence": f"otp:{row.id}:{row.code_hash}",
        }
        signed = arg.model_copy(update={"data": data})
        try:
            result = await _send(client, case_id, spec.name, spec, signed)
        except BaseException:
            # Refused or failed: the code stays unused, the customer may try again.
            await session.rollback()
            raise
        await session.commit()
        return result


# ---- reads from the database ---------------------------------------------------------------------


def row_dict(obj: Any) -> dict[str, Any]:
    """A mapped row as plain JSON values (columns only)."""
    return {c.key: jsonable(getattr(obj, c.key)) for c in obj.__table__.columns}


async def my_tasks(session_factory: SessionFactory, user: User) -> list[dict[str, Any]]:
    """Open tasks this user may complete: of one of their roles, and either unassigned or
    assigned to them (workflows.authority.may_act, as SQL)."""
    roles = list(user.roles or [])
    if not roles:
        return []
    cond = and_(Task.role.in_(roles), or_(Task.assignee.is_(None), Task.assignee == user.id))
    stmt = (
        select(Task)
        .where(Task.status == "open", cond)
        .order_by(Task.due_at.asc().nulls_last(), Task.created_at, Task.id)
    )
    async with session_factory() as session:
        rows = (await session.scalars(stmt)).all()
    return [row_dict(t) for t in rows]


async def list_cases(
    session_factory: SessionFactory,
    regulation: str | None = None,
    status: str | None = None,
    customer_id: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    stmt = select(Case)
    if regulation:
        stmt = stmt.where(Case.regulation == regulation)
    if status:
        stmt = stmt.where(Case.status == status)
    if customer_id:
        stmt = stmt.where(Case.customer_id == customer_id)
    stmt = stmt.order_by(Case.started_at.desc(), Case.id).limit(limit)
    async with session_factory() as session:
        rows = (await session.scalars(stmt)).all()
    return [row_dict(c) for c in rows]


async def _require_case(session: Any, case_id: str) -> None:
    if await session.get(Case, case_id) is None:
        raise NotFound(f"no case {case_id}", "case_id")


async def case_timeline(session_factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    """The append-only event timeline, oldest first."""
    async with session_factory() as session:
        await _require_case(session, case_id)
        rows = (
            await session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.seq))
        ).all()
    return [row_dict(e) for e in rows]


async def case_records(session_factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    """The case's named records, each with its signatures (id, signer, role, method, time), so
    a signature can be verified later by its id."""
    async with session_factory() as session:
        await _require_case(session, case_id)
        rows = (
            await session.scalars(
                select(Record)
                .where(Record.case_id == case_id)
                .order_by(Record.created_at, Record.id)
            )
        ).all()
        sigs = (
            await session.scalars(
                select(Signature)
                .where(Signature.case_id == case_id)
                .order_by(Signature.signed_at, Signature.id)
            )
        ).all()
    by_record: dict[str, list[dict[str, Any]]] = {}
    for sig in sigs:
        by_record.setdefault(sig.record_id, []).append(
            {k: jsonable(getattr(sig, k)) for k in ("id", "signer", "role", "method", "signed_at")}
        )
    return [{**row_dict(r), "signatures": by_record.get(r.id, [])} for r in rows]


async def case_penalties(session_factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    async with session_factory() as session:
        await _require_case(session, case_id)
        rows = (
            await session.scalars(
                select(Penalty).where(Penalty.case_id == case_id).order_by(Penalty.at, Penalty.id)
            )
        ).all()
    return [row_dict(p) for p in rows]


async def provisional_case_ids(session_factory: SessionFactory) -> list[str]:
    """Cases with an open task whose due date is provisional (calendar year not yet loaded)."""
    stmt = (
        select(Task.case_id)
        .where(Task.provisional.is_(True), Task.status == "open")
        .distinct()
        .order_by(Task.case_id)
    )
    async with session_factory() as session:
        return list((await session.scalars(stmt)).all())


# ---- the registry as data ------------------------------------------------------------------------


def action_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An action's input schema as a client fills it: without `actor` (the server sets it)."""
    schema = model.model_json_schema()
    schema.get("properties", {}).pop("actor", None)
    if "required" in schema:
        schema["required"] = [f for f in schema["required"] if f != "actor"]
    return schema


def regulation_dict(entry: RegulationEntry, settings: Settings | None = None) -> dict[str, Any]:
    policy = load_policy(entry, settings) if settings is not None else entry.policy_model()
    return {
        "code": entry.code,
        "title_zh": entry.title_zh,
        "title_en": entry.title_en,
        "workflow_name": entry.workflow_name,
        "start_roles": list(entry.start_roles),
        "people": dict(getattr(entry, "people", {})),
        "source": entry.source,
        "input_schema": entry.input_model.model_json_schema(),
        "policy_schema": entry.policy_model.model_json_schema(),
        "policy_defaults": entry.policy_model().model_dump(mode="json"),
        "policy": policy.model_dump(mode="json"),
        "actions": [
            {
                "name": a.name,
                "kind": a.kind,
                "roles": list(a.roles),
                "people": dict(a.people),
                "title_zh": a.title_zh,
                "title_en": a.title_en,
                "input_schema": action_schema(a.input_model),
            }
            for a in entry.all_actions().values()
        ],
    }


def list_regulations(
    settings: Settings | None = None, registry: Registry | None = None
) -> list[dict[str, Any]]:
    return [regulation_dict(e, settings) for e in _registry(registry).values()]
