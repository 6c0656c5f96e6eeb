"""The notification outbox: channels and the dispatcher that delivers pending rows.

record_step writes one `notifications` row per configured channel in the same transaction as
the step; the dispatcher claims due rows (FOR UPDATE SKIP LOCKED, so several workers never send
the same row), sends them, and on failure retries with exponential backoff. A row that keeps
failing ends as `failed` and stays visible; nothing is ever deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import smtplib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store import models
from store.db import SessionFactory

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger("zhidu.notify")

KNOWN_CHANNELS = ("console", "smtp", "webhook")
BATCH_SIZE = 50
MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(hours=1)


def parse_channels(spec: str | Iterable[str]) -> list[str]:
    """'console, smtp' -> ['console', 'smtp'] (deduplicated, order kept, unknown refused)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        name = item.strip().lower()
        if not name or name in names:
            continue
        if name not in KNOWN_CHANNELS:
            raise ValueError(
                f"unknown notification channel {name!r}; choose from {', '.join(KNOWN_CHANNELS)}"
            )
        names.append(name)
    return names


class PermanentFailure(Exception):
    """A send that no retry can fix (e.g. the recipient has no address): fail the row now."""


class Directory:
    """Resolves recipients ('<user id>', 'role:<code>' or an address) to e-mail addresses."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def emails(self, recipient: str) -> list[str]:
        if recipient.startswith("role:"):
            role = recipient[len("role:") :]
            rows = await self._s.execute(
                select(models.User.email)
                .where(
                    models.User.active.is_(True),
                    models.User.roles.contains([role]),
                    models.User.email.is_not(None),
                    models.User.email != "",
                )
                .order_by(models.User.id)
            )
            return [e for e in rows.scalars() if e]
        if "@" in recipient:
            return [recipient]
        user = await self._s.get(models.User, recipient)
        return [user.email] if user is not None and user.email else []


class Channel(Protocol):
    async def send(self, note: models.Notification, directory: Directory) -> None:
        """Deliver `note` or raise; PermanentFailure means do not retry."""


# A notification carrying a one-time signing code (starter.sigcodes) has this key prefix.
SECRET_PREFIX = "sigcode/"
_CODE = re.compile(r"\d{6}")


def mask_codes(text: str) -> str:
    return _CODE.sub("******", text)


class ConsoleChannel:
    """Development channel: one log line per message. One-time codes are masked unless
    `shows_codes` (the dev stack, where the log is how a code reaches the tester)."""

    def __init__(self, shows_codes: bool = False) -> None:
        self.shows_codes = shows_codes

    async def send(self, note: models.Notification, directory: Directory) -> None:
        first_line = note.body.splitlines()[0] if note.body else ""
        if note.key.startswith(SECRET_PREFIX) and not self.shows_codes:
            first_line = mask_codes(first_line)
        log.info("notify %s: %s | %s", note.recipient, note.subject, first_line)


class SmtpChannel:
    def __init__(
        self,
        host: str,
        port: int = 25,
        user: str | None = None,
        password: str | None = None,
        sender: str = "zhidu@localhost",
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.sender, self.timeout = sender, timeout

    async def send(self, note: models.Notification, directory: Directory) -> None:
        to = await directory.emails(note.recipient)
        if not to:
            raise PermanentFailure(f"no e-mail address for recipient {note.recipient!r}")
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = note.subject
        msg.set_content(note.body)
        # smtplib blocks: run it off the event loop.
        await asyncio.to_thread(self._send_blocking, msg)

    def _send_blocking(self, msg: EmailMessage) -> None:
        if self.port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if self.port != 465 and smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(msg)


class WebhookChannel:
    """Group-robot webhook (WeCom, DingTalk, Feishu all accept this text message shape)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout

    async def send(self, note: models.Notification, directory: Directory) -> None:
        payload = {"msgtype": "text", "text": {"content": note.subject + "\n" + note.body}}
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            resp = await client.post(self.url, json=payload)
        if not resp.is_success:
            raise RuntimeError(f"webhook answered HTTP {resp.status_code}: {resp.text[:200]}")


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """The channels named in settings.notify_channels, configured from settings."""
    channels: dict[str, Channel] = {}
    for name in parse_channels(settings.notify_channels):
        if name == "console":
            channels[name] = ConsoleChannel(shows_codes=settings.console_shows_codes)
        elif name == "smtp":
            if not settings.smtp_host:
                raise ValueError("notification channel smtp needs SMTP_HOST")
            channels[name] = SmtpChannel(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_user,
                settings.smtp_password,
                settings.smtp_from,
            )
        elif name == "webhook":
            if not settings.webhook_url:
                raise ValueError("notification channel webhook needs ZHIDU_WEBHOOK_URL")
            channels[name] = WebhookChannel(settings.webhook_url)
    return channels


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failures: 2**attempts s, at most 1 hour."""
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


class OutboxDispatcher:
    def __init__(
        self, session_factory: SessionFactory, channels: dict[str, Channel], settings: Settings
    ) -> None:
        self._sf = session_factory
        self.channels = channels
        self.settings = settings

    async def dispatch_once(self, now: datetime | None = None) -> int:
        """Send the due pending rows (at most one batch); return how many rows were handled."""
        now = now or datetime.now(UTC)
        async with self._sf() as s, s.begin():
            # Locked rows are being sent by another dispatcher: skip them, never send twice.
            notes = (
                await s.execute(
                    select(models.Notification)
                    .where(
                        models.Notification.status == "pending",
                        models.Notification.next_attempt_at <= now,
                    )
                    .order_by(models.Notification.next_attempt_at, models.Notification.id)
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
            directory = Directory(s)
            handled = 0
            for note in list(notes):
                await self._send_one(note, directory, now)
                handled += 1
        return handled

    async def _send_one(
        self, note: models.Notification, directory: Directory, now: datetime
    ) -> None:
        channel = self.channels.get(note.channel)
        try:
            if channel is None:
                raise RuntimeError(f"channel {note.channel!r} is not configured on this worker")
            await channel.send(note, directory)
        except Exception as exc:  # any failure is recorded on the row and retried later
            note.attempts = (note.attempts or 0) + 1
            note.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if isinstance(exc, PermanentFailure) or note.attempts >= MAX_ATTEMPTS:
                note.status = "failed"
                log.warning("notification %s failed for good: %s", note.key, note.last_error)
            else:
                note.next_attempt_at = now + backoff(note.attempts)
                log.info(
                    "notification %s attempt %d failed (%s); retry at %s",
                    note.key,
                    note.attempts,
                    note.last_error,
                    note.next_attempt_at.isoformat(),
                )
            return
        note.status = "sent"
        note.sent_at = datetime.now(UTC)
        if note.key.startswith(SECRET_PREFIX):
            note.body = mask_codes(note.body)  # delivered: the code is kept nowhere

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set; a full batch is followed at once by the next."""
        poll = max(self.settings.outbox_poll_seconds, 0.05)
        while not stop.is_set():
            handled = 0
            try:
                handled = await self.dispatch_once()
            except Exception:  # a database hiccup must not kill the dispatcher
                log.exception("outbox dispatch failed; retrying in %.1f s", poll)
            if handled >= BATCH_SIZE:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
