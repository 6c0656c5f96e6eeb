"""The service's refusals: each carries the HTTP status the API answers with and, where known,
the field it is about. The CLI prints them as one line. Here, below `starter`, because a case
start asked for by another case (activities/starts.py) refuses with them too."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from activities.zh import pydantic_zh

if TYPE_CHECKING:
    from pydantic import ValidationError


class ServiceError(Exception):
    """A refusal with the HTTP status the API answers with and, where known, the field."""

    def __init__(
        self, status: int, message: str, field: str | None = None, message_zh: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        # The reason in Chinese for the pages (the API and the CLI answer with `message`).
        self.message_zh = message_zh

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class _Refusal(ServiceError):
    """A ServiceError whose status comes with its kind."""

    STATUS = 500

    def __init__(
        self, message: str, field: str | None = None, message_zh: str | None = None
    ) -> None:
        super().__init__(self.STATUS, message, field, message_zh)


class NotFound(_Refusal):
    STATUS = 404


class Forbidden(_Refusal):
    STATUS = 403


class Conflict(_Refusal):
    STATUS = 409


class Invalid(_Refusal):
    STATUS = 422


class ConfigError(_Refusal):
    """The server's own configuration is wrong (e.g. a bad policy file)."""


# Validator refusals (ApplicationError.type, see workflows.engine.refuse) -> service errors.
REFUSALS: dict[str, type[NotFound | Forbidden | Conflict | Invalid]] = {
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "Conflict": Conflict,
    "Invalid": Invalid,
}


INNER = re.compile(r" \(in ([^()]+)\)$")


def field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def error_field(loc: tuple[int | str, ...], msg: str) -> str:
    """The field a pydantic error is about; a check of a whole mapping names the key inside it
    in its message (workflows.model._clean: "... (in note)")."""
    path = field_path(loc)
    inner = INNER.search(msg)
    return f"{path}.{inner.group(1)}" if inner else path


def invalid_from(exc: ValidationError, prefix: str = "") -> Invalid:
    """The first error of a pydantic ValidationError, naming its field path."""
    err = exc.errors()[0]
    path = error_field(tuple(err["loc"]), str(err.get("msg") or ""))
    if prefix:
        path = f"{prefix}.{path}" if path != "body" else prefix
    more = exc.error_count() - 1
    extra = f" (+{more} more)" if more else ""
    zh = pydantic_zh(err) + (f"（另有 {more} 处错误）" if more else "")
    return Invalid(f"{err['msg']}{extra}", path, zh)
