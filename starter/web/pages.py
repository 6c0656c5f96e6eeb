"""The page machinery: PageRoute (refusals as pages a person understands, never a stack trace;
no session -> the login page and back; secure headers on every page), `render` with the
language, the CSRF token and the helpers every template uses, the error page, redirects, and
the request's state, database, registry and signed-in user."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from activities.errors import Forbidden, ServiceError
from starter import auth, people
from starter.refusals import RETRY_AFTER
from starter.state import AppState, app_state, get_session_factory
from starter.web.forms import said
from starter.web.i18n import (
    EN,
    FLASH,
    OWN,
    PEOPLE,
    STATUS,
    WORDS,
    lang_of,
    person,
    pick,
    role_name,
    words_for,
)
from starter.web.times import local
from starter.wording import money_in_text
from store.db import SessionFactory, is_unavailable
from store.models import User
from workflows.registry import RegulationEntry
from workflows.regulations import registry_or_default

log = logging.getLogger("zhidu.web")

HERE = Path(__file__).parent.parent  # starter/: templates/ and static/ stay there
STATIC = HERE / "static" / "web"

ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class LoginRequired(Exception):
    """No signed-in user: the page answers with a redirect to /login?next=..."""


class PageRoute(APIRoute):
    """Routes of this router answer in HTML: refusals as pages a person understands (the role
    needed, "case not found"), never a stack trace; no session -> the login page and back."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            WORDS.set(words_for(state(request).registry))
            OWN.set(None)
            try:
                PEOPLE.set(await people.directory(factory(request)))
                response = await original(request)
            except LoginRequired:
                response = RedirectResponse(f"/login?next={quote(back_to(request))}", 303)
            except ServiceError as exc:
                response = error_page(request, exc.status, said(exc, lang_of(request)))
            except StarletteHTTPException as exc:
                response = error_page(request, exc.status_code, str(exc.detail))
            except Exception as exc:
                if is_unavailable(exc):
                    log.warning("%s: a service does not answer (%s)", request.url.path,
                                type(exc).__name__)  # fmt: skip
                    response = error_page(request, 503, "")
                else:
                    log.exception("page %s %s failed", request.method, request.url.path)
                    response = error_page(request, 500, "")
            secure_headers(response)
            return response

        return handler


def secure_headers(response: Response) -> None:
    h = response.headers
    h.setdefault(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    h.setdefault("x-content-type-options", "nosniff")
    h.setdefault("x-frame-options", "DENY")
    h.setdefault("referrer-policy", "same-origin")
    h.setdefault("cache-control", "no-store")


def local_path(value: str | None, default: str = "/work") -> str:
    """`value` when it is a path on this site (never another host, never `//evil`)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def back_to(request: Request) -> str:
    """Where to return after signing in: this page, or for a form post the page it came from."""
    if request.method in ("GET", "HEAD"):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return local_path(path)
    ref = request.headers.get("referer")
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.url.netloc:
            return local_path(parts.path + (f"?{parts.query}" if parts.query else ""))
    return "/work"


def csrf_token(request: Request) -> str:
    make = request.scope.get("csrftoken")
    return str(make()) if callable(make) else ""


def state(request: Request) -> AppState:
    return app_state(request)


def factory(request: Request) -> SessionFactory:
    return get_session_factory(state(request))


def registry(request: Request) -> Mapping[str, RegulationEntry]:
    return registry_or_default(state(request).registry)


async def page_user(request: Request) -> User:
    user = await auth.user_from_request(request)
    if user is None or not user.active:
        raise LoginRequired
    return user


def require_role(user: User, role: str, lang: str) -> None:
    if role not in (user.roles or []):
        raise Forbidden(
            f"{user.name} 没有权限：此页需要角色「{role_name(role, 'zh')}」，请联系管理员"
            if lang == "zh"
            else f"{user.name} may not open this page: it needs the role {role_name(role, 'en')}"
        )


def render(
    request: Request,
    template: str,
    user: User | None,
    status: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    lang = lang_of(request)

    def tr(text: str, **kw: Any) -> str:
        out = EN.get(text, text) if lang == "en" else text
        return out.format(**kw) if kw else out

    flash = FLASH.get(request.query_params.get("msg", ""))
    html = ENV.get_template(template).render(
        request=request,
        user=user,
        lang=lang,
        _=tr,
        csrf=csrf_token(request),
        role_name=lambda code: role_name(code, lang),
        person=person,
        money=money_in_text,
        status_name=lambda code: pick(STATUS.get(code), lang, code),
        local=local,
        colon=": " if lang == "en" else "：",
        flash=tr(flash) if flash else None,
        path=request.url.path,
        here=back_to(request) if request.method == "GET" else request.url.path,
        is_admin=user is not None and "admin" in (user.roles or []),
        can_start=user is not None and may_start_any(user, registry(request)),
        **ctx,
    )
    return HTMLResponse(html, status_code=status)


def may_start_any(user: User, regs: Mapping[str, RegulationEntry]) -> bool:
    """Whether the user may start a case of some regulation (else 新建 is not offered)."""
    roles = set(user.roles or [])
    return any(not e.start_roles or roles & set(e.start_roles) for e in regs.values())


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    titles = {
        403: "没有权限",
        404: "未找到",
        503: "服务暂不可用，请稍后重试",
    }
    title = titles.get(status, "出错了")
    if status >= 500:
        detail = ""  # never a stack trace, nor an internal message
    response = render(request, "error.html", None, status=status, title=title, detail=detail)
    if status == 503:
        response.headers["retry-after"] = RETRY_AFTER
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
