"""Data shared by every regulation: actors, tasks, deadlines, events and the payload of the
one activity that persists a workflow step. Pure pydantic models: safe inside the workflow
sandbox, used unchanged by activities, the API and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# China has no daylight saving time: a fixed offset is exact and needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

TaskStatus = Literal["open", "done", "lapsed", "cancelled"]


class Actor(BaseModel):
    """Who acts. The API and CLI build it from the signed-in user, never from client input."""

    id: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(default_factory=list)
    name: str | None = None


class Deadline(BaseModel):
    """A duration as a regulation states it: wall-clock ("24 h", "3 days") or working days.

    `end_of_day` moves the result to 24:00 China time of its day ("the day after the visit").
    Working days follow China's statutory calendar with its 调休 makeup days and are turned into
    a time by an activity, never inside workflow code."""

    model_config = ConfigDict(frozen=True)
    days: float = Field(0, ge=0)
    hours: float = Field(0, ge=0)
    minutes: float = Field(0, ge=0)
    seconds: float = Field(0, ge=0)
    working_days: int = Field(0, ge=0)
    end_of_day: bool = False

    @model_validator(mode="after")
    def _not_mixed(self) -> Deadline:
        if self.working_days and self.wall:
            raise ValueError("a deadline is either in working days or in wall-clock time")
        return self

    @property
    def wall(self) -> timedelta:
        return timedelta(
            days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        )

    def label(self) -> str:
        if self.working_days:
            return f"{self.working_days} 个工作日"
        parts = []
        if self.days:
            parts.append(f"{self.days:g} 天")
        if self.hours:
            parts.append(f"{self.hours:g} 小时")
        if self.minutes:
            parts.append(f"{self.minutes:g} 分钟")
        if self.seconds:
            parts.append(f"{self.seconds:g} 秒")
        return " ".join(parts) or "立即"


class Extension(BaseModel):
    seq: int
    granted_by: str
    granted_role: str
    reason: str
    old_due: datetime | None
    new_due: datetime
    at: datetime


class TaskState(BaseModel):
    """A human step of a case, as the `state` query and the tasks table show it."""

    id: str
    seq: int
    kind: str
    role: str
    assignee: str | None = None
    title: str
    clause: str
    status: TaskStatus = "open"
    due_at: datetime | None = None
    remind_at: datetime | None = None
    provisional: bool = False
    # Kept so a provisional working-day due can be recomputed when the year is loaded.
    due_base: datetime | None = None
    due_working_days: int = 0
    outcome: str | None = None
    outcomes: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    reminded: bool = False
    breached_at: datetime | None = None
    extensions: list[Extension] = Field(default_factory=list)
    # Who may extend this deadline, and how far: role -> latest allowed due (None = no limit).
    extend_limits: dict[str, datetime | None] = Field(default_factory=dict)
    version: int = 0


class EventState(BaseModel):
    seq: int
    at: datetime
    kind: str
    actor: str | None = None
    clause: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class CaseView(BaseModel):
    """Answer of the `state` query."""

    case_id: str
    regulation: str
    title: str
    status: str
    provisional: bool = False
    run: int = 1
    tasks: list[TaskState]
    events: list[EventState]
    summary: dict[str, Any] = Field(default_factory=dict)


# ---- messages -------------------------------------------------------------------------


class CompleteTaskInput(BaseModel):
    task_id: str = Field(min_length=1)
    actor: Actor
    outcome: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


class ExtendDeadlineInput(BaseModel):
    task_id: str = Field(min_length=1)
    actor: Actor
    new_due: datetime
    reason: str = Field(min_length=2, max_length=1000)

    @field_validator("new_due")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("new_due needs a time zone (e.g. 2026-12-01T18:00:00+08:00)")
        return v


class CalendarUpdatedInput(BaseModel):
    years: list[int] = Field(default_factory=list)


# ---- activity payloads ------------------------------------------------------------------


class CaseWrite(BaseModel):
    id: str
    regulation: str
    title: str
    customer_id: str | None = None
    status: str
    provisional: bool = False
    version: int = 0  # the case's event counter at this step
    started_by: str | None = None
    closed_at: datetime | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)


class NotificationWrite(BaseModel):
    key: str  # idempotency key, unique per case
    recipient: str  # user id, or "role:<code>"
    subject: str
    body: str


class RecordWrite(BaseModel):
    id: str
    kind: str
    title: str
    category: str | None = None
    data: dict[str, Any]
    created_by: str | None = None
    created_at: datetime


class SignatureWrite(BaseModel):
    id: str
    record_id: str
    signer: str
    role: str
    method: Literal["staff_login", "drawing", "otp"]
    signed_at: datetime
    evidence_sha256: str | None = None


class PenaltyWrite(BaseModel):
    id: str
    clause: str
    party: str
    party_kind: Literal["person", "department"] = "person"
    amount_yuan: float = 0
    kind: Literal["fine", "charge", "dismissal", "demotion", "commendation"] = "fine"
    rule: str
    at: datetime


class StepChanges(BaseModel):
    """Everything one workflow step changed, persisted in one transaction (idempotent)."""

    case: CaseWrite
    events: list[EventState] = Field(default_factory=list)
    tasks: list[TaskState] = Field(default_factory=list)
    notifications: list[NotificationWrite] = Field(default_factory=list)
    records: list[RecordWrite] = Field(default_factory=list)
    signatures: list[SignatureWrite] = Field(default_factory=list)
    penalties: list[PenaltyWrite] = Field(default_factory=list)


class DueRequest(BaseModel):
    start: datetime
    working_days: int = Field(ge=0)


class DueResult(BaseModel):
    due_at: datetime
    provisional: bool
    # Years the due date crosses that neither the library nor a loaded override confirms.
    unconfirmed_years: list[int] = Field(default_factory=list)
