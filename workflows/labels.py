"""What a regulation's words are called on the pages, in Chinese and English: its outcomes,
timeline events (a name, and a sentence a supervisor can read aloud), enum values, fields,
record titles, the order of each record's fields, the person fields of its task forms and the
names of its policy parameters. Each regulation keeps its own in its folder
(`workflows/regulations/<code>/labels.py`), the engine its generic ones
(`workflows/engine/labels.py`); the pages merge them (a regulation's word wins over the
engine's). Pure data, passed through the workflow sandbox.

A sentence is a template over the event's detail, said by the pages with every value already
in words (people by name, times in China time, codes by their labels):

    "deadline_extended": ("{actor} 将《{task}》的截止时间延至 {new_due}[，理由：{reason}]", ...)

`{name}` is a value of the event (its detail, and what the pages add: `actor`, `task` — the
title of the task it names —, `outcome`, `timing`, `record`, `role`, `assignee`); a part in
`[...]` is left out when a value in it is empty or missing. A sentence whose required values
are missing is not said (the pages fall back to the event's name and its labelled details).
Event kinds made of a key (`expense_approved`) are matched by their ending: `*_approved`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

Pair = tuple[str, str]  # (中文, English)


def _frozen(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


_NAMES = ("outcomes", "events", "enums", "fields", "records", "sentences", "layouts", "persons",
          "params")  # fmt: skip
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Labels:
    outcomes: Mapping[str, Pair] = field(default_factory=_frozen)
    events: Mapping[str, Pair] = field(default_factory=_frozen)
    enums: Mapping[str, Pair] = field(default_factory=_frozen)
    # A field's Chinese label, where its model's description is not a short label.
    fields: Mapping[str, str] = field(default_factory=_frozen)
    records: Mapping[str, Pair] = field(default_factory=_frozen)  # record kind -> its title
    # event kind (or `*_ending`) -> (中文, English) sentence template, see the module docstring
    sentences: Mapping[str, Pair] = field(default_factory=_frozen)
    # record kind -> its fields in the order of the paper form (basic facts, the content, the
    # conclusions); fields not named follow in the order of the form's model
    layouts: Mapping[str, tuple[str, ...]] = field(default_factory=_frozen)
    # a field of a task's form that names a person -> the role that person holds ("" = anyone):
    # the pages offer a choice of those people (the case input's are the entry's `people`)
    persons: Mapping[str, str] = field(default_factory=_frozen)
    # a policy parameter -> (中文名, 一句说明), where its model's description does not say it
    params: Mapping[str, Pair] = field(default_factory=_frozen)

    def __post_init__(self) -> None:
        for name in _NAMES:
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def over(self, base: Labels) -> Labels:
        """These labels, with `base`'s where these have none."""
        return Labels(**{n: {**getattr(base, n), **getattr(self, n)} for n in _NAMES})

    def sentence_of(self, kind: str) -> Pair | None:
        """The sentence template of an event kind: its own, else that of its ending
        (`*_approved` for `expense_approved`)."""
        if kind in self.sentences:
            return self.sentences[kind]
        for key, pair in self.sentences.items():
            if key.startswith("*") and kind.endswith(key[1:]):
                return pair
        return None

    def say(self, kind: str, values: Mapping[str, str], lang: str = "zh") -> str | None:
        """The event as a sentence: its template filled with `values` (already in words), or
        None when it has no template or a value the template needs is missing."""
        pair = self.sentence_of(kind)
        if pair is None:
            return None
        return fill(pair[1] if lang == "en" else pair[0], values)


def fill(template: str, values: Mapping[str, str]) -> str | None:
    """`template` with its `{slots}` filled; an `[optional part]` goes when a slot in it is
    empty; None when a required slot is empty."""

    def optional(m: re.Match[str]) -> str:
        part = m.group(1)
        return part if all(values.get(s) for s in _SLOT.findall(part)) else ""

    text = _OPTIONAL.sub(optional, template)
    if not all(values.get(s) for s in _SLOT.findall(text)):
        return None
    return _SLOT.sub(lambda m: str(values[m.group(1)]), text)


def merge(*labels: Labels) -> Labels:
    """The labels of several regulations in one (a later one wins where two name a word)."""
    result = Labels()
    for one in labels:
        result = one.over(result)
    return result
