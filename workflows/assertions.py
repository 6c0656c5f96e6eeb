"""Signed actor assertions: the word of the starter (web app, CLI, a case's activities) that a
message to a case is really from them.

A workflow must not trust the `actor` a Temporal client puts in a message: anyone who can reach
the Temporal frontend (`temporal workflow update execute ...`) could claim to be a supervisor.
So every start, signal and update that zhidu's own clients send carries, in a Temporal header,
an assertion signed with a key from the settings (HMAC-SHA256):

    {"w": workflow id, "m": message name, "h": SHA-256 of the arguments, "e": expiry (unix s),
     "n": a random nonce}

bound to the case, the message and its exact arguments (the actor among them), valid for a few
minutes and once: the case remembers the nonces it accepted until they expire. The worker's
interceptor (worker.AssertionVerifier) checks it before a validator or signal handler runs and
refuses anything unsigned, forged, sent to another case or message, changed, expired or used
before. Pure functions over data (the nonce is drawn by the signer, outside any workflow):
passed through the workflow sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

HEADER = "zhidu-assertion"
TTL_SECONDS = 300
SCHEDULE_PREFIX = "schedule:"


def digest(args: Sequence[Any]) -> str:
    """SHA-256 of the arguments as JSON (models dumped the way the data converter does; null
    and empty values left out, so a message sent as a plain object and the model the workflow
    reads it into hash alike as long as the client gave every non-default value). Text that is
    not valid Unicode (a lone surrogate) hashes too instead of failing: the models refuse it,
    the digest never crashes on it."""

    def plain(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return plain(value.model_dump(mode="json"))
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items() if v not in (None, [], {})}
        return value

    text = json.dumps(plain(list(args)), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token(key: bytes, claims: dict[str, Any]) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_b64(hmac.new(key, body.encode('ascii'), hashlib.sha256).digest())}"


def sign(key: bytes, workflow_id: str, name: str, args: Sequence[Any], now: float) -> str:
    """An assertion for one message: bound to the case, the message name, its arguments and a
    short expiry, and single-use (a random nonce the case remembers until the expiry)."""
    claims = {
        "w": workflow_id,
        "m": name,
        "h": digest(args),
        "e": int(now) + TTL_SECONDS,
        "n": secrets.token_urlsafe(12),
    }
    return _token(key, claims)


def sign_schedule(key: bytes, schedule_id: str, workflow_type: str, args: Sequence[Any]) -> str:
    """The standing assertion of a schedule's starts. Anyone who may describe the schedule can
    read it, so it vouches for nothing but what the schedule itself starts: that workflow type
    with exactly those arguments, under an id that begins with the schedule's (Temporal names a
    scheduled run `<schedule id>-<time>`); the worker also checks the schedule id and the type
    against the registry's schedules (only a workflow type a declared schedule starts)."""
    claims = {
        "w": schedule_id,
        "m": SCHEDULE_PREFIX + schedule_id,
        "t": workflow_type,
        "h": digest(args),
        "e": 0,
    }
    return _token(key, claims)


@dataclass(frozen=True)
class Verdict:
    """What `check` found: `problem` (why not, for the refusal) or None; the nonce and expiry
    of an accepted single-use assertion; `legacy_schedule` for a schedule assertion made before
    schedules were bound to their arguments (accepted only where a recorded run used one)."""

    problem: str | None
    nonce: str | None = None
    expires: int = 0
    legacy_schedule: bool = False


def check(
    keys: Sequence[bytes],
    token: str | None,
    *,
    workflow_id: str,
    name: str,
    args: Sequence[Any],
    now: float,
    workflow_type: str | None = None,
    scheduled_types: Collection[str] | None = None,
) -> Verdict:
    """Whether `token` vouches for this message (`scheduled_types`: the workflow types that
    the registry's schedules start; None = not checked)."""
    if not token or "." not in token or len(token) > 2000:
        return Verdict("the message is not signed by a zhidu service")
    body, mac = token.rsplit(".", 1)
    try:
        given = _unb64(mac)
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return Verdict("the message's assertion is unreadable")
    if not any(
        hmac.compare_digest(given, hmac.new(k, body.encode("ascii"), hashlib.sha256).digest())
        for k in keys
    ):
        return Verdict("the message's assertion is forged (not signed with this system's key)")
    if not isinstance(claims, dict):
        return Verdict("the message's assertion is unreadable")
    if str(claims.get("m", "")).startswith(SCHEDULE_PREFIX):
        return _check_schedule(claims, workflow_id, name, args, workflow_type, scheduled_types)
    if claims.get("w") != workflow_id or claims.get("m") != name:
        return Verdict("the message's assertion was made for another case or message")
    if claims.get("h") != digest(args):
        return Verdict("the message was changed after it was signed")
    if not isinstance(claims.get("e"), int) or claims["e"] < now:
        return Verdict("the message's assertion has expired")
    nonce = claims.get("n")
    return Verdict(None, nonce if isinstance(nonce, str) else None, claims["e"])


def _check_schedule(
    claims: Mapping[str, Any],
    workflow_id: str,
    name: str,
    args: Sequence[Any],
    workflow_type: str | None,
    scheduled_types: Collection[str] | None,
) -> Verdict:
    schedule_id = str(claims.get("w"))
    if name != "start" or not workflow_id.startswith(f"{schedule_id}-"):
        return Verdict("a schedule's assertion only starts that schedule's runs")
    if "t" not in claims:
        return Verdict(None, legacy_schedule=True)
    if scheduled_types is not None and claims["t"] not in scheduled_types:
        return Verdict(f"no schedule of this system starts {claims['t']}")
    if workflow_type is not None and claims["t"] != workflow_type:
        return Verdict(f"the schedule {schedule_id} starts {claims['t']}, not {workflow_type}")
    if claims.get("h") != digest(args):
        return Verdict(f"the start differs from what the schedule {schedule_id} starts")
    return Verdict(None)
