"""Values and events in words, as the pages, the exports and the CLI say them: China time to
the minute, money with two decimals, people by name, roles, outcomes and coded values by their
labels, and each timeline event as a sentence (the templates of workflows.labels.Labels, the
engine's and the regulations'), with a readable fallback for an event nobody gave one: its
name and its labelled details, never a raw key.

Kept free of the web framework, so `zhidu show` says the same as the case page."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from starter.people import Directory
from workflows.labels import Labels
from workflows.model import CHINA_TZ, Deadline, is_deadline
from workflows.regulations import ROLE_BOOK
from workflows.roles import RoleBook

STATUS: dict[str, tuple[str, str]] = {
    "open": ("进行中", "open"),
    "running": ("进行中", "running"),
    "closed": ("已结束", "closed"),
    "done": ("已完成", "done"),
    "lapsed": ("已失效", "lapsed"),
    "cancelled": ("已取消", "cancelled"),
    "failed": ("失败", "failed"),
    "pending": ("待发送", "pending"),
    "sent": ("已发送", "sent"),
    "attention": ("需要关注", "needs attention"),
}

# Fields that name a person (a login id) wherever they appear; a regulation adds its own
# through its entry's `people` and its labels' `persons`.
PERSON_KEYS = frozenset({
    "actor", "assignee", "owner", "party", "sender", "created_by",
    "closed_by", "started_by", "proposed_by", "approved_by", "granted_by", "signer",
    "regional_manager", "department_manager", "charge_to",
})  # fmt: skip

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_ID_TAIL = re.compile(r"/(t|u)\d+$")


def pick(pair: tuple[str, str] | None, lang: str, fallback: str = "") -> str:
    if pair is None:
        return fallback
    return pair[1] if lang == "en" else pair[0]


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)
    return None


def local(value: Any) -> str:
    """China time, to the minute (`2026-11-28 16:35`)."""
    dt = parse_time(value)
    return dt.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if dt else ""


def span(delta: timedelta, lang: str) -> str:
    """`2 天 3 小时` (the two largest units)."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = (("天", "d"), ("小时", "h"), ("分钟", "min"))
    parts = [f"{n} {pick(u, lang)}" for n, u in zip((days, hours, mins), units, strict=True) if n]
    return " ".join(parts[:2]) or f"0 {pick(units[2], lang)}"


def yuan(value: Any) -> str:
    """Money with two decimals (`120.50`); the value itself when it is not a number."""
    try:
        return f"{Decimal(str(value)).quantize(Decimal('0.01')):,.2f}".replace(",", "")
    except (InvalidOperation, ValueError):
        return str(value)


_MONEY_IN_TEXT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(\s*元)")


def money_in_text(text: str) -> str:
    """`回访费用报销：120.5 元` -> `回访费用报销：120.50 元` (titles a workflow wrote)."""
    return _MONEY_IN_TEXT.sub(lambda m: yuan(m.group(1)) + m.group(2), text)


def is_money(key: str) -> bool:
    return key.endswith("_yuan") or key in ("amount", "yuan")


