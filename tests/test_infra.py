"""The test fixtures themselves and the dev-stack helpers: a migrated database, table cleaning,
the time-skipping server (a 30-day timer in seconds, custom search attributes), the dev server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from sqlalchemy import func, select, text

    from settings import Settings
    from starter.devstack import busy_ports, embedded_postgres_server, ensure_database
    from starter.devstack import server_database_url as embedded_url
    from store.db import SessionFactory
    from store.models import Base, User
    from worker import register_search_attributes
    from workflows.search import CASE_STATUS, CUSTOMER_ID, REGULATION


@workflow.defn(name="zhidu-infra-month")
class MonthWorkflow:
    """Waits 30 days, marking its status before and after."""

    @workflow.run
    async def run(self, regulation: str) -> str:
        workflow.upsert_search_attributes(
            [REGULATION.value_set(regulation), CASE_STATUS.value_set("waiting")]
        )
        await workflow.sleep(timedelta(days=30))
        workflow.upsert_search_attributes([CASE_STATUS.value_set("done")])
        return f"{regulation} after {(workflow.now() - workflow.info().start_time).days} days"


async def test_database_has_every_table(session_factory: SessionFactory) -> None:
    async with session_factory() as session:
        result = await session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
        tables = set(result.scalars())
    assert "alembic_version" in tables
    assert set(Base.metadata.tables) <= tables


async def test_clean_db_starts_empty_1(clean_db: SessionFactory) -> None:
    async with clean_db() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        session.add(User(id="infra", name="Infra", password_hash="x", roles=["staff"]))
        await session.commit()


async def test_clean_db_starts_empty_2(clean_db: SessionFactory) -> None:
    async with clean_db() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_time_skipping_30_days_and_search_attributes(ts_env) -> None:
    from temporalio.worker import Worker

    queue = f"infra-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    async with Worker(ts_env.client, task_queue=queue, workflows=[MonthWorkflow]):
        handle = await ts_env.client.start_workflow(
            MonthWorkflow.run,
            "revisit",
            id=f"infra-month-{queue}",
            task_queue=queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(CUSTOMER_ID, "C1024")]),
        )
        assert await handle.result() == "revisit after 30 days"
        described = await handle.describe()
    assert time.monotonic() - started < 10
    assert described.typed_search_attributes.get(CUSTOMER_ID) == "C1024"
    assert described.typed_search_attributes.get(REGULATION) == "revisit"
    assert described.typed_search_attributes.get(CASE_STATUS) == "done"


async def test_dev_server_has_search_attributes(local_env) -> None:
    from temporalio.worker import Worker

    # Registered at start-up: registering again adds nothing.
    assert await register_search_attributes(local_env.client, "default") == []
    queue = f"infra-{uuid.uuid4().hex[:8]}"
    async with Worker(local_env.client, task_queue=queue, workflows=[MonthWorkflow]):
        handle = await local_env.client.start_workflow(
            MonthWorkflow.run,
            "revisit",
            id=f"infra-month-{queue}",
            task_queue=queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(CUSTOMER_ID, "C7")]),
        )
        query = f"CustomerId = 'C7' AND CaseStatus = 'waiting' AND WorkflowId = '{handle.id}'"
        found: list[str] = []
        for _ in range(50):  # visibility is eventually consistent
            found = [w.id async for w in local_env.client.list_workflows(query)]
            if found:
                break
            await asyncio.sleep(0.2)
        assert found == [handle.id]
        await handle.terminate("test over")


def test_settings_factory(settings_factory, database_url: str) -> None:
    settings = settings_factory(temporal_task_queue="q1")
    assert isinstance(settings, Settings)
    assert settings.database_url == database_url
    assert settings.temporal_task_queue == "q1"
    assert settings.signing_key_file.parent == settings.data_dir
    assert settings.data_dir.is_dir()


def test_busy_port_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = Settings.model_validate(
            {"web_port": port, "temporal_port": 0, "temporal_ui_port": 0}
        )
        assert busy_ports(settings) == [
            f"zhidu dev: port {port} (web app) is already in use — stop the other process or "
            "set ZHIDU_WEB_PORT"
        ]


async def test_embedded_postgres_socket_url() -> None:
    import asyncpg

    # Not tmp_path: pytest keeps /tmp/pytest-of-<user> at mode 0700, which the system user
    # that embedded-postgres uses as root cannot traverse.
    tmp = Path(tempfile.mkdtemp(prefix="zhidu-test-embedded-"))
    server = await asyncio.to_thread(embedded_postgres_server, tmp, cleanup_mode="delete")
    try:
        url = embedded_url(server, "zhidu_embedded")
        assert url.startswith("postgresql://postgres@/zhidu_embedded?host=/")
        assert await ensure_database(url) is True
        assert await ensure_database(url) is False
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "zhidu_embedded"
        finally:
            await conn.close()
        from store.db import make_engine

        engine = make_engine(url)  # SQLAlchemy + asyncpg accept the socket form too
        try:
            async with engine.connect() as conn2:
                assert await conn2.scalar(text("SELECT current_database()")) == "zhidu_embedded"
        finally:
            await engine.dispose()
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(tmp, ignore_errors=True)


async def test_run_worker_runs_until_stopped(local_env, settings_factory) -> None:
    from worker import run_worker

    settings = settings_factory(
        temporal_address=local_env.client.service_client.config.target_host,
        temporal_task_queue=f"infra-{uuid.uuid4().hex[:8]}",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop))
    await asyncio.sleep(1.5)
    assert not task.done(), task.exception() if task.done() else None
    stop.set()
    await asyncio.wait_for(task, 30)


def test_dev_session_secret_is_random_and_kept(tmp_path: Path, monkeypatch) -> None:
    from starter.devstack import with_session_secret

    monkeypatch.delenv("ZHIDU_SESSION_SECRET", raising=False)
    default = Settings(data_dir=tmp_path)
    assert default.has_dev_session_secret
    first = with_session_secret(default, tmp_path)
    path = tmp_path / "session_secret"
    assert not first.has_dev_session_secret and len(first.session_secret) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() == first.session_secret
    assert with_session_secret(default, tmp_path).session_secret == first.session_secret
    other = tmp_path / "other"
    other.mkdir()
    assert with_session_secret(default, other).session_secret != first.session_secret
    explicit = Settings(data_dir=tmp_path, session_secret="from-the-environment")
    assert with_session_secret(explicit, tmp_path).session_secret == "from-the-environment"
