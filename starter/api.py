"""The HTTP API (JSON, OpenAPI at /docs). Every route goes through `starter.cases` (Temporal)
and `store.queries` (reads), the same code the CLI uses.

Authentication: `Authorization: Bearer zd_...` (API tokens, for integrations) or the session
cookie set by `POST /api/login` (a random token; the server keeps the session, so logout ends
it; httponly, SameSite=Lax, Secure with `ZHIDU_SECURE_COOKIES`), which the web pages reuse.

Every refusal has one shape, `{"detail": "...", "field": "..." | null}`, and each route lists
its status codes in the OpenAPI document. A database that does not answer is 503 with
Retry-After; nothing here answers 500 for what a client sent.

Task ids contain the case id and a slash (`revisit-C1/t3`). The task routes take either the full
id or the short form after the slash: `/api/cases/revisit-C1/tasks/t3/complete`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client

from activities.errors import Forbidden, Invalid, NotFound, ServiceError, invalid_from
from starter import attachments, cases, catalog, sessions, sigcodes, signatures, users
from starter.auth import (
    CurrentUser,
    SessionCookie,
    clear_session_cookie,
    client_address,
    set_session_cookie,
    sign_in,
)
from starter.state import AppState, ClientDep, SessionFactoryDep, StateDep, get_session_factory
from starter.survey_links import issue_links as survey_links_of
from store import queries
from store.db import SessionFactory
from store.models import User
from workflows.model import Attachment, Form


class ErrorBody(BaseModel):
    """Every refusal: what is wrong, and the field it is about (when it is about one)."""

    detail: str
    field: str | None = None


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route: its refusals, all in the ErrorBody shape."""
    text = {
        400: "Bad request",
        401: "Not signed in",
        403: "Not allowed (the reason names the role or person needed)",
        404: "Not found",
        409: "Conflict with the case's state",
        413: "Request body too large",
        422: "Invalid input (the field is named)",
        429: "Too many attempts",
        503: "A service (database or Temporal) does not answer; retry later",
        504: "No worker answered in time",
    }
    # 400: a body that is not UTF-8, a Cookie header that cannot be read, a path that is no
    # route's (any route may meet one); 413 and 503: any route, any time.
    return {c: {"model": ErrorBody, "description": text[c]} for c in (400, *codes, 413, 503)}


CaseId = Annotated[str, Path(min_length=1, max_length=200, description="案件编号 / case id")]
TaskId = Annotated[str, Path(min_length=1, max_length=250, description="t3 or <case id>/t3")]


# ---- bodies -----------------------------------------------------------------------------------


class LoginBody(Form):
    login: str = Field(min_length=1, max_length=200, description="user id or e-mail / 用户名或邮箱")
    password: str = Field(min_length=1, max_length=200)


class CompleteBody(Form):
    outcome: str = Field("done", min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    signatures: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=5,
        description="customer signatures: {signer_name, method: drawing|otp, evidence | code}",
    )


class ExtendBody(Form):
    new_due: datetime
    reason: str = Field(min_length=2, max_length=1000)


class PauseBody(Form):
    reason: str = Field(min_length=2, max_length=1000)


class SignatureCodeBody(Form):
    recipient: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="phone or e-mail of one of the case's contacts; default: the first contact's",
    )


class TokenBody(Form):
    name: str = Field("api", min_length=1, max_length=200, description="what the token is for")


class StartedCase(BaseModel):
    case_id: str
    run_id: str
    console_url: str


# ---- routes -------------------------------------------------------------------------------------

router = APIRouter(prefix="/api")

_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginBody.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": LoginBody.model_json_schema()},
        },
    }
}


