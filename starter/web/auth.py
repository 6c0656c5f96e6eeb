"""Sign in, sign out, and the language switch (pages). The sign-in itself, the session cookie
and the throttle are the API's too (starter/auth.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from starter import auth, sessions
from starter.web.i18n import LANG_COOKIE, lang_of
from starter.web.pages import PageRoute, factory, local_path, redirect, render, state
from workflows.model import CONTROL

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@router.get("/")
async def home() -> Response:
    return redirect("/work")


@router.get("/login")
async def login_page(request: Request) -> Response:
    nxt = local_path(request.query_params.get("next"))
    user = await auth.user_from_request(request)
    if user is not None and user.active:
        return redirect(nxt)
    # "Expired" only when the browser sent a session that no longer holds; a first visit to a
    # page is asked to sign in.
    stale = bool(request.cookies.get(auth.SESSION_COOKIE))
    asked = bool(request.query_params.get("next")) and not stale
    response = render(
        request, "login.html", None, next=nxt, expired=stale, asked=asked, error=None, login=""
    )
    if stale:  # said once: the stale cookie goes
        auth.clear_session_cookie(response)
    return response


@router.post("/login")
async def login_post(request: Request) -> Response:
    form = await request.form()
    login = str(form.get("login") or "").strip()[:200]
    password = str(form.get("password") or "")[:200]
    nxt = local_path(str(form.get("next") or ""))
    st = state(request)
    lang = lang_of(request)
    error, wait = "用户名或密码错误", 0
    if login and password and not CONTROL.search(login + password):
        try:
            signed = await auth.sign_in(
                st, factory(request), login, password, auth.client_address(request)
            )
        except auth.TooManyTries as exc:
            signed, wait = None, exc.wait
            error = exc.message if lang == "en" else str(exc.message_zh)
        if signed is not None:
            done = redirect(nxt)
            auth.set_session_cookie(done, st.settings, signed[1])
            return done
    page = render(
        request, "login.html", None, status=429 if wait else 401, next=nxt, expired=False,
        asked=False, error=error, login=login,
    )  # fmt: skip
    if wait:
        page.headers["retry-after"] = str(wait)
    return page


@router.post("/logout")
async def logout_post(request: Request) -> Response:
    await sessions.revoke_session(factory(request), request.cookies.get(auth.SESSION_COOKIE))
    response = redirect("/login")
    auth.clear_session_cookie(response)
    return response


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str) -> Response:
    response = redirect(local_path(request.query_params.get("next")))
    st = state(request)
    if lang == "en":
        response.set_cookie(
            LANG_COOKIE, "en", max_age=365 * 86400, samesite="lax", httponly=True,
            secure=st.settings.secure_cookies, path="/",
        )  # fmt: skip
    else:
        response.delete_cookie(LANG_COOKIE, path="/", samesite="lax", httponly=True)
    return response