@dataclass
class Words:
    """Everything needed to say a case's values and events in one language: the labels, the
    roles, the people, and the case's tasks, records and units by id."""

    labels: Labels
    book: RoleBook
    people: Directory
    lang: str = "zh"
    tasks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    records: Mapping[str, str] = field(default_factory=dict)  # record id -> title
    units: Mapping[str, str] = field(default_factory=dict)  # unit id -> title
    person_keys: frozenset[str] = PERSON_KEYS

    @property
    def zh(self) -> bool:
        return self.lang != "en"

    def person(self, uid: Any) -> str:
        return self.people.name(str(uid)) if uid else ""

    def role(self, code: Any) -> str:
        code = str(code or "")
        for book in (self.book, ROLE_BOOK):  # the app's regulations, else the organisation's
            if code in book:
                return book.zh(code) if self.zh else book.en(code)
        return pick(self.labels.enums.get(code), self.lang, code)

    def enum(self, value: str) -> str:
        for table in (self.labels.enums, self.labels.outcomes, self.labels.records):
            if value in table:
                return pick(table[value], self.lang)
        return value

    def field(self, key: str) -> str:
        """A field's label (Chinese pages), else the key."""
        if self.zh and key in self.labels.fields:
            return self.labels.fields[key]
        return key.replace("_", " ").capitalize() if not self.zh else key

    def ref(self, value: str) -> str | None:
        """A task, unit or record id as what it is: its title."""
        if value in self.records:
            return self.records[value]
        if value in self.tasks:
            return str(self.tasks[value].get("title") or "")
        if value in self.units:
            return self.units[value]
        return None

    def value(self, key: str, value: Any) -> str:
        """One value in words."""
        if value is None or value == "" or value == [] or value == {}:
            return ""
        if key in self.person_keys and isinstance(value, str):
            return self.person(value)
        if key in self.person_keys and isinstance(value, list):
            return self.join([self.person(v) for v in value])
        if key == "role":
            return self.role(value)
        if key == "roles" and isinstance(value, list):
            return self.join([self.role(v) for v in value])
        if key == "status" and isinstance(value, str):
            return pick(STATUS.get(value), self.lang, self.enum(value))
        if isinstance(value, bool):
            return pick(("是", "yes") if value else ("否", "no"), self.lang)
        if is_money(key) or isinstance(value, Decimal):
            return yuan(value)
        if isinstance(value, int | float):
            return str(int(value)) if float(value).is_integer() else str(value)
        if isinstance(value, datetime):
            return local(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, Mapping):
            return self._mapping(value)
        if isinstance(value, list):
            parts = [self.value(key, v) for v in value]
            sep = "；" if any(isinstance(v, Mapping) for v in value) else None
            return self.join([p for p in parts if p], sep)
        return str(value)

    def _text(self, value: str) -> str:
        if _ISO_TIME.match(value) and parse_time(value):
            return local(value)
        found = self.ref(value)
        if found is not None:
            return found
        return self.enum(value)

    def _mapping(self, value: Mapping[str, Any]) -> str:
        if is_deadline(value):
            try:
                return Deadline.model_validate(value).label(en=not self.zh)
            except ValueError:
                return json.dumps(value, ensure_ascii=False)
        parts = []
        for k, v in value.items():
            text = self.value(k, v)
            if text:
                name = self.field(k)
                # a key without a label is said by its value alone (never a raw key)
                parts.append(text if name == k and self.zh else f"{name}{self.colon}{text}")
        return "，".join(parts) if self.zh else ", ".join(parts)

    @property
    def colon(self) -> str:
        return "：" if self.zh else ": "

    def join(self, parts: list[str], sep: str | None = None) -> str:
        return (sep or ("、" if self.zh else ", ")).join(p for p in parts if p)

    def hint(self, data: Mapping[str, Any] | None, most: int = 3) -> str:
        """What tells a task from another of the same title: its labelled data in words
        (`预约时间 2026-12-01 10:00 · 理由 报表导出慢`)."""
        parts = []
        for k, v in (data or {}).items():
            if (
                isinstance(v, bool | Mapping | list)
                or v in (None, "")
                or k not in self.labels.fields
            ):
                continue
            text = self.value(k, v)
            if text and "/" not in text:
                parts.append(f"{self.field(k)} {text[:40]}")
        return " · ".join(parts[:most])

    # ---- the timeline -------------------------------------------------------------------------

    def event(self, event: Mapping[str, Any]) -> str:
        """A timeline event as a sentence."""
        kind = str(event.get("kind") or "")
        detail = dict(event.get("detail") or {})
        values = {k: self.value(k, v) for k, v in detail.items()}
        values["actor"] = self.person(event.get("actor")) if event.get("actor") else ""
        task = self.tasks.get(str(detail.get("task_id") or ""))
        values["task"] = str((task or {}).get("title") or detail.get("title") or "")
        if detail.get("record_id"):
            rid = str(detail["record_id"])
            values["record"] = self.records.get(rid) or self._record_title(rid)
        if detail.get("unit"):
            values["unit"] = self.units.get(str(detail["unit"]), "")
        if "outcome" in detail:
            values["outcome"] = pick(
                self.labels.outcomes.get(str(detail["outcome"])), self.lang, str(detail["outcome"])
            )
        if kind == "task_completed":
            values["timing"] = self._timing(event, task)
        if kind == "task_opened" and detail.get("assignee"):
            values["role"] = ""
        said = self.labels.say(kind, values, self.lang)
        return said if said is not None else self._fallback(kind, detail, values)

    def _record_title(self, record_id: str) -> str:
        parts = record_id.split("/")
        kind = parts[-2] if len(parts) >= 3 else ""
        return pick(self.labels.records.get(kind), self.lang, "")

    def _timing(self, event: Mapping[str, Any], task: Mapping[str, Any] | None) -> str:
        due, at = parse_time((task or {}).get("due_at")), parse_time(event.get("at"))
        if due is None or at is None:
            return ""
        if at <= due:
            return (
                f"截止前 {span(due - at, self.lang)}"
                if self.zh
                else f"{span(due - at, 'en')} early"
            )
        return f"超期 {span(at - due, self.lang)}" if self.zh else f"{span(at - due, 'en')} late"

    def _fallback(self, kind: str, detail: Mapping[str, Any], values: Mapping[str, str]) -> str:
        """The event's name, who, and each detail that has a label."""
        name = pick(self.labels.events.get(kind), self.lang, "")
        if not name:
            name = "其他事件" if self.zh else kind.replace("_", " ")
        parts = []
        for k in detail:
            text = values.get(k) or ""
            label = self.field(k)
            if text and (label != k or not self.zh) and k not in ("actor", "task_id", "unit"):
                parts.append(f"{label}{self.colon}{text}")
        who = values.get("actor") or ""
        head = f"{who} {name}" if who else name
        if not parts:
            return head
        return head + self.colon + ("；" if self.zh else "; ").join(parts)
