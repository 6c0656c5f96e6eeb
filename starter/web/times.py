"""Times as a person reads them on a page: China time to the minute, a task's due with how long
is left (or how long it is overdue), and the value of a datetime-local input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starter.wording import local, parse_time, span
from workflows.model import CHINA_TZ

__all__ = ["Due", "datetime_local", "due_info", "local", "parse_time", "span", "with_china_tz"]

DUE_SOON = timedelta(hours=24)


@dataclass
class Due:
    """A task's due as a person reads it: when, how long left (or overdue by), and its class."""

    at: str
    left: str
    css: str  # overdue | soon | ok | paused | none
    provisional: bool


def due_info(task: Mapping[str, Any], now: datetime, lang: str) -> Due:
    due = parse_time(task.get("due_at"))
    provisional = bool(task.get("provisional"))
    if due is None:
        return Due("", "", "none", provisional)
    if task.get("paused_at"):
        return Due(
            local(due), "⏸ " + ("paused" if lang == "en" else "已暂停"), "paused", provisional
        )
    delta = due - now
    if delta < timedelta(0):
        text = f"overdue by {span(delta, lang)}" if lang == "en" else f"已超期 {span(delta, lang)}"
        return Due(local(due), text, "overdue", provisional)
    remind = parse_time(task.get("remind_at"))
    soon = delta <= DUE_SOON or (remind is not None and remind <= now)
    text = f"{span(delta, lang)} left" if lang == "en" else f"剩余 {span(delta, lang)}"
    return Due(local(due), text, "soon" if soon else "ok", provisional)


def datetime_local(value: Any) -> str:
    """A stored time as an <input type=datetime-local> value (China time)."""
    dt = parse_time(value)
    return dt.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M") if dt else ""


def with_china_tz(raw: str) -> str:
    """`2026-12-01T10:00` (datetime-local, no zone) -> `2026-12-01T10:00:00+08:00`."""
    raw = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", raw):
        return f"{raw}:00+08:00"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", raw):
        return f"{raw}+08:00"
    return raw
