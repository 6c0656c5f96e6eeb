"""The declarative building blocks a regulation is written in: one `TaskSpec` per task kind,
approval chains, escalation ladders, ledger bookings, and the handler decorators.

A spec refers to the case's data by strings, so a regulation reads as a table of its clauses:

- a *policy path* names a field of the regulation's policy model (`"plan_due"`,
  `"penalties.archive_incomplete_yuan"`); the number is then the company's, not the code's;
- a *person ref* names who: `"input.owner"` (a field of the case input), `"unit.manager"` (a
  field of the unit's data), `"task.assignee"`, `"task.holder"` (the task's assignee, else
  everyone with its role), `"case.started_by"` (whoever started the case: the first receiver,
  首问人; nobody when the system started it, e.g. a schedule), `"actor"` (who completed the
  task), `"role:supervisor"` (everyone with a role), or a literal user id.

Specs are frozen and hold no state: the workflow sandbox passes this module through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow

from workflows.model import (
    MAX_TEXT,
    CompleteTaskInput,
    Deadline,
    ExtendDeadlineInput,
    Form,
    LedgerKind,
    PauseTaskInput,
)

DeadlineRef = Deadline | str | None  # a Deadline, or a policy path to one
AmountRef = Decimal | int | str  # an amount, or a policy path to one


class TaskData(Form):
    """Base of what people send when completing a task: unknown keys are refused, so a client
    cannot slip values the workflow relies on (record ids, flags) into a task's data."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_TEXT)


class NoteData(TaskData):
    """Tasks whose outcome is the decision itself: an optional note."""

    note: str = Field("", max_length=2000, description="备注")


class ApproveData(TaskData):
    note: str = Field("", max_length=2000, description="审批意见")


class RejectData(TaskData):
    reason: str = Field(min_length=2, max_length=2000, description="驳回理由")


class EscalationData(TaskData):
    """A level of an escalation ladder: what was done, and why it goes up (if it does)."""

    note: str = Field("", max_length=2000, description="处理情况")


class ReportData(TaskData):
    """A written report (书面报告)."""

    content: str = Field(min_length=2, max_length=20000, description="报告内容")


@dataclass(frozen=True)
class RecordSpec:
    """The named record a task's completion writes (《…》), for the listed outcomes."""

    kind: str
    title: str
    outcomes: tuple[str, ...] = ("done",)
    category: str | None = None  # a person-ref-like path to the category, e.g. "input.class"


@dataclass(frozen=True)
class Sign:
    """A signature the task's record needs.

    `party="actor"`: the person who completes the task signs by being signed in;
    `party="customer"`: the customer / owner signs on the screen or with a one-time code.
    `required` is True, False, or the name of a boolean: of the completion's data when its
    outcome's model has that field (e.g. "customer_present", ticked when completing), else of
    the task's data when it opened (e.g. "onsite"). `outcomes` restricts the signature, and
    its requirement, to those outcomes (empty: every outcome whose record it signs)."""

    party: Literal["actor", "customer"]
    role: str
    methods: tuple[Literal["staff_login", "drawing", "otp"], ...] = ("staff_login",)
    required: bool | str = True
    outcomes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Book:
    """A ledger row booked once per task at breach; `rule` may name fields of the case input,
    the unit and the task ({complaint_ref})."""

    key: str
    clause: str
    party: str  # person ref
    amount: AmountRef
    rule: str
    kind: LedgerKind = "fine"
    party_kind: Literal["person", "department", "customer"] = "person"


