"""CSRF: asgi-csrf (double-submit cookie, signed token) around the app, with what it cannot do
itself: a Cookie header it cannot parse, multipart forms (the calendar upload and the generated
forms with a file field: their handlers check the token themselves, `posted_form`), the API's
refusal shape for /api."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from activities.errors import Forbidden
from starter.refusals import refusal
from starter.web.pages import render, secure_headers

CSRF_FIELD = "csrftoken"
# The multipart forms: the calendar upload, and a generated form with a file field (a case's
# start, a task's completion). Their handlers check the form's token against the cookie
# themselves (`posted_form`; asgi-csrf 0.11 cannot parse multipart bodies with
# python-multipart >= 0.0.26: simonw/asgi-csrf#38).
UPLOAD_PATHS = frozenset({"/admin/calendar/preview"})
UPLOAD_FORMS = re.compile(r"^/(start/[^/]+|cases/[^/]+/tasks/[^/]+/(complete|signature-code))$")


def is_upload(scope: Mapping[str, Any]) -> bool:
    """A multipart post whose handler checks its own token."""
    path = str(scope.get("path", ""))
    if path in UPLOAD_PATHS:
        return True
    return bool(UPLOAD_FORMS.match(path)) and _media(scope) == b"multipart/form-data"


def _media(scope: Mapping[str, Any]) -> bytes:
    headers = dict(scope.get("headers") or [])
    return bytes(headers.get(b"content-type", b"")).split(b";", 1)[0].strip().lower()


def _csrf_exempt(scope: Mapping[str, Any]) -> bool:
    """Unsafe requests with cookies that need no token (see `create_app`)."""
    path = scope.get("path", "")
    if path == "/api/logout" or is_upload(scope):
        return True
    if path == "/api/login":
        return _media(scope) == b"application/json"
    return False


async def _refused(
    scope: Any, send: Any, status: int, message: str, field: str, title: str
) -> None:
    """A request refused before the app: the API's error shape for /api, a page else."""
    response: Response
    if str(scope.get("path", "")).startswith("/api/"):
        response = refusal(status, message, field)
    else:
        request = Request(scope)
        response = render(request, "error.html", None, status=status, title=title, detail="")
        secure_headers(response)

    async def no_body() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


async def _csrf_failed(scope: Any, send: Any, message_id: Any) -> None:
    await _refused(
        scope, send, 403,
        "CSRF token missing or wrong: send the x-csrftoken header with the value of the "
        "csrftoken cookie, or use a bearer token",
        "csrftoken", "页面已过期，请刷新后重试",
    )  # fmt: skip


def cookie_header_ok(header: bytes | None) -> bool:
    """Whether a Cookie header parses as asgi-csrf parses it (UTF-8, http.cookies)."""
    if not header:
        return True
    try:
        SimpleCookie().load(header.decode("utf8"))
    except (CookieError, UnicodeDecodeError):
        return False
    return True


class CsrfMiddleware:
    """asgi-csrf (double-submit cookie, signed token) around the app: the token is read from
    the form field `csrftoken` (urlencoded and multipart forms, where it must come first) or
    the `x-csrftoken` header. Requests with a bearer token or without cookies pass; the page
    sign-in is checked even without cookies."""

    def __init__(self, app: Any, secret: str, secure: bool = False) -> None:
        from asgi_csrf import asgi_csrf

        self._app = asgi_csrf(
            app,
            signing_secret=secret,
            signing_namespace="zhidu-csrf",
            always_protect={"/login"},
            skip_if_scope=_csrf_exempt,
            cookie_secure=secure,
            cookie_samesite="Lax",
            send_csrf_failed=_csrf_failed,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not cookie_header_ok(
            dict(scope.get("headers") or []).get(b"cookie")
        ):
            await _refused(scope, send, 400, "malformed Cookie header", "cookie",
                           "浏览器发送的 Cookie 无法识别，请清除本站 Cookie 后重试")  # fmt: skip
            return
        if (
            scope["type"] == "http"
            and scope.get("method") not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and _media(scope) == b"multipart/form-data"
            and not is_upload(scope)
        ):
            headers = dict(scope.get("headers") or [])
            bearer = bytes(headers.get(b"authorization", b"")).startswith(b"Bearer ")
            if headers.get(b"cookie") and not bearer and not headers.get(b"x-csrftoken"):
                # A form post with cookies that asgi-csrf would have to parse as multipart:
                # refused (only the calendar upload is a multipart form).
                await _csrf_failed(scope, send, None)
                return
        await self._app(scope, receive, send)


async def posted_form(request: Request) -> FormData:
    """The posted form; a multipart one (files attached) must carry the cookie's token, which
    asgi-csrf could not check."""
    form = await request.form(max_files=20, max_fields=2000)
    if is_upload(request.scope) and not upload_token_ok(request, form):
        raise Forbidden(
            "This form has expired; reload the page and try again",
            "csrftoken",
            "页面已过期，请刷新后重试",
        )
    return form


def upload_token_ok(request: Request, form: FormData) -> bool:
    """The double-submit check for the multipart upload: the form's token is the cookie's."""
    cookie = request.cookies.get(CSRF_FIELD) or ""
    sent = form.get(CSRF_FIELD)
    return bool(cookie) and isinstance(sent, str) and secrets.compare_digest(sent, cookie)
