"""Signed actor assertions: the word of the starter (web app, CLI, a case's activities) that a
message to a case is really from them.

A workflow must not trust the `actor` a Temporal client puts in a message: anyone who can reach
the Temporal frontend (`temporal workflow update execute ...`) could claim to be a supervisor.
So every start, signal and update that zhidu's own clients send carries, in a Temporal header,
an assertion signed with a key from the settings (HMAC-SHA256):

    {"w": workflow id, "m": message name, "h": SHA-256 of the arguments, "e": expiry (unix s)}

bound to the case, the message and its exact arguments (the actor among them), valid for a few
minutes. The worker's interceptor (worker.AssertionInterceptor) checks it before a validator or
signal handler runs and refuses anything unsigned, forged, sent to another case or message,
changed, or expired. Pure functions over data: passed through the workflow sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

HEADER = "zhidu-assertion"
TTL_SECONDS = 300
SCHEDULE_PREFIX = "schedule:"


def digest(args: Sequence[Any]) -> str:
    """SHA-256 of the arguments as JSON (models dumped the way the data converter does; null
    and empty values left out, so a message sent as a plain object and the model the workflow
    reads it into hash alike as long as the client gave every non-default value)."""

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return plain(value.model_dump(mode="json"))
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items() if v not in (None, [], {})}
        return value

    text = json.dumps(plain(list(args)), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, workflow_id: str, name: str, args: Sequence[Any], now: float) -> str:
    claims = {"w": workflow_id, "m": name, "h": digest(args), "e": int(now) + TTL_SECONDS}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    mac = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def sign_schedule(key: bytes, schedule_id: str) -> str:
    """The standing assertion of a schedule's starts: runs' ids begin with the schedule id."""
    claims = {"w": schedule_id, "m": SCHEDULE_PREFIX + schedule_id, "h": "", "e": 0}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_b64(hmac.new(key, body.encode('ascii'), hashlib.sha256).digest())}"


def check(
    keys: Sequence[bytes],
    token: str | None,
    *,
    workflow_id: str,
    name: str,
    args: Sequence[Any],
    now: float,
) -> str | None:
    """None if `token` vouches for this message; else why not (for the refusal)."""
    if not token or "." not in token or len(token) > 2000:
        return "the message is not signed by a zhidu service"
    body, mac = token.rsplit(".", 1)
    try:
        given = _unb64(mac)
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return "the message's assertion is unreadable"
    if not any(
        hmac.compare_digest(given, hmac.new(k, body.encode("ascii"), hashlib.sha256).digest())
        for k in keys
    ):
        return "the message's assertion is forged (not signed with this system's key)"
    if not isinstance(claims, dict):
        return "the message's assertion is unreadable"
    if str(claims.get("m", "")).startswith(SCHEDULE_PREFIX):
        ok = name == "start" and workflow_id.startswith(str(claims.get("w")))
        return None if ok else "a schedule's assertion only starts that schedule's runs"
    if claims.get("w") != workflow_id or claims.get("m") != name:
        return "the message's assertion was made for another case or message"
    if claims.get("h") != digest(args):
        return "the message was changed after it was signed"
    if not isinstance(claims.get("e"), int) or claims["e"] < now:
        return "the message's assertion has expired"
    return None
