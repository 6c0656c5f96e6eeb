"""What the parts of the engine share that is no state: the options of its activities, the
validators' refusals, times as text, the mapping titles are formatted with."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from workflows.model import CHINA_TZ

M = TypeVar("M", bound=BaseModel)  # a model a helper reads data into


# Persisting must survive a database outage: retry with backoff for as long as it takes.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)


def refuse(kind: str, reason: str, zh: str | None = None, **detail: Any) -> ApplicationError:
    """A validator's refusal; `kind` maps to an HTTP status in the API (Forbidden -> 403).
    `zh`, the reason in Chinese for the pages, and any `detail` (e.g. the pydantic `error` a
    page says in Chinese) travel in the error's details. Validator refusals leave nothing in
    the history, so their wording may change freely."""
    info = {k: v for k, v in {"zh": zh, **detail}.items() if v is not None}
    if info:
        return ApplicationError(reason, info, type=kind, non_retryable=True)
    return ApplicationError(reason, type=kind, non_retryable=True)


def local_text(dt: datetime | None, seconds: bool = False) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return dt.astimezone(CHINA_TZ).strftime(fmt) if dt else "—"


class _Format(dict[str, Any]):
    """str.format_map mapping that leaves unknown fields visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
