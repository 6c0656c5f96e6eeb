"""Run the Alembic migrations programmatically, from wherever the package is installed.

Start-up of the worker and of the web app may both call `upgrade`; a PostgreSQL advisory lock
makes the second caller wait for the first and then find the schema already at head.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from store.db import async_url

HERE = Path(__file__).resolve().parent
# Arbitrary but fixed 64-bit key shared by every zhidu process ("zhidu" + "mig" in hex).
MIGRATION_LOCK_KEY = 0x7A6869647500_6D69


def alembic_config(database_url: str) -> Config:
    """An Alembic Config that needs no current directory: paths come from this file."""
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    # ConfigParser interpolation: a '%' in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return cfg


def _upgrade_on(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` to `revision` (default head). Safe to run concurrently."""
    cfg = alembic_config(database_url)
    engine = create_async_engine(async_url(database_url), poolclass=pool.NullPool)
    try:
        # One transaction: the xact lock is released by the commit that publishes the schema.
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade_on, cfg, revision)
    finally:
        await engine.dispose()


def upgrade_sync(database_url: str, revision: str = "head") -> None:
    """`upgrade` for synchronous callers (the CLI); must not be called from a running loop."""
    asyncio.run(upgrade(database_url, revision))
