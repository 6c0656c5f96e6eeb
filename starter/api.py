"""The HTTP API (JSON, OpenAPI at /docs). Every route goes through `starter.cases` (Temporal)
and `store.queries` (reads), the same code the CLI uses.

Authentication: `Authorization: Bearer zd_...` (API tokens, for integrations) or the session
cookie set by `POST /api/login` (HMAC-signed with `settings.session_secret`, httponly,
SameSite=Lax), which the web pages reuse (`SESSION_COOKIE`, `make_session_cookie`,
`read_session_cookie`, `user_from_request`).

Task ids contain the case id and a slash (`revisit-C1/t3`). The task aliases take either the
full id or the short form after the slash: `/api/cases/revisit-C1/tasks/t3/complete`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from settings import Settings
from starter import cases, catalog, sigcodes, users
from starter.cases import Registry
from starter.errors import Forbidden, Invalid, NotFound, ServiceError, invalid_from
from store import queries
from store.db import SessionFactory
from store.models import User

SESSION_COOKIE = "zhidu_session"
SESSION_MAX_AGE = 12 * 3600  # seconds


# ---- session cookie ----------------------------------------------------------------------------


def _sign(secret: str, payload: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def make_session_cookie(settings: Settings, user_id: str, *, now: float | None = None) -> str:
    """`<payload b64>.<HMAC-SHA256 b64>`; payload = {"u": user id, "exp": unix time}."""
    exp = int((now if now is not None else time.time()) + SESSION_MAX_AGE)
    raw = json.dumps({"u": user_id, "exp": exp}, separators=(",", ":")).encode("utf-8")
    body = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return f"{body}.{_sign(settings.session_secret, body.encode('ascii'))}"


def read_session_cookie(settings: Settings, value: str | None) -> str | None:
    """The user id of a valid, unexpired session cookie, else None."""
    if not value or "." not in value:
        return None
    body, mac = value.rsplit(".", 1)
    if not hmac.compare_digest(mac, _sign(settings.session_secret, body.encode("ascii"))):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        user_id, exp = str(data["u"]), int(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    return user_id if exp > time.time() else None


def set_session_cookie(response: Response, settings: Settings, user_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        make_session_cookie(settings, user_id),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        path="/",
    )


# ---- app state and dependencies -----------------------------------------------------------------


@dataclass
class AppState:
    settings: Settings
    registry: Registry | None
    client: Client | None = None
    session_factory: SessionFactory | None = None
    public_key_b64: str | None = None
    _owned: list[Any] = field(default_factory=list)


def app_state(request: Request) -> AppState:
    return request.app.state.zhidu  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(app_state)]


def get_session_factory(st: StateDep) -> SessionFactory:
    if st.session_factory is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database not configured")
    return st.session_factory


SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]


async def get_session(factory: SessionFactoryDep) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_client(st: StateDep) -> Client:
    if st.client is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal not connected")
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
    if auth.lower().startswith("bearer "):
        return await users.user_for_token(st.session_factory, auth[7:].strip())
    user_id = read_session_cookie(st.settings, request.cookies.get(SESSION_COOKIE))
    if user_id is None:
        return None
    user = await users.get_user(st.session_factory, user_id)
    return user if user is not None and user.active else None


async def get_current_user(
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    st = app_state(request)
    user: User | None = None
    if bearer is not None:
        user = await users.user_for_token(get_session_factory(st), bearer.credentials)
    elif cookie:
        user_id = read_session_cookie(st.settings, cookie)
        if user_id is not None:
            user = await session.get(User, user_id)
    if user is None or not user.active:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not signed in (Bearer token or session cookie) / 未登录",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


# ---- bodies -----------------------------------------------------------------------------------


class LoginBody(BaseModel):
    login: str = Field(min_length=1, description="user id or e-mail / 用户名或邮箱")
    password: str = Field(min_length=1)


class CompleteBody(BaseModel):
    outcome: str = Field("done", min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    signatures: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=5,
        description="customer signatures: {signer_name, method: drawing|otp, evidence | code}",
    )


class ExtendBody(BaseModel):
    new_due: datetime
    reason: str = Field(min_length=2, max_length=1000)


class SignatureCodeBody(BaseModel):
    recipient: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="phone or e-mail of one of the case's contacts; default: the first contact's",
    )


class TokenBody(BaseModel):
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


@router.post("/login", tags=["auth"], summary="登录 / Sign in", openapi_extra=_LOGIN_BODY)
async def login(request: Request, st: StateDep) -> JSONResponse:
    """Sign in with user id (or e-mail) and password, as JSON or a form; sets the session
    cookie."""
    raw: Mapping[str, Any]
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            raw = await request.json()
        except ValueError as exc:
            raise Invalid("body is not valid JSON", "body") from exc
    else:
        raw = dict(await request.form())
    if not isinstance(raw, Mapping):
        raise Invalid("expected {login, password}", "body")
    try:
        body = LoginBody.model_validate(dict(raw))
    except ValidationError as exc:
        raise invalid_from(exc) from exc
    user = await users.authenticate(get_session_factory(st), body.login, body.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong login or password / 用户名或密码错误"
        )
    response = JSONResponse({"user": users.user_dict(user)})
    set_session_cookie(response, st.settings, user.id)
    return response


@router.post("/logout", tags=["auth"], summary="退出 / Sign out", status_code=204)
async def logout() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/me", tags=["auth"], summary="当前用户 / Who am I")
async def me(user: CurrentUser) -> dict[str, Any]:
    return {
        **users.user_dict(user),
        "role_names": {r: users.ROLES.get(r, (r, r)) for r in user.roles or []},
    }


@router.get("/regulations", tags=["regulations"], summary="制度列表 / Regulations")
async def regulations(st: StateDep, user: CurrentUser) -> list[dict[str, Any]]:
    return catalog.list_regulations(st.settings, st.registry)


@router.post(
    "/cases/{code}",
    tags=["cases"],
    status_code=201,
    summary="发起案件 / Start a case",
    response_model=StartedCase,
)
async def start_case(
    code: str,
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
    return StartedCase(
        case_id=case_id, run_id=run_id, console_url=cases.console_url(st.settings, case_id)
    )


@router.get("/cases", tags=["cases"], summary="案件列表 / Cases")
async def list_cases(
    factory: SessionFactoryDep,
    user: CurrentUser,
    regulation: str | None = None,
    status: str | None = None,
    customer_id: str | None = None,
) -> list[dict[str, Any]]:
    return await queries.list_cases(factory, regulation, status, customer_id)


@router.get("/cases/{case_id}", tags=["cases"], summary="案件状态 / Case state")
async def get_case(
    case_id: str, st: StateDep, factory: SessionFactoryDep, user: CurrentUser
) -> dict[str, Any]:
    """The case as stored (tasks with their outcome forms, timeline), plus the link to the
    Temporal web console."""
    view = await catalog.case_view(factory, case_id, st.registry)
    return {**view, "console_url": cases.console_url(st.settings, case_id)}


@router.get("/cases/{case_id}/timeline", tags=["cases"], summary="时间线 / Timeline")
async def timeline(case_id: str, factory: SessionFactoryDep, user: CurrentUser) -> list[dict]:
    return await _read(queries.case_timeline, factory, case_id)


@router.get("/cases/{case_id}/records", tags=["cases"], summary="记录 / Records")
async def records(case_id: str, factory: SessionFactoryDep, user: CurrentUser) -> list[dict]:
    return await _read(queries.case_records, factory, case_id)


@router.get("/cases/{case_id}/ledger", tags=["cases"], summary="台账 / Ledger")
async def ledger(case_id: str, factory: SessionFactoryDep, user: CurrentUser) -> list[dict]:
    """Fines, charges, sanctions, commendations, rewards, deposits, commission shares."""
    return await _read(queries.case_ledger, factory, case_id)


async def _read(query: Any, factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    try:
        return await query(factory, case_id)  # type: ignore[no-any-return]
    except queries.NoSuchCase as exc:
        raise NotFound(f"no case {case_id}", "case_id") from exc


@router.post("/cases/{case_id}/actions/{action}", tags=["cases"], summary="操作 / Act on a case")
async def act(
    case_id: str,
    action: str,
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


@router.post(
    "/cases/{case_id}/tasks/{task_id:path}/complete",
    tags=["tasks"],
    summary="完成任务 / Complete a task",
)
async def complete_task(
    case_id: str,
    task_id: str,
    body: CompleteBody,
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Alias of action `complete_task`; `task_id` is `t3` or the full `revisit-C1/t3`."""
    payload = {"task_id": cases.full_task_id(case_id, task_id), **body.model_dump(mode="json")}
    return await act(case_id, "complete_task", st, client, user, payload)


