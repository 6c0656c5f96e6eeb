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

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from settings import Settings
from starter import cases, catalog, sessions, sigcodes, throttle, users
from starter.cases import Registry
from starter.errors import (
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    error_field,
    invalid_from,
)
from store import queries
from store.db import SessionFactory, is_unavailable
from store.models import User
from workflows.model import CONTROL, Form

log = logging.getLogger("zhidu.api")

SESSION_COOKIE = "zhidu_session"
MAX_BODY = 1_000_000  # bytes; a drawn signature is well below
RETRY_AFTER = "5"


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


# ---- app state and dependencies -----------------------------------------------------------------


@dataclass
class AppState:
    settings: Settings
    registry: Registry | None
    client: Client | None = None
    session_factory: SessionFactory | None = None
    public_key_b64: str | None = None


def app_state(request: Request) -> AppState:
    return request.app.state.zhidu  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(app_state)]


def get_session_factory(st: StateDep) -> SessionFactory:
    if st.session_factory is None:
        raise ServiceError(503, "database not configured")
    return st.session_factory


SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]


def get_client(st: StateDep) -> Client:
    if st.client is None:
        raise ServiceError(503, "Temporal not connected")
    return st.client


ClientDep = Annotated[Client, Depends(get_client)]

_bearer = HTTPBearer(auto_error=False, description="API token: zd_...")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="POST /api/login")


async def user_from_request(request: Request) -> User | None:
    """The signed-in user (bearer token first, then session cookie), or None. For web pages."""
    st = app_state(request)
    if st.session_factory is None:
        return None
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    return await _signed_in(st, st.session_factory, token, request.cookies.get(SESSION_COOKIE))


async def _signed_in(
    st: AppState, factory: SessionFactory, token: str | None, cookie: str | None
) -> User | None:
    """The user of an API token when one is given, else of the session cookie, else None."""
    if token is not None:
        return await users.user_for_token(factory, token)
    return await sessions.session_user(factory, st.settings, cookie)


async def get_current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    st = app_state(request)
    token = bearer.credentials if bearer is not None else None
    user = await _signed_in(st, get_session_factory(st), token, cookie)
    if user is None or not user.active:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not signed in (Bearer token or session cookie) / 未登录",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
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


class TooManyTries(ServiceError):
    """429: the sign-in throttle says wait (starter.throttle); `wait` seconds."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            429,
            f"too many wrong passwords; try again in {wait} s",
            "login",
            f"密码错误次数过多，请 {wait} 秒后再试",
        )
        self.wait = wait


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: run uvicorn with
    --proxy-headers and --forwarded-allow-ips so this is the real client's)."""
    return request.client.host if request.client else "unknown"


