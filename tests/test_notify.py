"""The notification outbox: console and webhook delivery, retry with backoff, nothing lost."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from activities.notify import (
    MAX_ATTEMPTS,
    ConsoleChannel,
    Directory,
    OutboxDispatcher,
    SmtpChannel,
    WebhookChannel,
    backoff,
    channels_from_settings,
    parse_channels,
)
from settings import Settings
from store import models
from store.db import SessionFactory

# The async tests run on the session event loop of the session-scoped conftest fixtures
# (asyncio_default_test_loop_scope = "session" in pyproject.toml). No module-level
# `pytestmark = pytest.mark.asyncio(...)` here: it would also mark the sync tests, which
# pytest-asyncio warns about.


@dataclass
class FakeRobot:
    """A tiny HTTP server standing in for a WeCom/DingTalk/Feishu robot webhook."""

    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        self.received.append(json.loads(await reader.readexactly(length)))
        status = self.statuses.pop(0) if self.statuses else 200
        body = b'{"errcode":0}'
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def robot() -> AsyncIterator[FakeRobot]:
    fake = FakeRobot()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}/robot/send?key=test"
    async with server:
        yield fake


async def add_note(db: SessionFactory, channel: str, key: str = "c1/t1/opened") -> None:
    async with db() as s, s.begin():
        await s.execute(
            insert(models.Notification).values(
                key=f"{key}:{channel}",
                case_id="c1",
                channel=channel,
                recipient="role:supervisor",
                subject="新任务：上门回访",
                body="请在 24 小时内回访\n第二行",
            )
        )


async def notes(db: SessionFactory) -> list[models.Notification]:
    async with db() as s:
        return list((await s.execute(select(models.Notification))).scalars())


def settings(**kw: Any) -> Settings:
    return Settings(**kw)


async def test_console_send_marks_sent(
    clean_db: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    await add_note(clean_db, "console")
    dispatcher = OutboxDispatcher(clean_db, {"console": ConsoleChannel()}, settings())
    with caplog.at_level(logging.INFO, logger="zhidu.notify"):
        assert await dispatcher.dispatch_once() == 1
    [note] = await notes(clean_db)
    assert (note.status, note.attempts) == ("sent", 0) and note.sent_at is not None
    lines = [r.getMessage() for r in caplog.records if r.name == "zhidu.notify"]
    assert lines == ["notify role:supervisor: 新任务：上门回访 | 请在 24 小时内回访"]
    assert await dispatcher.dispatch_once() == 0  # sent rows are never sent again


async def test_webhook_receives_robot_json(clean_db: SessionFactory, robot: FakeRobot) -> None:
    await add_note(clean_db, "webhook")
    dispatcher = OutboxDispatcher(clean_db, {"webhook": WebhookChannel(robot.url)}, settings())
    assert await dispatcher.dispatch_once() == 1
    assert robot.received == [
        {"msgtype": "text", "text": {"content": "新任务：上门回访\n请在 24 小时内回访\n第二行"}}
    ]
    [note] = await notes(clean_db)
    assert note.status == "sent"


async def test_failing_webhook_is_retried_later_and_nothing_is_lost(
    clean_db: SessionFactory, robot: FakeRobot
) -> None:
    robot.statuses = [500]
    await add_note(clean_db, "webhook")
    dispatcher = OutboxDispatcher(clean_db, {"webhook": WebhookChannel(robot.url)}, settings())
    now = datetime.now(UTC)
    assert await dispatcher.dispatch_once(now) == 1
    [note] = await notes(clean_db)
    assert (note.status, note.attempts) == ("pending", 1)
    assert note.next_attempt_at > now and note.last_error and "500" in note.last_error
    assert await dispatcher.dispatch_once(now) == 0  # not due yet
    assert await dispatcher.dispatch_once(now + backoff(1) + timedelta(seconds=1)) == 1
    [note] = await notes(clean_db)
    assert (note.status, note.attempts) == ("sent", 1)
    assert len(robot.received) == 2


async def test_too_many_failures_end_as_failed_and_stay(clean_db: SessionFactory) -> None:
    await add_note(clean_db, "webhook")
    async with clean_db() as s, s.begin():
        await s.execute(text("UPDATE notifications SET attempts = :n"), {"n": MAX_ATTEMPTS - 1})
    # No webhook channel configured on this worker: every attempt fails.
    dispatcher = OutboxDispatcher(clean_db, {"console": ConsoleChannel()}, settings())
    assert await dispatcher.dispatch_once() == 1
    [note] = await notes(clean_db)
    assert (note.status, note.attempts) == ("failed", MAX_ATTEMPTS)
    assert "not configured" in (note.last_error or "")
    assert await dispatcher.dispatch_once(datetime.now(UTC) + timedelta(days=1)) == 0


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [2, 4, 8]
    assert backoff(11) == timedelta(seconds=2048)
    assert backoff(12) == backoff(400) == timedelta(hours=1)


async def test_run_loop_delivers_until_stopped(clean_db: SessionFactory) -> None:
    dispatcher = OutboxDispatcher(
        clean_db, {"console": ConsoleChannel()}, settings(outbox_poll_seconds=0.05)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await add_note(clean_db, "console")
    for _ in range(100):
        if (await notes(clean_db))[0].status == "sent":
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await notes(clean_db))[0].status == "sent"


async def test_directory_resolves_users_and_roles(clean_db: SessionFactory) -> None:
    async with clean_db() as s, s.begin():
        s.add_all(
            [
                models.User(
                    id="a", name="A", password_hash="x", roles=["supervisor"], email="a@x.cn"
                ),
                models.User(
                    id="b",
                    name="B",
                    password_hash="x",
                    roles=["supervisor", "staff"],
                    email="b@x.cn",
                ),
                models.User(id="c", name="C", password_hash="x", roles=["supervisor"], email=None),
                models.User(
                    id="d",
                    name="D",
                    password_hash="x",
                    roles=["supervisor"],
                    email="d@x.cn",
                    active=False,
                ),
                models.User(id="e", name="E", password_hash="x", roles=["staff"], email="e@x.cn"),
            ]
        )
    async with clean_db() as s:
        directory = Directory(s)
        assert await directory.emails("role:supervisor") == ["a@x.cn", "b@x.cn"]
        assert await directory.emails("e") == ["e@x.cn"]
        assert await directory.emails("c") == []
        assert await directory.emails("ops@example.com") == ["ops@example.com"]


def test_channels_from_settings() -> None:
    assert parse_channels(" Console, webhook,console ") == ["console", "webhook"]
    chans = channels_from_settings(
        settings(notify_channels="console,webhook", webhook_url="http://127.0.0.1:9/hook")
    )
    assert set(chans) == {"console", "webhook"}
    with pytest.raises(ValueError, match="ZHIDU_WEBHOOK_URL"):
        channels_from_settings(settings(notify_channels="webhook", webhook_url=None))
    with pytest.raises(ValueError, match="unknown notification channel 'sms'"):
        channels_from_settings(settings(notify_channels="console,sms"))


@dataclass
class FakeSmtp:
    """Just enough SMTP (no aiosmtpd needed) to capture one conversation's envelope and data."""

    rcpt: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await say("220 fake ESMTP")
        while line := (await reader.readline()).decode().strip():
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await say("250-fake\r\n250 8BITMIME")
            elif verb == "RCPT":
                self.rcpt.append(line.split(":", 1)[1].strip().strip("<>"))
                await say("250 ok")
            elif verb == "DATA":
                await say("354 go on")
                chunks = []
                while (chunk := await reader.readline()) != b".\r\n":
                    chunks.append(chunk.decode())
                self.data.append("".join(chunks))
                await say("250 queued")
            elif verb == "QUIT":
                await say("221 bye")
                break
            else:
                await say("250 ok")
        writer.close()


async def test_smtp_delivery_to_role(clean_db: SessionFactory) -> None:
    fake = FakeSmtp()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with clean_db() as s, s.begin():
        s.add(
            models.User(id="a", name="A", password_hash="x", roles=["supervisor"], email="a@x.cn")
        )
    await add_note(clean_db, "smtp")
    smtp = SmtpChannel("127.0.0.1", port, sender="zhidu@example.com", timeout=5)
    async with server:
        assert await OutboxDispatcher(clean_db, {"smtp": smtp}, settings()).dispatch_once() == 1
    [note] = await notes(clean_db)
    assert note.status == "sent", note.last_error
    assert fake.rcpt == ["a@x.cn"]
    assert "Subject:" in fake.data[0]


async def test_smtp_without_address_fails_at_once(clean_db: SessionFactory) -> None:
    await add_note(clean_db, "smtp")  # role:supervisor, but nobody has that role
    smtp = SmtpChannel("127.0.0.1", 9, timeout=1)
    assert await OutboxDispatcher(clean_db, {"smtp": smtp}, settings()).dispatch_once() == 1
    [note] = await notes(clean_db)
    assert (note.status, note.attempts) == ("failed", 1)
    assert "no e-mail address" in (note.last_error or "")
