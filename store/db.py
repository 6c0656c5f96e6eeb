"""One async engine per process; one AsyncSession per unit of work (expire_on_commit=False)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and use asyncpg."""
    for prefix in (
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql://",
        "postgres://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got {url.split(':', 1)[0]}:…")


def make_engine(
    url: str, *, pool_size: int = 5, max_overflow: int = 5, pre_ping: bool = True
) -> AsyncEngine:
    """`pre_ping=False` for the worker: a stale connection fails the activity, which is
    retried anyway, instead of costing a round trip on every checkout."""
    # hide_parameters: an error message (a log line, a failed activity in Temporal's history)
    # never carries the values of a statement, which hold customers' names and phones.
    return create_async_engine(
        async_url(url),
        pool_pre_ping=pre_ping,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=10,
        hide_parameters=True,
    )


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means a service does not answer (database down, Temporal unreachable),
    as opposed to a refusal of the data: the caller should retry later (HTTP 503)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(
        exc, OperationalError | InterfaceError | PoolTimeout | ConnectionError | TimeoutError
    ):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, RPCError):
        return exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    if isinstance(exc, OSError) and exc.errno is not None:
        return True
    name = type(exc).__name__
    return name in (
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
    )


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)