async def sign_in(
    st: AppState, factory: SessionFactory, login: str, password: str, address: str
) -> tuple[User, str] | None:
    """Check the password of `login` (id or e-mail) through the throttle; the user and the
    token of their new session, None for a wrong login or password, TooManyTries when the
    throttle says wait. API and pages alike."""
    account = await throttle.account_of(factory, login)
    wait = await throttle.reserve(factory, account, address)
    if wait:
        raise TooManyTries(wait)
    user = await users.authenticate(factory, login, password)
    if user is None:
        return None
    await throttle.succeeded(factory, account, address)
    return user, await sessions.create_session(factory, st.settings, user.id)


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


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """The session cookie of a sign-in (API and pages): HttpOnly, SameSite=Lax, Secure when
    configured, for the session's absolute lifetime."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


@router.post(
    "/logout", tags=["auth"], summary="退出 / Sign out", status_code=204, responses=errors()
)
async def logout(st: StateDep, cookie: Annotated[str | None, Depends(_cookie)] = None) -> Response:
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
    cookie: Annotated[str | None, Depends(_cookie)] = None,
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
    from activities.signing import Sealer
    from activities.signing import verify_signature as verify

    if st.public_key_b64 is None:
        st.public_key_b64 = Sealer.load_or_create(st.settings.signing_key_file).public_key_b64
    result = await verify(factory, signature_id, st.public_key_b64)
    return queries.jsonable(result)  # type: ignore[no-any-return]


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


# ---- errors ------------------------------------------------------------------------------------


def _error(status_code: int, detail: str, field: str | None = None, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "field": field}, status_code=status_code, headers=headers
    )


def _unavailable(where: str, exc: BaseException) -> JSONResponse:
    """The answer while the database or Temporal does not answer: 503, retry later."""
    log.warning("%s: a service does not answer (%s)", where, type(exc).__name__)
    return _error(503, "a service (database or Temporal) does not answer; try again", None,
                  **{"Retry-After": RETRY_AFTER})  # fmt: skip


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return _error(exc.status, exc.message, exc.field, **retry_after(exc))


def retry_after(exc: ServiceError) -> dict[str, str]:
    """The Retry-After header of a refusal that passes with time (503, 429), else none."""
    if isinstance(exc, TooManyTries):
        return {"Retry-After": str(exc.wait)}
    return {"Retry-After": RETRY_AFTER} if exc.status == 503 else {}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _error(exc.status_code, str(exc.detail), None, **(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 naming the first field, without echoing the input back."""
    assert isinstance(exc, RequestValidationError)
    errs = exc.errors()
    first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ())]
    if len(loc) > 1 and loc[0] in ("body", "path", "query", "header", "cookie"):
        loc = loc[1:]
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    msg = str(first.get("msg", "invalid"))
    return _error(422, f"{msg}{more}", error_field(tuple(loc), msg))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        return _unavailable(f"{request.method} {request.url.path}", exc)
    log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
    return _error(500, "internal error", None)


MAX_JSON_DEPTH = 64  # nesting of a JSON body; every form of zhidu is a few levels deep


