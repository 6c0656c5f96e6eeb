"""Data shared by every regulation: actors, deadlines, tasks, units of work, events, money, the
case state a workflow carries across continue-as-new, its messages and the payload of the one
activity that persists a step.

Pure pydantic models, imported once and passed through the workflow sandbox (the sandbox does
not re-define them per run), used unchanged by activities, the API and the CLI.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# China has no daylight saving time: a fixed offset is exact and needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

TaskStatus = Literal["open", "done", "lapsed", "cancelled"]
SYSTEM_ACTOR_ID = "system"

# Money: yuan with fen, exact (never float).
Yuan = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
FEN = Decimal("0.01")


def yuan(value: Decimal | int | str) -> Decimal:
    """`value` as yuan rounded half-up to the fen."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


# C0 control characters other than tab, line feed and carriage return, and DEL: PostgreSQL
# refuses NUL in text and JSON, and none of them belongs in what a person types.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TEXT = 20_000  # any string a person sends, unless its field says otherwise
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


MAX_DEPTH = 16  # nesting of lists and objects in what a person sends (forms are 2-4 deep)


def _clean(value: Any, where: str = "", depth: int = 0) -> None:
    """Refuse control characters and text that is not Unicode (a lone surrogate such as
    "\\udc80", which no UTF-8 store can hold) anywhere in a value, and nesting deeper than
    MAX_DEPTH (a deep structure costs every reader and the data converter a recursion); `where`
    names the inner key for the refusal."""
    if isinstance(value, str):
        if CONTROL.search(value):
            raise ValueError(f"control characters (such as NUL) are not allowed{where}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"text must be valid Unicode (no lone surrogates){where}") from None
    elif isinstance(value, dict | list | tuple):
        if depth >= MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels{where}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            inner = f"{where[5:-1]}.{k}" if where else str(k)
            if isinstance(k, str):
                _clean(k, f" (in {inner})", depth + 1)
            _clean(v, f" (in {inner})", depth + 1)


class Form(BaseModel):
    """Base of everything people (or clients) send: inputs, task data, actions. Every string
    is bounded and free of control characters, and every time is between 2000 and 2100, so
    what passes validation can be stored."""

    model_config = ConfigDict(str_max_length=MAX_TEXT)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        _clean(value)
        if isinstance(value, datetime) and value.tzinfo is not None:
            if not EARLIEST <= value <= LATEST:
                raise ValueError("must be between the years 2000 and 2100")
        return value


class Attachment(Form):
    """A file a person attached to a form (a document of a checklist, a drawing, a spreadsheet):
    the app stores the file (`POST /api/attachments`), the case keeps this reference — its id,
    name, type, size and SHA-256 — never the bytes, so a record that names it proves which file
    it was."""

    id: str = Field(pattern=r"^att_[A-Za-z0-9_-]{8,64}$")
    name: str = Field(min_length=1, max_length=200)
    media_type: str = Field("application/octet-stream", max_length=100)
    size: int = Field(ge=0, le=20_000_000)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Actor(Form):
    """Who acts. The API and CLI build it from the signed-in user, never from client input;
    `system` acts for what no person did (timers, messages between cases)."""

    id: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(default_factory=list, max_length=30)
    name: str | None = Field(None, max_length=200)
    department: str | None = Field(None, max_length=100)


SYSTEM = Actor(id=SYSTEM_ACTOR_ID, roles=["system"], name="系统")


class Deadline(BaseModel):
    """A time limit as a regulation states it. Exactly one kind:

    - wall clock: `months` + `days`/`hours`/`minutes`/`seconds` ("24 h", "3 days", "6 months");
    - `working_days` ("3 working days", China's statutory calendar with its 调休 makeup days);
    - calendar-anchored: `month_day` ("by the 10th", "within the first 5 days of the month") or
      `before_month_end` ("2 days before month end"), both due at the end of that day.

    `end_of_day` moves a wall-clock or working-day result to 24:00 China time of its day
    ("the day after the visit")."""

    model_config = ConfigDict(frozen=True)
    months: int = Field(0, ge=0, le=1200)
    days: float = Field(0, ge=0, le=36600)
    hours: float = Field(0, ge=0, le=876000)
    minutes: float = Field(0, ge=0, le=52560000)
    seconds: float = Field(0, ge=0, le=3153600000)
    working_days: int = Field(0, ge=0, le=3650)
    month_day: int | None = Field(None, ge=1, le=31)
    before_month_end: int | None = Field(None, ge=0, le=27)
    end_of_day: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Deadline:
        kinds = [
            bool(self.months or self.wall),
            bool(self.working_days),
            self.month_day is not None,
            self.before_month_end is not None,
        ]
        if sum(kinds) > 1:
            raise ValueError(
                "a deadline is one of: wall-clock time, working days, a day of the month, "
                "or days before month end"
            )
        return self

    @property
    def wall(self) -> timedelta:
        return timedelta(
            days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        )

    @property
    def anchored(self) -> bool:
        return self.month_day is not None or self.before_month_end is not None

    def label(self, en: bool = False) -> str:
        """The time limit in words, in Chinese (or English)."""
        if self.working_days:
            return f"{self.working_days} working days" if en else f"{self.working_days} 个工作日"
        if self.month_day is not None:
            return f"by day {self.month_day} of the month" if en else f"每月 {self.month_day} 日前"
        if self.before_month_end is not None:
            n = self.before_month_end
            return f"{n} days before month end" if en else f"月底前 {n} 天"
        parts = [
            f"{v:g} {unit[en]}"
            for v, unit in (
                (self.months, ("个月", "months")),
                (self.days, ("天", "days")),
                (self.hours, ("小时", "hours")),
                (self.minutes, ("分钟", "minutes")),
                (self.seconds, ("秒", "seconds")),
            )
            if v
        ]
        return " ".join(parts) or ("at once" if en else "立即")


def is_deadline(value: Any) -> bool:
    """Whether `value` is a Deadline as stored (a model_dump: every field present)."""
    return isinstance(value, dict) and set(value) == set(Deadline.model_fields)


class Extension(BaseModel):
    seq: int
    granted_by: str
    granted_role: str
    reason: str
    old_due: datetime | None
    new_due: datetime
    at: datetime


class SignatureReq(BaseModel):
    """A signature a task's record needs: whose (`party`: the actor completing the task, or the
    customer / owner), by which methods, and whether it is required for this task."""

    party: Literal["actor", "customer"]
    role: str
    methods: list[Literal["staff_login", "drawing", "otp"]]
    required: bool = True  # as the task's data said when it opened
    # The boolean of the completion's data that decides `required` instead, when the outcome's
    # data has it (Sign.required names it).
    when: str | None = None
    outcomes: list[str] = Field(default_factory=list)  # empty = every outcome with a record


class TaskState(BaseModel):
    """A human step of a case, as the `state` query and the tasks table show it."""

    id: str
    seq: int
    kind: str
    unit: str | None = None
    role: str
    assignee: str | None = None
    title: str
    clause: str
    status: TaskStatus = "open"
    due_at: datetime | None = None
    remind_at: datetime | None = None
    lapse_at: datetime | None = None
    provisional: bool = False
    # What the due was computed from, so a provisional due can be recomputed when the year's
    # calendar is loaded.
    due_base: datetime | None = None
    due_rule: Deadline | None = None
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
    # Roles that may stop the clock while the owner / customer is waited on.
    pausable_by: list[str] = Field(default_factory=list)
    paused_at: datetime | None = None
    signatures: list[SignatureReq] = Field(default_factory=list)
    version: int = 0


class TaskView(TaskState):
    """A task in the `state` answer: with the JSON Schema of each outcome's data, so a form can
    be generated from it."""

    outcome_schemas: dict[str, dict[str, Any]] = Field(default_factory=dict)


class UnitState(BaseModel):
    """A unit of work inside a case (a visit chain, a supervisory revisit, a key use, an
    escalation), with its own tasks and clocks; several may be open at once."""

    id: str
    kind: str
    title: str
    status: Literal["open", "done", "cancelled"] = "open"
    data: dict[str, Any] = Field(default_factory=dict)
    opened_at: datetime
    closed_at: datetime | None = None


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
    number: str | None = None
    attention: str | None = None
    provisional: bool = False
    run: int = 1
    tasks: list[TaskView]
    units: list[UnitState] = Field(default_factory=list)
    events: list[EventState]
    summary: dict[str, Any] = Field(default_factory=dict)


# ---- the working-day calendar as data --------------------------------------------------------


class YearDays(BaseModel):
    """One calendar year: `days[i]` is 'W' (working day) or 'H' (day off) for day i+1 of the
    year; `confirmed` is False for a year whose schedule is not published yet (guessed)."""

    days: str = Field(min_length=365, max_length=366, pattern=r"^[WH]+$")
    confirmed: bool = True


class CalendarData(BaseModel):
    years: dict[int, YearDays] = Field(default_factory=dict)


# ---- what a case carries from one run to the next ---------------------------------------------


class Wakeup(BaseModel):
    """A point in time at which the regulation's `@at(name)` handler runs."""

    seq: int
    at: datetime
    name: str
    data: dict[str, Any] = Field(default_factory=dict)


class Job(BaseModel):
    """An activity a step asked for (a report query, a message to another case); its result
    goes to the regulation's `@on_result(then)` handler. Re-run after continue-as-new if it had
    not finished (every job activity is idempotent)."""

    seq: int
    activity: str
    arg: dict[str, Any]
    then: str
    context: dict[str, Any] = Field(default_factory=dict)


class Recurring(BaseModel):
    """A duty that comes back on a grid (workflows/engine/blocks/recurrence.py): occurrence k
    at `anchor + offset + k × every`, its `@at(name)` handler run `lead` before it."""

    anchor: datetime
    every: Deadline
    offset: Deadline | None = None
    name: str
    lead: timedelta = timedelta(0)


class CaseState(BaseModel):
    """The whole state of a case between steps: carried into the next run by continue-as-new,
    so open tasks, units, pending wake-ups and jobs survive it."""

    case_id: str = ""
    number: str | None = None
    run: int = 1
    status: str = "open"
    event_seq: int = 0
    task_seq: int = 0
    unit_seq: int = 0
    record_seq: int = 0
    signature_seq: int = 0
    wake_seq: int = 0
    job_seq: int = 0
    case_written: bool = False
    closed_at: datetime | None = None
    attention: str | None = None  # why an administrator is needed (a refused step)
    tasks: list[TaskState] = Field(default_factory=list)
    units: list[UnitState] = Field(default_factory=list)
    wakeups: list[Wakeup] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    ledger_ids: list[str] = Field(default_factory=list)  # booked entries (each booked once)
    discipline_ids: list[str] = Field(default_factory=list)  # register entries (each once)
    message_keys: list[str] = Field(default_factory=list)  # messages from other cases, seen
    # Nonces of the signed assertions this case accepted -> their expiry (unix s): an assertion
    # is good once (worker.AssertionVerifier keeps them until they expire).
    nonces: dict[str, int] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(default_factory=dict)  # the regulation's own state
    calendar: CalendarData = Field(default_factory=CalendarData)
    recurring: dict[str, Recurring] = Field(default_factory=dict)  # duties on a grid, by key
    calendar_years_pending: list[int] = Field(default_factory=list)


class CaseStart(BaseModel):
    """The argument of every case workflow: the validated input and policy as JSON, who
    started it, the working-day calendar, the case number, and on continue-as-new the state."""

    input: dict[str, Any]
    policy: dict[str, Any]
    started_by: str | None = None
    calendar: CalendarData | None = None
    number: str | None = None
    carry: CaseState | None = None


# ---- messages -------------------------------------------------------------------------------


class SignatureInput(Form):
    """A customer's signature given while completing a task: a drawing on the screen, or a
    one-time code; for "otp" the server replaces the code with its evidence
    ("otp:<code id>:<keyed hash>") before the workflow sees it."""

    party: Literal["customer"] = "customer"
    signer_name: str = Field(min_length=1, max_length=100)
    method: Literal["drawing", "otp"]
    evidence: str = Field(min_length=8, max_length=200_000)

    @model_validator(mode="after")
    def _evidence_matches_method(self) -> SignatureInput:
        prefix = "data:image/" if self.method == "drawing" else "otp:"
        if not self.evidence.startswith(prefix):
            raise ValueError(f"evidence of a {self.method} signature must start with {prefix!r}")
        return self


class CompleteTaskInput(Form):
    task_id: str = Field(min_length=1, max_length=250)
    actor: Actor
    outcome: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    signatures: list[SignatureInput] = Field(default_factory=list, max_length=5)


def _aware(v: datetime) -> datetime:
    if v.tzinfo is None:
        raise ValueError("needs a time zone (e.g. 2026-12-01T18:00:00+08:00)")
    return v


class ExtendDeadlineInput(Form):
    task_id: str = Field(min_length=1, max_length=250)
    actor: Actor
    new_due: datetime
    reason: str = Field(min_length=2, max_length=1000)

    _tz = field_validator("new_due")(_aware)


class PauseTaskInput(Form):
    """Stop (pause) or restart (resume) a task's clock while the owner is waited on."""

    task_id: str = Field(min_length=1, max_length=250)
    actor: Actor
    reason: str = Field(min_length=2, max_length=1000)


class CalendarUpdatedInput(Form):
    years: list[int] = Field(default_factory=list)
    calendar: CalendarData | None = None  # without it the case reads the calendar itself


class CaseMessage(Form):
    """A message from another case (or the system), delivered at most once per `key`."""

    key: str = Field(min_length=1, max_length=300)
    name: str = Field(min_length=1, max_length=64)
    sender: str | None = None  # the sending case id
    actor: Actor = SYSTEM
    payload: dict[str, Any] = Field(default_factory=dict)


# ---- activity payloads ----------------------------------------------------------------------


class CaseWrite(BaseModel):
    id: str
    regulation: str
    title: str
    number: str | None = None
    customer_id: str | None = None
    status: str
    provisional: bool = False
    version: int = 0  # the case's event counter at this step
    started_by: str | None = None
    closed_at: datetime | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    attention: str | None = None
    # Sent with the first write of a case only (the row keeps them).
    input: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None


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


LedgerKind = Literal[
    "fine",
    "charge",
    "dismissal",
    "demotion",
    "commendation",
    "criticism",
    "reward",
    "deposit_held",
    "deposit_used",
    "deposit_refunded",
    "commission",
]


class LedgerWrite(BaseModel):
    """One row of the one ledger: fines and charges, sanctions, commendations and rewards,
    deposits held / used / refunded, commission shares. Amounts in yuan, exact."""

    id: str
    clause: str
    party: str
    party_kind: Literal["person", "department", "customer"] = "person"
    amount_yuan: Yuan = Decimal("0.00")
    kind: LedgerKind = "fine"
    rule: str
    account: str | None = None  # groups rows: a deposit, a deal's commission
    at: datetime


# The discipline register (R5, R10): sanctions and rewards of a person or a department.
DisciplineKind = Literal[
    "warning",  # 书面警告
    "demerit",  # 记过
    "major_demerit",  # 记大过
    "demotion",  # 降级
    "dismissal",  # 开除
    "commendation",  # 嘉奖
    "merit",  # 记小功
    "major_merit",  # 记大功
    "bonus",  # 奖金: money, so booked in the ledger as well (a reward)
]
SANCTIONS: tuple[str, ...] = ("warning", "demerit", "major_demerit", "demotion", "dismissal")
REWARDS: tuple[str, ...] = ("commendation", "merit", "major_merit", "bonus")


class DisciplineWrite(BaseModel):
    """One entry of the discipline register, written once approved: who is sanctioned or
    rewarded, how, by which clause and rule, on which proposal, approved by whom."""

    id: str  # '<case id>/discipline/<key>'
    clause: str
    party: str
    party_kind: Literal["person", "department"] = "person"
    kind: DisciplineKind
    rule: str
    amount_yuan: Yuan = Decimal("0.00")  # a bonus's amount
    record_id: str | None = None  # the proposal the approvers signed
    proposed_by: str | None = None
    approved_by: list[str] = Field(default_factory=list)
    at: datetime


class StepChanges(BaseModel):
    """Everything one workflow step changed, persisted in one transaction (idempotent)."""

    case: CaseWrite
    events: list[EventState] = Field(default_factory=list)
    tasks: list[TaskState] = Field(default_factory=list)
    notifications: list[NotificationWrite] = Field(default_factory=list)
    records: list[RecordWrite] = Field(default_factory=list)
    signatures: list[SignatureWrite] = Field(default_factory=list)
    ledger: list[LedgerWrite] = Field(default_factory=list)
    discipline: list[DisciplineWrite] = Field(default_factory=list)


class CalendarRequest(BaseModel):
    years: list[int]
