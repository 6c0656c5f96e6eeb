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
    as opposed to a refusal of the data: the caller should retry later (HTTP 503).

    Follows the chain of causes: SQLAlchemy wraps a driver's lost connection ("connection was
    closed in the middle of operation") in a plain DBAPIError, and Temporal's client reports a
    server restarting as an UNKNOWN status whose message names the transport."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable_itself(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


_TRANSPORT_WORDS = ("transport error", "tcp connect error", "connection refused", "broken pipe")
# SQLSTATEs of a database that does not answer now but will: connection exceptions (class 08),
# the server shutting down, starting or refusing connections (57P01-57P03, "the database is
# not currently accepting connections" 55000 with ALLOW_CONNECTIONS false), too many
# connections (53300).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "53300")


def _unavailable_itself(exc: BaseException) -> bool:
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
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return True
        text = exc.message.lower()
        if exc.status == RPCStatusCode.CANCELLED:
            # The client gave up waiting ("Timeout expired": a frozen or overloaded server).
            return "timeout" in text or "timed out" in text
        return exc.status == RPCStatusCode.UNKNOWN and any(w in text for w in _TRANSPORT_WORDS)
    if isinstance(exc, OSError) and exc.errno is not None:
        return True
    state = str(getattr(exc, "sqlstate", "") or "")
    if state.startswith("08") or state in _UNAVAILABLE_STATES:
        return True
    if state == "55000" and "accepting connections" in str(exc):
        return True
    return type(exc).__name__ in (
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "InterfaceError",  # asyncpg's own, e.g. "connection is closed"
    )


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)