def json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep the arrays and objects of a JSON text nest, counted without parsing it (a
    parser recurses per level); stops counting past `limit`."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _is_json(scope: Mapping[str, Any]) -> bool:
    media = bytes(dict(scope.get("headers") or []).get(b"content-type", b""))
    media = media.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _guard(app: Any) -> Any:
    """ASGI middleware: control characters in the path or the query string are refused (422);
    the request body is read here first, so one over MAX_BODY bytes is refused (413) whether
    it says its length or comes in chunks, and a JSON body nested deeper than MAX_JSON_DEPTH
    is refused (422) before any parser recurses into it."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        raw_path = unquote(scope.get("raw_path", b"").decode("latin-1") or scope.get("path", ""))
        query = unquote(scope.get("query_string", b"").decode("latin-1"))
        bad = "path" if CONTROL.search(raw_path) else "query" if CONTROL.search(query) else None
        if bad:
            await _error(422, "control characters (such as NUL) are not allowed", bad)(
                scope, receive, send
            )
            return
        too_large = _error(413, f"the request body is larger than {MAX_BODY} bytes", "body")
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > MAX_BODY:
                await too_large(scope, receive, send)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _is_json(scope) and json_depth(body) > MAX_JSON_DEPTH:
            await _error(422, f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
                         "body")(scope, receive, send)  # fmt: skip
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, replay, tracked)
        except Exception as exc:
            # A database or Temporal that does not answer is the client's "try later", not a
            # server error: answered here, before Starlette's error page and its traceback.
            if started or not is_unavailable(exc):
                raise
            await _unavailable(str(scope.get("path")), exc)(scope, receive, send)

    return guarded


def settle_memory() -> None:
    """Once the app has started: everything alive now (modules, models, templates, the
    registry) lives as long as the process, so it is frozen out of the garbage collector's
    scans (gc.freeze). A full collection then scans only what requests create, which keeps
    its pauses out of page times (bench/web_bench.py, --no-gc shows the difference)."""
    import gc

    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    *,
    client: Client | None = None,
    session_factory: SessionFactory | None = None,
    registry: Registry | None = None,
) -> FastAPI:
    """The API app. `client` and `session_factory` are injected by tests; otherwise they are
    created at start-up from `settings` (worker.connect, store.db) and closed at shutdown."""
    st = AppState(
        settings=settings, registry=registry, client=client, session_factory=session_factory
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if st.session_factory is None:
            from starter.devstack import with_dev_database
            from store.db import make_engine, make_session_factory

            database_url = with_dev_database(settings).database_url
            if not database_url:
                raise RuntimeError(
                    "DATABASE_URL is not set and no `zhidu dev` stack is running in ZHIDU_DATA_DIR"
                )
            engine = make_engine(database_url)
            st.session_factory = make_session_factory(engine)
        if st.client is None:
            from worker import connect

            st.client = await connect(settings)
        settle_memory()
        try:
            yield
        finally:
            if engine is not None:
                await engine.dispose()

    app = FastAPI(
        title="zhidu 制度 API",
        summary="Customer-service regulations as Temporal workflows / 客服制度流程",
        version="0.2.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    _offline_docs(app)
    _health(app, st)
    app.state.zhidu = st
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(router)
    # The web pages (HTML, starter/web.py) and their CSS / JS.
    from fastapi.staticfiles import StaticFiles

    from starter import web

    app.include_router(web.router)
    app.mount("/static/web", StaticFiles(directory=web.HERE / "static" / "web"), name="web")
    # CSRF (asgi-csrf, double-submit cookie): every unsafe request that carries a cookie must
    # send the token, as the form field `csrftoken` (the pages put it in every form) or the
    # header `x-csrftoken` (a script). Not checked: requests with `Authorization: Bearer`
    # (a browser never adds that header by itself) or without any cookie (nothing to ride
    # on); the JSON sign-in (a cross-site page cannot send a JSON body without a CORS
    # preflight, which this app never grants) and the API sign-out (it only ends the session
    # whose cookie it carries). The page sign-in is checked even without cookies (login CSRF).
    app.add_middleware(
        web.CsrfMiddleware,
        secret=settings.session_secret,
        secure=settings.secure_cookies,
    )
    app.add_middleware(_GuardMiddleware)
    return app


HEALTH_TIMEOUT = 3.0


class Health(BaseModel):
    status: str = Field(description="ok, or unavailable when a service does not answer")
    database: str
    temporal: str


def _health(app: FastAPI, st: AppState) -> None:
    """GET /healthz: whether this process reaches its database and Temporal (for load
    balancers, container healthchecks and operators). No sign-in, no case data."""

    async def database() -> None:
        from sqlalchemy import text

        assert st.session_factory is not None
        async with st.session_factory() as session:
            await session.execute(text("SELECT 1"))

    async def temporal() -> None:
        assert st.client is not None
        await st.client.service_client.check_health(timeout=timedelta(seconds=HEALTH_TIMEOUT))

    async def probe(check: Callable[[], Awaitable[None]], configured: object) -> str:
        if configured is None:
            return "not configured"
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await check()
        except Exception as exc:
            log.warning("healthz: %s (%s)", type(exc).__name__, exc)
            return "unavailable"
        return "ok"

    # Not in the OpenAPI document: it is for machines, its 503 has its own shape (which
    # service does not answer) and it is not part of the API integrators program against.
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        db, tp = await asyncio.gather(
            probe(database, st.session_factory), probe(temporal, st.client)
        )
        ok = db == tp == "ok"
        body = Health(status="ok" if ok else "unavailable", database=db, temporal=tp)
        headers = {} if ok else {"Retry-After": RETRY_AFTER}
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503, headers=headers)


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI served from the swagger-ui-bundle package: works offline."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="zhidu 制度 API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )


class _GuardMiddleware:
    def __init__(self, app: Any) -> None:
        self._app = _guard(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)
