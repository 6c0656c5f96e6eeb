"""Server-side web sessions: the cookie carries a random token (secrets), the database keeps
its SHA-256 with the user, expiry and revocation. Logout revokes the session for good; a
session also ends after `session_idle_minutes` without a request and `session_max_hours`
after sign-in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from store.models import User, WebSession

if TYPE_CHECKING:
    from settings import Settings
    from store.db import SessionFactory

# last_seen_at is written at most this often (a request is not a database write).
TOUCH_EVERY = timedelta(minutes=1)


def _id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_session(session_factory: SessionFactory, settings: Settings, user_id: str) -> str:
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with session_factory() as s:
        s.add(
            WebSession(
                id=_id(token),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.session_max_hours),
            )
        )
        await s.commit()
    return token


async def session_user(
    session_factory: SessionFactory, settings: Settings, token: str | None
) -> User | None:
    """The active user of a live session, else None (unknown, revoked, idle or expired)."""
    if not token or len(token) > 200:
        return None
    now = datetime.now(UTC)
    async with session_factory() as s:
        row = await s.get(WebSession, _id(token))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            return None
        if now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
            return None
        user = await s.get(User, row.user_id)
        if user is None or not user.active:
            return None
        if now - row.last_seen_at > TOUCH_EVERY:
            row.last_seen_at = now
            await s.commit()
        return user


async def revoke_session(session_factory: SessionFactory, token: str | None) -> None:
    if not token or len(token) > 200:
        return
    async with session_factory() as s:
        await s.execute(
            update(WebSession)
            .where(WebSession.id == _id(token), WebSession.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        await s.commit()


async def end_sessions(
    session_factory: SessionFactory, user_id: str, keep: str | None = None
) -> int:
    """End every live session of `user_id` but the one whose token is `keep`; how many."""
    stmt = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep:
        stmt = stmt.where(WebSession.id != _id(keep))
    async with session_factory() as s:
        result = await s.execute(stmt.values(revoked_at=datetime.now(UTC)))
        await s.commit()
    return int(getattr(result, "rowcount", 0) or 0)
