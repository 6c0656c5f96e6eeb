"""A customer's signature by one-time code ("otp"), for any task whose spec lets the customer
sign by code (workflows.spec.Sign with "otp").

A customer who cannot draw on the screen signs with a 6-digit code sent to one of the case's
contacts (the regulation's `contacts` of the case input). Only a hash of "<task id>:<code>" is
stored (signature_codes), keyed with the server's secret; the plain code exists only in the
outbox row that delivers it, until it is delivered (then it is masked). The workflow never sees
the code: the server replaces it with evidence "otp:<code id>:<keyed hash>".

Spending a code: the newest code row of the task is locked (SELECT ... FOR UPDATE), checked,
marked used, and the update is sent while that transaction is still open. It commits only when
the workflow accepted the update; any refusal or error rolls `used_at` back, so the customer
can retry with the same code after e.g. a missing field is filled in. A second request with
the same code waits on the row lock and then finds it used.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import select

from activities.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from settings import get_settings
from starter.taskids import full_task_id
from store.models import Case, Notification, SignatureCode, Task, User
from workflows.authority import may_act
from workflows.registry import ActionSpec, Registry
from workflows.regulations import ROLE_BOOK, registry_or_default

if TYPE_CHECKING:
    from settings import Settings
    from store.db import SessionFactory

CODE_TTL = timedelta(minutes=10)
CODE_RESEND_AFTER = timedelta(seconds=30)
MAX_CODE_ATTEMPTS = 5
SIGNATURES_FIELD = "signatures"
CODE_FIELD = "signatures.code"
_CODE_RE = re.compile(r"^[0-9]{6}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PENDING = "otp:pending"


def code_hash(key: bytes, task_id: str, code: str) -> str:
    """A keyed hash (HMAC with the server's secret): the evidence a case keeps in its history
    cannot be turned back into the 6 digits by trying them all."""
    return hmac.new(key, f"{task_id}:{code}".encode(), hashlib.sha256).hexdigest()


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

    smtp reaches e-mail addresses; the console (a log line) delivers nothing to a customer,
    so it counts only on the dev stack (ZHIDU_CONSOLE_SHOWS_CODES). The webhook channel posts
    to a staff group chat, so it never carries a customer's code."""
    from activities.notify import parse_channels

    channels = parse_channels(settings.notify_channels)
    if _is_email(recipient) and "smtp" in channels:
        return "smtp"
    if "console" in channels and settings.console_shows_codes:
        return "console"
    return None


def _pick_recipient(settings: Settings, addresses: list[str], wanted: str | None) -> str:
    """`wanted` when it is a phone or e-mail of one of the case's contacts (a code sent anywhere
    else would prove nothing about the customer); else the first contact address that a
    configured channel can reach (phones before e-mail addresses)."""
    addresses = sorted(addresses, key=lambda a: "@" in a)
    if wanted is not None:
        wanted = wanted.strip()
        match = next((a for a in addresses if _norm_address(a) == _norm_address(wanted)), None)
        if match is None:
            raise Invalid(
                f"{wanted!r} is not a phone or e-mail of this case's customer contacts; the "
                "code must go to the customer",
                "recipient",
                f"{wanted!r} 不是本案件客户联系人的电话或邮箱；验证码只能发给客户",
            )
        if _code_channel(settings, match) is None:
            raise Invalid(
                f"no notification channel reaches {match} "
                f"(channels: {settings.notify_channels}); choose an e-mail address",
                "recipient",
                f"没有可发送到 {match} 的通知渠道（渠道：{settings.notify_channels}）；"
                "请选择邮箱地址",
            )
        return match
    reachable = [a for a in addresses if _code_channel(settings, a) is not None]
    if not reachable:
        raise Conflict(
            "no customer contact of this case has a phone or e-mail that a notification "
            f"channel ({settings.notify_channels}) can reach",
            "recipient",
            f"本案件的客户联系人没有通知渠道（{settings.notify_channels}）可以送达的电话或邮箱",
        )
    return reachable[0]


async def _task_for(session_factory: SessionFactory, task_id: str, user: User) -> tuple[Task, Case]:
    """The open task (as the database shows it) that `user` may complete, and its case."""
    async with session_factory() as session:
        task = await session.get(Task, task_id)
        case = await session.get(Case, task.case_id) if task is not None else None
    if task is None or case is None:
        raise NotFound(f"no task {task_id}", "task_id", f"没有任务 {task_id}")
    if not may_act(task.role, task.assignee, user.id, list(user.roles or [])):
        who = f"role {task.role}" + (f" and user {task.assignee}" if task.assignee else "")
        who_zh = f"角色「{ROLE_BOOK.zh(task.role)}」" + (
            f"，且须为 {task.assignee}" if task.assignee else ""
        )
        raise Forbidden(
            f"{user.id} may not act on task {task_id} ({task.title}): it needs {who}",
            message_zh=f"{user.id} 不能处理任务 {task_id}（{task.title}）：需要{who_zh}",
        )
    if task.status != "open":
        raise Conflict(
            f"task {task_id} is already {task.status}", "task_id", f"任务 {task_id} 已关闭"
        )
    return task, case


def _otp_record_title(task: Task, registry: Registry) -> str | None:
    """The title of the record the task's customer signs by code, or None if it takes none."""
    for req in (task.meta or {}).get("signatures", []):
        if req.get("party") == "customer" and "otp" in req.get("methods", []):
            entry = registry.get(task.regulation)
            spec = entry.workflow._specs.get(task.kind) if entry else None  # type: ignore[attr-defined]
            record = getattr(spec, "record", None)
            return record.title if record is not None else "签字"
    return None


async def issue_signature_code(
    session_factory: SessionFactory,
    case_id: str,
    task_id: str,
    user: User,
    recipient: str | None,
    *,
    settings: Settings | None = None,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Send a one-time code to the customer of `task_id` so they can sign its record ("otp").

    Returns {code_id, recipient, expires_at}, never the code. Only the user who may complete
    the task may ask; the recipient must be one of the case's customer contacts."""
    if settings is None:
        settings = get_settings()
    task_id = full_task_id(case_id, task_id)
    registry = registry_or_default(registry)
    task, case = await _task_for(session_factory, task_id, user)
    title = _otp_record_title(task, registry)
    if task.case_id != case_id or title is None:
        raise Invalid(
            f"task {task_id} ({task.title}) takes no customer signature by code",
            "task_id",
            f"任务 {task_id}（{task.title}）不需要客户以验证码签字",
        )
    entry = registry[case.regulation]
    addresses = entry.contacts(entry.input_model.model_validate(case.input))
    address = _pick_recipient(settings, addresses, recipient)
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
                429,
                f"a code for task {task_id} was just sent; ask again in {wait} s",
                "task_id",
                f"刚刚已为任务 {task_id} 发送过验证码；请 {wait} 秒后再试",
            )
        row = SignatureCode(
            case_id=case_id,
            task_id=task_id,
            recipient=address,
            code_hash=code_hash(settings.assertion_keys()[0], task_id, code),
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
                subject=f"{title}签字验证码",
                body=f"您的签字验证码：{code}，{minutes} 分钟内有效（{title}）",
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
        )
    return {"code_id": row.id, "recipient": address, "expires_at": row.expires_at.isoformat()}


@dataclass(frozen=True)
class OtpRequest:
    task_id: str
    code: str
    signer_name: str
    index: int  # position in `signatures`


def otp_request(spec: ActionSpec, payload: Mapping[str, Any]) -> OtpRequest | None:
    """The one-time code of a complete_task signed by "otp", checked for shape; else None."""
    if spec.name != "complete_task":
        return None
    sigs = payload.get(SIGNATURES_FIELD)
    if not isinstance(sigs, list):
        return None
    for i, sig in enumerate(sigs):
        if not isinstance(sig, Mapping) or sig.get("method") != "otp":
            continue
        code = sig.get("code")
        if code is None or (isinstance(code, str) and not code.strip()):
            if sig.get("evidence"):
                raise Invalid(
                    "the evidence of an otp signature is set by the server only; send the "
                    "6-digit code the customer received",
                    CODE_FIELD,
                    "验证码签字的凭据只能由服务器生成；请填写客户收到的 6 位验证码",
                )
            raise Invalid(
                "an otp signature needs the 6-digit code the customer received",
                CODE_FIELD,
                "请填写客户收到的 6 位验证码",
            )
        code = str(code).strip()
        if not _CODE_RE.match(code):
            raise Invalid("the one-time code is 6 digits", CODE_FIELD, "验证码为 6 位数字")
        signer = sig.get("signer_name")
        if not isinstance(signer, str) or not signer.strip():
            raise Invalid(
                "the customer who signs must be named",
                f"{SIGNATURES_FIELD}.signer_name",
                "请填写签字客户的姓名",
            )
        return OtpRequest(str(payload.get("task_id") or ""), code, signer.strip(), i)
    return None


def placeholder_signatures(payload: Mapping[str, Any]) -> list[Any]:
    """The signatures with each code replaced by a placeholder the input model accepts; the
    real evidence is set once the code has been checked."""
    out: list[Any] = []
    for sig in payload.get(SIGNATURES_FIELD) or []:
        if isinstance(sig, Mapping) and sig.get("method") == "otp":
            sig = {k: v for k, v in sig.items() if k != "code"} | {"evidence": _PENDING}
        out.append(sig)
    return out


def _code_refusal(row: SignatureCode | None, task_id: str, now: datetime) -> tuple[str, str] | None:
    """Why the newest code row of the task cannot be used at all (before comparing), in
    English and in Chinese."""
    if row is None:
        return (
            f"no one-time code was sent for task {task_id}; request one first",
            f"尚未为任务 {task_id} 发送验证码；请先发送",
        )
    if row.used_at is not None:
        return (
            "this one-time code has already been used; request a new one",
            "此验证码已使用过；请重新发送",
        )
    if row.expires_at <= now:
        return "the one-time code has expired; request a new one", "验证码已过期；请重新发送"
    if row.attempts >= MAX_CODE_ATTEMPTS:
        return "too many wrong codes; request a new one", "验证码错误次数过多；请重新发送"
    return None


async def send_with_otp(
    session_factory: SessionFactory,
    case_id: str,
    arg: BaseModel,
    otp: OtpRequest,
    user: User,
    settings: Settings | None,
    send: Callable[[BaseModel], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Check and spend the code, then `send` the completion with the code's evidence."""
    task_id = otp.task_id
    # Only who may complete the task may try codes (others would burn the customer's code).
    await _task_for(session_factory, task_id, user)
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
            raise Invalid(problem[0], CODE_FIELD, problem[1])
        assert row is not None
        key = (settings or get_settings()).assertion_keys()[0]
        if not hmac.compare_digest(row.code_hash, code_hash(key, task_id, otp.code)):
            row.attempts += 1
            left = MAX_CODE_ATTEMPTS - row.attempts
            await session.commit()
            more = f"{left} tries left" if left > 0 else "request a new one"
            more_zh = f"还可以再试 {left} 次" if left > 0 else "请重新发送"
            raise Invalid(f"wrong one-time code ({more})", CODE_FIELD, f"验证码错误（{more_zh}）")
        row.used_at = now
        await session.flush()
        sigs = list(getattr(arg, SIGNATURES_FIELD))
        sigs[otp.index] = sigs[otp.index].model_copy(
            update={"signer_name": otp.signer_name, "evidence": f"otp:{row.id}:{row.code_hash}"}
        )
        signed = arg.model_copy(update={SIGNATURES_FIELD: sigs})
        try:
            result = await send(signed)
        except BaseException:
            # Refused or failed: the code stays unused, the customer may try again.
            await session.rollback()
            raise
        await session.commit()
        return result