@router.post(
    "/cases/{case_id}/tasks/{task_id:path}/signature-code",
    tags=["tasks"],
    status_code=201,
    summary="发送签字验证码 / Send the customer a one-time signing code",
)
async def signature_code(
    case_id: str,
    task_id: str,
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


@router.post(
    "/cases/{case_id}/tasks/{task_id:path}/extend",
    tags=["tasks"],
    summary="延期 / Extend a deadline",
)
async def extend_task(
    case_id: str,
    task_id: str,
    body: ExtendBody,
    st: StateDep,
    client: ClientDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Alias of action `extend_deadline`; `new_due` needs a time zone."""
    payload = {"task_id": cases.full_task_id(case_id, task_id), **body.model_dump(mode="json")}
    return await act(case_id, "extend_deadline", st, client, user, payload)


@router.get("/tasks/mine", tags=["tasks"], summary="我的待办 / My open tasks")
async def tasks_mine(factory: SessionFactoryDep, user: CurrentUser) -> list[dict[str, Any]]:
    return await queries.my_tasks(factory, user)


@router.get(
    "/signatures/{signature_id:path}/verify",
    tags=["signatures"],
    summary="验证签名 / Verify a signature",
)
async def verify_signature(
    signature_id: str, st: StateDep, factory: SessionFactoryDep, user: CurrentUser
) -> dict[str, Any]:
    """Checks the seal against this server's public key and the record's current SHA-256."""
    from activities.signing import Sealer
    from activities.signing import verify_signature as verify

    if st.public_key_b64 is None:
        st.public_key_b64 = Sealer.load_or_create(st.settings.signing_key_file).public_key_b64
    result = await verify(factory, signature_id, st.public_key_b64)
    return queries.jsonable(result)  # type: ignore[no-any-return]


@router.get("/tokens", tags=["auth"], summary="我的令牌 / My API tokens")
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


@router.post("/tokens", tags=["auth"], status_code=201, summary="新建令牌 / Create an API token")
async def create_token(
    body: TokenBody, factory: SessionFactoryDep, user: CurrentUser
) -> dict[str, Any]:
    """Returns the token once; only its SHA-256 is stored."""
    token_id, token = await users.issue_token_with_id(factory, user.id, body.name)
    return {"id": token_id, "name": body.name, "token": token}


@router.delete(
    "/tokens/{token_id}", tags=["auth"], status_code=204, summary="吊销令牌 / Revoke a token"
)
async def delete_token(token_id: int, factory: SessionFactoryDep, user: CurrentUser) -> Response:
    """Revoke one of your tokens (an administrator may revoke anyone's)."""
    owner = None if "admin" in (user.roles or []) else user.id
    try:
        await users.revoke_token(factory, token_id, owner=owner)
    except Forbidden as exc:
        # Do not tell a non-owner that someone else's token exists.
        raise NotFound(f"no token {token_id}", "token") from exc
    return Response(status_code=204)


# ---- the app ------------------------------------------------------------------------------------


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return JSONResponse({"detail": exc.message, "field": exc.field}, status_code=exc.status)


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
        try:
            yield
        finally:
            if engine is not None:
                await engine.dispose()

    app = FastAPI(
        title="zhidu 制度 API",
        summary="Customer-service regulations as Temporal workflows / 客服制度流程",
        version="0.1.0",
        docs_url="/docs",
        lifespan=lifespan,
    )
    app.state.zhidu = st
    app.add_exception_handler(ServiceError, _service_error)
    app.include_router(router)
    return app