@router.post(
    "/login",
    tags=["auth"],
    summary="登录 / Sign in",
    openapi_extra=_LOGIN_BODY,
    responses=errors(401, 422, 429),
)
async def login(request: Request, st: StateDep) -> JSONResponse:
    """Sign in with user id (or e-mail) and password, as JSON or a form; sets the session
    cookie. Wrong passwords slow further tries down (429 with Retry-After): from the same
    address after 5, for the account after 100 an hour, for an address after 30 on any
    accounts (starter/throttle.py)."""
    raw: Any
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            raw = await request.json()
        except (ValueError, RecursionError) as exc:
            raise Invalid("body is not valid JSON", "body") from exc
    else:
        raw = dict(await request.form())
    if not isinstance(raw, Mapping):
        raise Invalid("expected {login, password}", "body")
    try:
        body = LoginBody.model_validate(dict(raw))
    except ValidationError as exc:
        raise invalid_from(exc) from exc
    factory = get_session_factory(st)
    signed = await sign_in(st, factory, body.login, body.password, client_address(request))
    if signed is None:
        raise ServiceError(401, "wrong login or password / 用户名或密码错误")
    user, token = signed
    response = JSONResponse({"user": users.user_dict(user)})
    set_session_cookie(response, st.settings, token)
    return response


@router.post(
    "/logout", tags=["auth"], summary="退出 / Sign out", status_code=204, responses=errors()
)
async def logout(st: StateDep, cookie: SessionCookie = None) -> Response:
    """Ends the session on the server: the cookie no longer signs anyone in."""
    await sessions.revoke_session(get_session_factory(st), cookie)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get("/me", tags=["auth"], summary="当前用户 / Who am I", responses=errors(401))
async def me(user: CurrentUser) -> dict[str, Any]:
    return {
        **users.user_dict(user),
        "role_names": {r: users.ROLE_BOOK.pair(r) for r in user.roles or []},
    }


class PasswordBody(Form):
    current_password: str = Field(min_length=1, max_length=200, description="当前密码")
    new_password: str = Field(min_length=1, max_length=200, description="新密码（至少 12 个字符）")


class NewPasswordBody(Form):
    new_password: str = Field(min_length=1, max_length=200, description="新密码（至少 12 个字符）")


@router.post(
    "/me/password",
    tags=["auth"],
    status_code=204,
    summary="修改密码 / Change my password",
    responses=errors(401, 403, 422),
)
async def change_my_password(
    body: PasswordBody,
    factory: SessionFactoryDep,
    user: CurrentUser,
    cookie: SessionCookie = None,
) -> Response:
    """Needs the current password; every other session of yours ends (the one this request
    comes from stays signed in)."""
    await users.change_password(
        factory, user.id, body.current_password, body.new_password, keep_session=cookie
    )
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/password",
    tags=["auth"],
    status_code=204,
    summary="重设用户密码 / Set a user's password (administrator)",
    responses=errors(401, 403, 404, 422),
)
async def set_user_password(
    user_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: NewPasswordBody,
    factory: SessionFactoryDep,
    user: CurrentUser,
) -> Response:
    """For an administrator: every session of that user ends."""
    if "admin" not in (user.roles or []):
        raise Forbidden(
            f"{user.id} may not set passwords: it needs the role admin",
            message_zh=f"{user.id} 不能重设密码：需要角色「系统管理员」",
        )
    await users.set_password(factory, user_id, body.new_password)
    return Response(status_code=204)


@router.get(
    "/regulations", tags=["regulations"], summary="制度列表 / Regulations", responses=errors(401)
)
async def regulations(st: StateDep, user: CurrentUser) -> list[dict[str, Any]]:
    return catalog.list_regulations(st.settings, st.registry)


@router.post(
    "/regulations/{code}/cases",
    tags=["cases"],
    status_code=201,
    summary="发起案件 / Start a case",
    response_model=StartedCase,
    responses=errors(401, 403, 404, 409, 422, 504),
)
async def start_case(
    code: Annotated[str, Path(min_length=1, max_length=50)],
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
    body: Annotated[dict[str, Any], Body(description="the regulation's input model")],
) -> StartedCase:
    """Body = the regulation's input model (see `input_schema` in GET /api/regulations)."""
    case_id, run_id = await cases.start_case(
        client,
        st.settings,
        code,
        body,
        user,
        registry=st.registry,
        session_factory=st.session_factory,
    )
    return StartedCase(case_id=case_id, run_id=run_id, console_url=st.settings.console_url(case_id))


