"""The API's one refusal shape, `{"detail": "...", "field": "..." | null}`, as the routes, the
app's error handlers and the middlewares answer it; Retry-After for what passes with time."""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse

log = logging.getLogger("zhidu.api")

RETRY_AFTER = "5"  # seconds: a database or Temporal that does not answer


def refusal(
    status_code: int, detail: str, field: str | None = None, **headers: str
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "field": field}, status_code=status_code, headers=headers
    )


def unavailable(where: str, exc: BaseException) -> JSONResponse:
    """The answer while the database or Temporal does not answer: 503, retry later."""
    log.warning("%s: a service does not answer (%s)", where, type(exc).__name__)
    return refusal(503, "a service (database or Temporal) does not answer; try again", None,
                   **{"Retry-After": RETRY_AFTER})  # fmt: skip