class _Default:
    """The value of a `TaskSpec` / `Breach` field a regulation left unset: the regulation's
    `TASK_DEFAULTS` decide it when its class is defined."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()


@dataclass(frozen=True)
class OfSpan:
    """A time in proportion to a task's span (from its start to its due), so that it scales
    with the deadline. As a reminder (`TaskSpec.remind`, the lead before the due),
    `OfSpan(0.25)` reminds when three quarters of the span have passed; as a lapse
    (`TaskSpec.lapse`, the time after the due), `OfSpan(3)` lapses three spans after the due.
    `at_least` bounds it from below (a task opened at or after its due has no span)."""

    share: float
    at_least: Deadline | None = None  # wall-clock time (minutes, hours, days)

    def __post_init__(self) -> None:
        if self.share < 0:
            raise ValueError("OfSpan: the share of a span is not negative")
        floor = self.at_least
        if floor is not None and (floor.months or floor.working_days or floor.anchored):
            raise ValueError("OfSpan: at_least is wall-clock time (minutes, hours, days)")


TimeRef = DeadlineRef | OfSpan  # a reminder's lead or a lapse: a Deadline, a policy path, a share


@dataclass(frozen=True)
class TaskDefaults:
    """What a `TaskSpec` means where it does not say (`CaseWorkflow.TASK_DEFAULTS`): the lead
    of its reminder, its lapse after the due, and who its breach notifies."""

    remind: TimeRef
    lapse: TimeRef
    notify: tuple[str, ...]


# The defaults the engine began with (R1's): remind `reminder_before` of the policy (24 h)
# before the due, lapse `lapse_after` (30 days) after it, a breach notifies every supervisor.
FIXED_DEFAULTS = TaskDefaults(
    remind="reminder_before", lapse="lapse_after", notify=("role:supervisor",)
)
# Defaults that scale with the deadline: remind when three quarters of the span have passed,
# lapse three spans after the due (five minutes at least), a breach notifies the task's own
# holder (its assignee, else its role) and nobody else unless the spec says so.
SCALED_DEFAULTS = TaskDefaults(
    remind=OfSpan(0.25),
    lapse=OfSpan(3, at_least=Deadline(minutes=5)),
    notify=("task.holder",),
)


@dataclass(frozen=True)
class Breach:
    """What happens when a task's due passes: who is told (person refs; unset: the
    regulation's `TASK_DEFAULTS.notify`), what is booked. The regulation's `@on_breach(kind)`
    handler runs after it for anything conditional."""

    notify: tuple[str, ...] = DEFAULT
    book: tuple[Book, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    """One kind of human task, as its clause states it. `remind` (the lead before the due) and
    `lapse` (the time after the due) are a Deadline, a policy path, an `OfSpan` or None (none);
    unset, the regulation's `TASK_DEFAULTS` decide."""

    kind: str
    title: str  # str.format template over the case input, the unit's and the task's data
    clause: str
    role: str
    assignee: str | None = None  # person ref; None = anyone with the role
    deadline: DeadlineRef = None
    remind: TimeRef = DEFAULT
    lapse: TimeRef = DEFAULT
    outcomes: Mapping[str, type[BaseModel]] = field(default_factory=lambda: {"done": NoteData})
    record: RecordSpec | None = None
    signatures: tuple[Sign, ...] = ()
    # role -> how far past the task's start that role may move the due (None = no limit)
    extend: Mapping[str, DeadlineRef] = field(default_factory=dict)
    pausable_by: tuple[str, ...] = ()
    breach: Breach = field(default_factory=Breach)


@dataclass(frozen=True)
class Tier:
    """A row of an approval table: up to `up_to` (inclusive; None = any amount), these roles
    approve. A scope in `scopes` (e.g. "group") selects this row whatever the amount."""

    up_to: AmountRef | None
    roles: tuple[str, ...]
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalSpec:
    """An approval chain from a policy table. `sequential`: the tier's roles approve one after
    another; `joint`: all at once, each must approve. Any approver may reject with a reason.
    Every approval signs the record under approval."""

    key: str
    task_kind: str
    title: str
    clause: str
    tiers: tuple[Tier, ...]
    mode: Literal["sequential", "joint"] = "sequential"
    due: DeadlineRef = "approval_due"


@dataclass(frozen=True)
class Level:
    """A rung of an escalation ladder: the task of that level (its outcomes: resolved,
    escalate), and the written report the level owes once it is reached.

    `counts_from`: the deadlines of the level's task and report count from when the level is
    reached ("reached": told), or from the ladder's start ("ladder": `escalate(start=...)`,
    e.g. "within 10 minutes of the intake"). The first level is reached at the ladder's
    start."""

    task: TaskSpec
    report: TaskSpec | None = None
    counts_from: Literal["reached", "ladder"] = "reached"


@dataclass(frozen=True)
class LadderSpec:
    """An escalation ladder: level 1 opens first; `escalate` or a breach opens the next level
    (the breached task stays open); `resolved` at any level ends the ladder, as does the
    workflow's `end_ladder` (the matter settled elsewhere). Every level gets the data
    `escalate` was given, not what a lower level's task gathered."""

    key: str
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class ActionSpec:
    """A message a person may send to a running case."""

    name: str
    input_model: type[BaseModel]
    roles: tuple[str, ...]  # roles allowed to send it (empty = any signed-in user; the
    # workflow validator still decides per task)
    kind: Literal["update", "signal"] = "update"
    title_zh: str = ""
    title_en: str = ""
    # input field -> role code: the field names a person (a user id) who must be an active user
    # holding that role; checked by the starter before the message is sent. The workflow's
    # validator asks `CaseWorkflow.check_action` (workflows.engine.rules), the pages too.
    people: dict[str, str] = field(default_factory=dict)


