"""Who is signed in, for the API routes and the pages alike: the sign-in (password through the
throttle, a new server-side session), the session cookie, and the current user (an API token
first, then the session cookie)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from activities.errors import ServiceError
from settings import Settings
from starter import sessions, throttle, users
from starter.state import AppState, app_state, get_session_factory
from store.db import SessionFactory
from store.models import User

SESSION_COOKIE = "zhidu_session"

bearer_scheme = HTTPBearer(auto_error=False, description="API token: zd_...")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="POST /api/login")
SessionCookie = Annotated[str | None, Depends(cookie_scheme)]


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


async def signed_in(
    st: AppState, factory: SessionFactory, token: str | None, cookie: str | None
) -> User | None:
    """The user of an API token when one is given, else of the session cookie, else None."""
    if token is not None:
        return await users.user_for_token(factory, token)
    return await sessions.session_user(factory, st.settings, cookie)


async def user_from_request(request: Request) -> User | None:
    """The signed-in user (bearer token first, then session cookie), or None. For web pages."""
    st = app_state(request)
    if st.session_factory is None:
        return None
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    return await signed_in(st, st.session_factory, token, request.cookies.get(SESSION_COOKIE))


async def get_current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: SessionCookie,
) -> User:
    """The API's signed-in user: 401 without a valid token or session."""
    st = app_state(request)
    token = bearer.credentials if bearer is not None else None
    user = await signed_in(st, get_session_factory(st), token, cookie)
    if user is None or not user.active:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not signed in (Bearer token or session cookie) / 未登录",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
