"""The app served on this machine for a real client, shared by the benchmarks and the tests that
need one (the browser test, the API fuzzing, the screenshots, the fault drill): a free port, the
app under uvicorn in a thread, and the Debian Chromium with the flags that work here."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# apt-get install chromium fonts-noto-cjk; never `playwright install` (it downloads).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The PostgreSQL server a benchmark uses when neither --database-url nor DATABASE_URL names one.
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def scratch_database_url(prefix: str, server: str | None = None, tag: str | None = None) -> str:
    """The URL of a new database `<prefix>_<tag>` (tag random unless given) on `server`, else
    the server of DATABASE_URL, else LOCAL_POSTGRES; the caller creates and drops it."""
    from sqlalchemy.engine import make_url

    base = server or os.environ.get("DATABASE_URL") or LOCAL_POSTGRES
    name = f"{prefix}_{tag or secrets.token_hex(4)}"
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """The app under uvicorn in a thread (its own event loop: the app makes its own database
    engine and Temporal client at start-up), stopped on leaving."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)
