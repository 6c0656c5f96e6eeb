"""The request guard, outermost middleware of the app: control characters in the path or the
query string are refused (422); the request body is read here first, so one over MAX_BODY bytes
is refused (413) whether it says its length or comes in chunks, and a JSON body nested deeper
than MAX_JSON_DEPTH is refused (422) before any parser recurses into it. A database or Temporal
that does not answer is the client's "try later" (503), answered here before Starlette's error
page and its traceback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from starter.refusals import refusal, unavailable
from store.db import is_unavailable
from workflows.model import CONTROL

MAX_BODY = 1_000_000  # bytes; a drawn signature is well below
# A multipart form (files attached: starter.attachments, at most 10 MB each) may be larger.
MAX_UPLOAD_BODY = 25_000_000
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


def _bad_part(scope: Mapping[str, Any]) -> str | None:
    """The part of the request (path or query) that holds control characters, if one does."""
    raw_path = unquote(scope.get("raw_path", b"").decode("latin-1") or scope.get("path", ""))
    query = unquote(scope.get("query_string", b"").decode("latin-1"))
    return "path" if CONTROL.search(raw_path) else "query" if CONTROL.search(query) else None


class GuardMiddleware:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        bad = _bad_part(scope)
        if bad:
            await refusal(422, "control characters (such as NUL) are not allowed", bad)(
                scope, receive, send
            )
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        if body and _is_json(scope) and json_depth(body) > MAX_JSON_DEPTH:
            await refusal(422, f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
                          "body")(scope, receive, send)  # fmt: skip
            return
        await self._pass_on(scope, receive, send, body)

    async def _read_body(self, scope: Any, receive: Any, send: Any) -> bytes | None:
        """The whole request body, or None when it was refused (413) or the client went away."""
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        most = MAX_UPLOAD_BODY if multipart else MAX_BODY
        too_large = refusal(413, f"the request body is larger than {most} bytes", "body")
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > most):
            await too_large(scope, receive, send)
            return None
        chunks: list[bytes] = []
        seen, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > most:
                await too_large(scope, receive, send)
                return None
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _pass_on(self, scope: Any, receive: Any, send: Any, body: bytes) -> None:
        """The app, with the body read replayed to it."""
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
            await self._app(scope, replay, tracked)
        except Exception as exc:
            # A database or Temporal that does not answer is the client's "try later", not a
            # server error: answered here, before Starlette's error page and its traceback.
            if started or not is_unavailable(exc):
                raise
            await unavailable(str(scope.get("path")), exc)(scope, receive, send)