GENERIC_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("complete_task", CompleteTaskInput, (), "update", "完成任务", "Complete a task"),
    ActionSpec("extend_deadline", ExtendDeadlineInput, (), "update", "延期", "Extend a deadline"),
    ActionSpec("pause_task", PauseTaskInput, (), "update", "暂停计时", "Pause the clock"),
    ActionSpec("resume_task", PauseTaskInput, (), "update", "恢复计时", "Resume the clock"),
)


# ---- handlers --------------------------------------------------------------------------------
#
# Each decorator marks a method for a handler slot (kind, name). `CaseWorkflow` compiles the
# marks when the class is defined: one method per slot. Two different methods marked for the
# same slot are a TypeError there (one of them would never run); a subclass that overrides a
# handler method by its name takes the slot over, marked again or not.

HandlerKind = Literal[
    "after",
    "at",
    "breach",
    "result",
    "message",
    "event",
    "approval",
    "ladder",
    "check",
    "check_signatures",
    "join",
]
P = ParamSpec("P")
R = TypeVar("R")


def _handler(kind: HandlerKind, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        marks: list[tuple[str, str]] = list(getattr(fn, "__zhidu_handlers__", []))
        marks.append((kind, name))
        fn.__zhidu_handlers__ = marks  # type: ignore[attr-defined]
        return fn

    return mark


def after(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs when a task of one of these kinds closes (done, lapsed or cancelled):
    `handler(self, task)`."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        for k in kinds:
            fn = _handler("after", k)(fn)
        return fn

    return mark


def after_all(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs once per unit when every task of these kinds in it has closed (done or lapsed):
    `handler(self, unit, closed)`, `closed` by kind (workflows/engine/blocks/join.py)."""
    return _handler("join", "|".join(kinds))


def at(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs at a wake-up set with `self.wake_at(when, name, data)`: `handler(self, data)`."""
    return _handler("at", name)


def on_breach(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs after the spec's breach actions of a task of one of these kinds:
    `handler(self, task)`."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        for k in kinds:
            fn = _handler("breach", k)(fn)
        return fn

    return mark


def on_result(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs with a job's result: `handler(self, result, context)`."""
    return _handler("result", name)


def on_message(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs for a message from another case: `handler(self, message)`."""
    return _handler("message", name)


def on_event(name: str) -> Callable[[Callable[P, R]], workflow.UpdateMethodMultiParam[P, R]]:
    """One event that arrives either way, handled alike: as the update `name` a person sends,
    or as the message `name` another case sends (`send_to_case`). Use it instead of
    `@workflow.update(name=...)` on a method `handler(self, inp: Model)`; its validator
    (`@handler.validator`) judges the person's update as usual. A message is handled once per
    key; its payload is validated into `Model`, whose `actor` is the message's (the system:
    an `actor` in the payload is ignored, and a person's validator is not asked of a case);
    while the handler runs `self.via_message` is the message (None for an update). A payload
    the model refuses is not handled: the timeline says why and the case asks for attention."""

    def mark(fn: Callable[P, R]) -> workflow.UpdateMethodMultiParam[P, R]:
        return workflow.update(name=name)(_handler("event", name)(fn))

    return mark


def after_approval(key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs when an approval chain ends: `handler(self, unit, approved, record_id)`."""
    return _handler("approval", key)


def after_ladder(key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Runs when an escalation ladder is resolved at a level, or ended from outside
    (`end_ladder`): `handler(self, unit, level)`; `self.ladder_ended(unit, key)` is then the
    reason it was ended (None when a level resolved it)."""
    return _handler("ladder", key)


def check(
    kind: str, *, signatures: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Extra validation of a completion (in the update's validator):
    `handler(self, task, outcome, data) -> str | tuple[str, str] | None` (a reason, or the
    reason in English and Chinese, refuses it). With `signatures=True` it also gets the
    signatures sent with the completion: `handler(self, task, outcome, data, signatures)`
    (a list of `workflows.model.SignatureInput`)."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = _handler("check", kind)(fn)
        # A slot of its own says the check takes the signatures (an override keeps it).
        return _handler("check_signatures", kind)(fn) if signatures else fn

    return mark
