"""What a regulation's words are called on the pages, in Chinese and English: its outcomes,
timeline events, enum values, fields and record titles. Each regulation keeps its own in its
folder (`workflows/regulations/<code>/labels.py`), the engine its generic ones
(`workflows/engine/labels.py`); the pages merge them (a regulation's word wins over the
engine's). Pure data, passed through the workflow sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

Pair = tuple[str, str]  # (中文, English)


def _frozen(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Labels:
    outcomes: Mapping[str, Pair] = field(default_factory=_frozen)
    events: Mapping[str, Pair] = field(default_factory=_frozen)
    enums: Mapping[str, Pair] = field(default_factory=_frozen)
    # A field's Chinese label, where its model's description is not a short label.
    fields: Mapping[str, str] = field(default_factory=_frozen)
    records: Mapping[str, Pair] = field(default_factory=_frozen)  # record kind -> its title

    def __post_init__(self) -> None:
        for name in ("outcomes", "events", "enums", "fields", "records"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def over(self, base: Labels) -> Labels:
        """These labels, with `base`'s where these have none."""
        return Labels(
            outcomes={**base.outcomes, **self.outcomes},
            events={**base.events, **self.events},
            enums={**base.enums, **self.enums},
            fields={**base.fields, **self.fields},
            records={**base.records, **self.records},
        )


def merge(*labels: Labels) -> Labels:
    """The labels of several regulations in one (a later one wins where two name a word)."""
    result = Labels()
    for one in labels:
        result = one.over(result)
    return result