@router.get("/cases", tags=["cases"], summary="案件列表 / Cases", responses=errors(401, 422))
async def list_cases(
    factory: SessionFactoryDep,
    user: CurrentUser,
    regulation: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[str | None, Query(max_length=30)] = None,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[dict[str, Any]]:
    return await queries.list_cases(factory, regulation, status, customer_id)


@router.get(
    "/cases/{case_id}",
    tags=["cases"],
    summary="案件 / A case",
    responses=errors(401, 404, 422),
)
async def get_case(
    case_id: CaseId, st: StateDep, factory: SessionFactoryDep, user: CurrentUser
) -> dict[str, Any]:
    """The case as stored (tasks with their outcome forms, timeline), plus the link to the
    Temporal web console."""
    view = await catalog.case_view(factory, case_id, st.registry)
    return {**view, "console_url": st.settings.console_url(case_id)}


async def _read(
    query: Callable[[SessionFactory, str], Awaitable[list[dict[str, Any]]]],
    factory: SessionFactory,
    case_id: str,
) -> list[dict[str, Any]]:
    try:
        return await query(factory, case_id)
    except queries.NoSuchCase as exc:
        raise NotFound(f"no case {case_id}", "case_id") from exc


@router.get(
    "/cases/{case_id}/timeline",
    tags=["cases"],
    summary="时间线 / Timeline",
    responses=errors(401, 404, 422),
)
async def timeline(case_id: CaseId, factory: SessionFactoryDep, user: CurrentUser) -> list[dict]:
    return await _read(queries.case_timeline, factory, case_id)


@router.get(
    "/cases/{case_id}/records",
    tags=["cases"],
    summary="记录 / Records",
    responses=errors(401, 404, 422),
)
async def records(case_id: CaseId, factory: SessionFactoryDep, user: CurrentUser) -> list[dict]:
    return await _read(queries.case_records, factory, case_id)


@router.get(
    "/cases/{case_id}/ledger",
    tags=["cases"],
    summary="台账 / Ledger",
    responses=errors(401, 404, 422),
)
async def ledger(case_id: CaseId, factory: SessionFactoryDep, user: CurrentUser) -> list[dict]:
    """Fines, charges, sanctions, commendations, rewards, deposits, commission shares."""
    return await _read(queries.case_ledger, factory, case_id)


@router.get(
    "/cases/{case_id}/discipline",
    tags=["cases"],
    summary="奖惩登记 / Discipline register",
    responses=errors(401, 404, 422),
)
async def discipline(case_id: CaseId, factory: SessionFactoryDep, user: CurrentUser) -> list[dict]:
    """Sanctions (书面警告 … 开除) and rewards (嘉奖 … 奖金) decided in the case, each with the
    clause, the rule, the proposal and who approved it."""
    return await _read(queries.case_discipline, factory, case_id)


@router.post(
    "/cases/{case_id}/actions/{action}",
    tags=["cases"],
    summary="操作 / Act on a case",
    responses=errors(401, 403, 404, 409, 422, 504),
)
async def act(
    case_id: CaseId,
    action: Annotated[str, Path(min_length=1, max_length=64)],
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
    body: Annotated[dict[str, Any], Body(description="the action's input without actor")],
) -> dict[str, Any]:
    """Body = the action's input model without `actor` (the server sets it from the
    signed-in user; a client-sent actor is ignored)."""
    return await cases.act(
        client,
        case_id,
        action,
        body,
        user,
        registry=st.registry,
        session_factory=st.session_factory,
        settings=st.settings,
    )


def _task_route(action: str, summary: str) -> Any:
    return router.post(
        f"/cases/{{case_id}}/tasks/{{task_id:path}}/{action}",
        tags=["tasks"],
        summary=summary,
        responses=errors(401, 403, 404, 409, 422, 504),
    )


async def _task_act(
    case_id: str,
    task_id: str,
    action: str,
    body: BaseModel,
    st: AppState,
    client: Client,
    user: User,
) -> dict[str, Any]:
    """A task route as its action: the task id (short or full) with the body's fields."""
    payload = {"task_id": cases.full_task_id(case_id, task_id), **body.model_dump(mode="json")}
    return await act(case_id, action, st, client, user, payload)


@_task_route("complete", "完成任务 / Complete a task")
async def complete_task(
    case_id: CaseId,
    task_id: TaskId,
    body: CompleteBody,
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Action `complete_task`; `task_id` is `t3` or the full `revisit-C1/t3`."""
    return await _task_act(case_id, task_id, "complete_task", body, st, client, user)


@_task_route("extend", "延期 / Extend a deadline")
async def extend_task(
    case_id: CaseId,
    task_id: TaskId,
    body: ExtendBody,
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Action `extend_deadline`; `new_due` needs a time zone."""
    return await _task_act(case_id, task_id, "extend_deadline", body, st, client, user)


@_task_route("pause", "暂停计时 / Pause the clock")
async def pause_task(
    case_id: CaseId,
    task_id: TaskId,
    body: PauseBody,
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
) -> dict[str, Any]:
    return await _task_act(case_id, task_id, "pause_task", body, st, client, user)


@_task_route("resume", "恢复计时 / Resume the clock")
async def resume_task(
    case_id: CaseId,
    task_id: TaskId,
    body: PauseBody,
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
) -> dict[str, Any]:
    return await _task_act(case_id, task_id, "resume_task", body, st, client, user)


@router.post(
    "/cases/{case_id}/tasks/{task_id:path}/signature-code",
    tags=["tasks"],
    status_code=201,
    summary="发送签字验证码 / Send the customer a one-time signing code",
    responses=errors(401, 403, 404, 409, 422, 429),
)
async def signature_code(
    case_id: CaseId,
    task_id: TaskId,
    st: StateDep,
    factory: SessionFactoryDep,
    user: CurrentUser,
    body: SignatureCodeBody | None = None,
) -> dict[str, Any]:
    """Sends a 6-digit code (valid 10 minutes) to the customer, who signs the task's record
    with it: complete the task with `signatures = [{signer_name, method: "otp", code}]`. Only
    tasks whose record the customer may sign by code take one. The code itself is never
    returned; only {code_id, recipient, expires_at}."""
    return await sigcodes.issue_signature_code(
        factory,
        case_id,
        task_id,  # the short form (t3) is accepted too
        user,
        body.recipient if body is not None else None,
        settings=st.settings,
        registry=st.registry,
    )


class SurveyLink(BaseModel):
    household: str = Field(description="房号")
    url: str = Field(description="住户填写征询表的一次性链接（本站路径）")


@router.post(
    "/cases/{case_id}/survey-links",
    tags=["cases"],
    summary="问卷链接 / One-time questionnaire links of a survey",
    responses=errors(401, 403, 404, 422),
)
async def survey_links(
    case_id: CaseId, st: StateDep, client: ClientDep, user: CurrentUser
) -> list[SurveyLink]:
    """R8: while a satisfaction survey's questionnaires are collected, one link per sampled
    household whose questionnaire is not in yet. The household opens it on a phone and answers
    once; the link needs no account. For those who enter returns from paper (客服部)."""
    links = await survey_links_of(client, st.settings, case_id, user, st.registry)
    return [SurveyLink(**link) for link in links]


@router.get(
    "/tasks/mine", tags=["tasks"], summary="我的待办 / My open tasks", responses=errors(401)
)
async def tasks_mine(factory: SessionFactoryDep, user: CurrentUser) -> list[dict[str, Any]]:
    return await queries.my_tasks(factory, user)


@router.get(
    "/signatures/{signature_id:path}/verify",
    tags=["signatures"],
    summary="验证签名 / Verify a signature",
    responses=errors(401, 404, 422),
)
async def verify_signature(
    signature_id: Annotated[str, Path(min_length=1, max_length=300)],
    st: StateDep,
    factory: SessionFactoryDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Checks the seal against this server's public key and the whole record as stored now."""
    return await signatures.verify_signature(st, factory, signature_id)


@router.post(
    "/attachments",
    tags=["attachments"],
    summary="上传附件 / Upload a file",
    status_code=201,
    responses=errors(401, 403, 422),
)
async def upload_attachment(
    file: Annotated[UploadFile, File(description="the file (at most 10 MB)")],
    factory: SessionFactoryDep,
    user: CurrentUser,
) -> Attachment:
    """Stores the file; the answer is the reference a form's Attachment field takes (id, name,
    media type, size, and the SHA-256 this server computed). Multipart; with the session
    cookie, send the `x-csrftoken` header."""
    content = await file.read(attachments.MAX_BYTES + 1)
    ref = await attachments.store(factory, content, file.filename or "", file.content_type, user.id)
    return Attachment.model_validate(ref)


@router.get(
    "/attachments/{attachment_id}",
    tags=["attachments"],
    summary="下载附件 / Download a file",
    responses={**errors(401, 404, 422), 200: {"content": {"application/octet-stream": {}}}},
    response_class=Response,
)
async def download_attachment(
    attachment_id: Annotated[str, Path(min_length=1, max_length=80)],
    factory: SessionFactoryDep,
    user: CurrentUser,
) -> Response:
    """The file as stored, with its name; images and PDF open in the browser, others download."""
    from urllib.parse import quote

    row = await attachments.fetch(factory, attachment_id)
    inline = row.media_type.startswith("image/") or row.media_type == "application/pdf"
    ascii_name = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in row.name)
    disposition = "inline" if inline else "attachment"
    return Response(
        row.content,
        media_type=row.media_type,
        headers={
            "content-disposition": f'{disposition}; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(row.name)}",
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
            "cache-control": "private, max-age=3600",
            "etag": f'"{row.sha256}"',
        },
    )


@router.get("/tokens", tags=["auth"], summary="我的令牌 / My API tokens", responses=errors(401))
async def my_tokens(factory: SessionFactoryDep, user: CurrentUser) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "created_at": queries.jsonable(t.created_at),
            "revoked_at": queries.jsonable(t.revoked_at),
        }
        for t in await users.list_tokens(factory, user.id)
    ]


@router.post(
    "/tokens",
    tags=["auth"],
    status_code=201,
    summary="新建令牌 / Create an API token",
    responses=errors(401, 422),
)
async def create_token(
    body: TokenBody, factory: SessionFactoryDep, user: CurrentUser
) -> dict[str, Any]:
    """Returns the token once; only its SHA-256 is stored."""
    token_id, token = await users.issue_token_with_id(factory, user.id, body.name)
    return {"id": token_id, "name": body.name, "token": token}


@router.delete(
    "/tokens/{token_id}",
    tags=["auth"],
    status_code=204,
    summary="吊销令牌 / Revoke a token",
    responses=errors(401, 404, 422),
)
async def delete_token(
    token_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    factory: SessionFactoryDep,
    user: CurrentUser,
) -> Response:
    """Revoke one of your tokens (an administrator may revoke anyone's)."""
    owner = None if "admin" in (user.roles or []) else user.id
    try:
        await users.revoke_token(factory, token_id, owner=owner)
    except Forbidden as exc:
        # Do not tell a non-owner that someone else's token exists.
        raise NotFound(f"no token {token_id}", "token") from exc
    return Response(status_code=204)
