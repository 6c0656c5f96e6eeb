"""A regulation's policy: its defaults (the regulation's own numbers), overlaid with the
company's policy file. A running case keeps the policy it started with. Read by the pages, the
API, the CLI and the schedules (starter/) and by a case start another case asks for
(activities/starts.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from activities.errors import ConfigError, invalid_from
from workflows.model import is_deadline

if TYPE_CHECKING:
    from settings import Settings
    from workflows.registry import RegulationEntry


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Nested models merge field by field; a deadline is replaced whole (`{"working_days": 1}`
    replaces `{"hours": 24}`: a deadline is of one kind)."""
    out = dict(base)
    for key, value in over.items():
        if (
            isinstance(value, Mapping)
            and isinstance(out.get(key), dict)
            and not is_deadline(out[key])
        ):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_policy(entry: RegulationEntry, settings: Settings) -> BaseModel:
    """`{code: {field: value}}` from `ZHIDU_POLICY_FILE`, nested models merged field by field.
    A bad file is refused with a message that names the file and the field."""
    defaults = entry.policy_model()
    path = settings.policy_file
    if path is None:
        return defaults
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"policy file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"policy file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"policy file {path} must be a JSON object {{code: {{field: value}}}}")
    section = data.get(entry.code)
    if section is None:
        return defaults
    if not isinstance(section, dict):
        raise ConfigError(f"policy file {path}: {entry.code!r} must be an object", entry.code)
    unknown = sorted(set(section) - set(entry.policy_model.model_fields))
    if unknown:
        raise ConfigError(
            f"policy file {path}: {entry.code} has no policy field(s) {', '.join(unknown)}",
            f"{entry.code}.{unknown[0]}",
        )
    merged = _deep_merge(defaults.model_dump(mode="json"), section)
    try:
        return entry.policy_model.model_validate(merged)
    except ValidationError as exc:
        bad = invalid_from(exc, entry.code)
        raise ConfigError(f"policy file {path}: {bad.field}: {bad.message}", bad.field) from exc
