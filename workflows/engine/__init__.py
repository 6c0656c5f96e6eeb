"""The regulation engine: one workflow per case, its whole state carried as data.

A regulation subclasses `CaseWorkflow` and declares its clauses: a `TaskSpec` per task kind,
approval chains, escalation ladders, and handlers (`@after("visit")`, `@at("visit_opens")`,
`@on_breach`, `@on_message`, ...). Handlers are plain synchronous methods: they open tasks and
units, set wake-ups, write records, sign, book ledger rows, ask for jobs. The engine owns time,
persistence and messages.

Design choices (and why):

- **Carried state, not child workflows.** Every unit of work (a visit chain, a supervisory
  revisit, a key use, an escalation) is data in one `CaseState`: open tasks, units, wake-ups,
  pending jobs. Continue-as-new passes that state on, so open tasks, clocks and pending work
  survive it, and several units overlap freely. Child workflows would add a history per unit,
  a start and a completion round-trip per unit, cross-run parenting on continue-as-new, and
  make "the case" two places in the console; carried state costs one workflow task per step.
- **One clock, timers never cancelled.** The main loop processes everything due, then keeps
  one pending timer at or before the next instant anything is due (a reminder, a due, a
  lapse, a wake-up); it waits with `wait_condition` *without* a timeout. A deadline that moves
  later leaves the old timer to fire and cause a harmless re-evaluation; a new timer starts
  only when something is due earlier than every pending one. (`wait_condition(timeout=)`
  starts and cancels a timer on every wake-up, so the timers of a run depended on how often
  the loop woke.) The history in shared/evidence/ did not fail because of that pattern but of a
  Temporal core defect (a query answered at a crashed worker's sticky queue runs a pending
  timer with a stale clock; tests/test_sdk_stale_query.py); no workflow code avoids it, so
  zhidu's own clients never query a workflow (starter/cases.py) and the worker keeps the sticky
  window short (worker.STICKY_TIMEOUT).
- **Synchronous message handlers.** Updates and signals change the state in their own
  activation and never wait; their validators refuse with a reason and leave no trace.
  Handlers never re-check what validators checked: validators do not run on replay, so a
  stricter rule added later (who may act, a tighter field) must not change what a recorded
  update did (the committed histories caught exactly that once).
- **One activity per step.** Everything a step changes is buffered and written by
  `zhidu.record_step` in one transaction; one write is in flight at a time and the next one
  carries everything that changed meanwhile. The case input and policy go with the first
  write only. Working-day arithmetic runs on calendar data carried in the state
  (`workflows.calendar`), so opening a task needs no activity.
- **Continue-as-new** when Temporal suggests it, or once the run's history passes the
  policy's `continue_as_new_after_events` and no write or job is in flight; handlers finish
  first and the state (with any message that arrived meanwhile) goes into the next run.

From now on a change here that alters the commands a history recorded goes behind
`workflow.patched`: tests/test_replay.py replays the committed histories.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field, ValidationError

    from workflows import calendar as cal
    from workflows.authority import may_act
    from workflows.model import (
        CHINA_TZ,
        Actor,
        CalendarData,
        CalendarRequest,
        CalendarUpdatedInput,
        CaseMessage,
        CaseStart,
        CaseState,
        CaseView,
        CaseWrite,
        CompleteTaskInput,
        Deadline,
        EventState,
        ExtendDeadlineInput,
        Extension,
        Job,
        LedgerWrite,
        NotificationWrite,
        PauseTaskInput,
        RecordWrite,
        SignatureReq,
        SignatureWrite,
        StepChanges,
        TaskState,
        TaskView,
        UnitState,
        Wakeup,
        yuan,
    )
    from workflows.roles import outranks, role_zh
    from workflows.search import CASE_STATUS
    from workflows.spec import (
        AmountRef,
        ApprovalSpec,
        ApproveData,
        DeadlineRef,
        LadderSpec,
        RecordSpec,
        RejectData,
        TaskSpec,
        on_result,
    )

M = TypeVar("M", bound=BaseModel)

# Persisting must survive a database outage: retry with backoff for as long as it takes.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)
MAX_MESSAGE_KEYS = 2000  # remembered keys of messages from other cases (deduplication)
CLOSED = ("closed", "done", "cancelled")


def refuse(kind: str, reason: str, zh: str | None = None, **detail: Any) -> ApplicationError:
    """A validator's refusal; `kind` maps to an HTTP status in the API (Forbidden -> 403).
    `zh`, the reason in Chinese for the pages, and any `detail` (e.g. the pydantic `error` a
    page says in Chinese) travel in the error's details. Validator refusals leave nothing in
    the history, so their wording may change freely."""
    info = {k: v for k, v in {"zh": zh, **detail}.items() if v is not None}
    if info:
        return ApplicationError(reason, info, type=kind, non_retryable=True)
    return ApplicationError(reason, type=kind, non_retryable=True)


STATUS_ZH = {"done": "完成", "cancelled": "取消", "lapsed": "失效", "closed": "结束"}
PARTY_ZH = {"customer": "客户", "actor": "经办人"}
METHOD_ZH = {"drawing": "手写签名", "otp": "验证码", "staff_login": "登录签字"}


def plain_error(err: Any) -> dict[str, Any]:
    """A pydantic error as plain JSON (type, loc, msg, ctx as text) for a refusal's details."""
    ctx = err.get("ctx") or {}
    return {
        "type": str(err.get("type") or ""),
        "loc": [p if isinstance(p, int) else str(p) for p in err.get("loc") or ()],
        "msg": str(err.get("msg") or ""),
        "ctx": {
            str(k): v if v is None or isinstance(v, (str, int, float, bool)) else str(v)
            for k, v in ctx.items()
        },
    }


def local_text(dt: datetime | None, seconds: bool = False) -> str:
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return dt.astimezone(CHINA_TZ).strftime(fmt) if dt else "—"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CasePolicy(BaseModel):
    """Fields every regulation's policy has (the regulation's policy model inherits them)."""

    reminder_before: Deadline = Deadline(hours=24)
    lapse_after: Deadline = Deadline(days=30)
    approval_due: Deadline = Deadline(working_days=3)
    continue_as_new_after_events: int = Field(
        1500, ge=20, le=40000, description="history events after which a run continues as new"
    )


class _Format(dict[str, Any]):
    """str.format_map mapping that leaves unknown fields visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class CaseWorkflow:
    """Base class of every regulation workflow (see the module docstring)."""

    REGULATION: ClassVar[str] = ""
    TITLE: ClassVar[str] = "{case_id}"
    INPUT: ClassVar[type[BaseModel]]
    POLICY: ClassVar[type[CasePolicy]] = CasePolicy
    VARS: ClassVar[type[BaseModel] | None] = None
    CUSTOMER_FIELD: ClassVar[str | None] = "customer_id"
    TASKS: ClassVar[tuple[TaskSpec, ...]] = ()
    APPROVALS: ClassVar[tuple[ApprovalSpec, ...]] = ()
    LADDERS: ClassVar[tuple[LadderSpec, ...]] = ()
    # Roles bound to the case: role -> person ref naming who holds it for this case (e.g. the
    # case's supervisor). When nobody is named, only holders of the role in the case's
    # DEPARTMENT act in it. A role above (roles.ROLES_ABOVE) may always act in its place.
    ROLE_HOLDERS: ClassVar[dict[str, str]] = {}
    DEPARTMENT: ClassVar[str | None] = None

    _specs: ClassVar[dict[str, TaskSpec]]
    _approvals: ClassVar[dict[str, ApprovalSpec]]
    _ladders: ClassVar[dict[str, LadderSpec]]
    _ladder_of: ClassVar[dict[str, tuple[str, int, str]]]  # task kind -> (ladder, level, role)
    _handlers: ClassVar[dict[tuple[str, str], Callable[..., Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs = {s.kind: s for s in cls.TASKS}
        for a in cls.APPROVALS:
            specs[a.task_kind] = TaskSpec(
                kind=a.task_kind,
                title=a.title,
                clause=a.clause,
                role="",  # each step names its role
                deadline=a.due,
                outcomes={"approve": ApproveData, "reject": RejectData},
            )
        ladder_of: dict[str, tuple[str, int, str]] = {}
        for ladder in cls.LADDERS:
            for i, level in enumerate(ladder.levels):
                specs[level.task.kind] = level.task
                ladder_of[level.task.kind] = (ladder.key, i, "task")
                if level.report is not None:
                    specs[level.report.kind] = level.report
                    ladder_of[level.report.kind] = (ladder.key, i, "report")
        cls._specs = specs
        cls._approvals = {a.key: a for a in cls.APPROVALS}
        cls._ladders = {lad.key: lad for lad in cls.LADDERS}
        cls._ladder_of = ladder_of
        handlers: dict[tuple[str, str], Callable[..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for fn in vars(klass).values():
                for mark in getattr(fn, "__zhidu_handlers__", ()):
                    handlers[mark] = fn
        cls._handlers = handlers

    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self.summary: dict[str, Any] = {}
        self.events: list[EventState] = []  # this run's timeline (the query shows it)
        self._p_events: list[EventState] = []
        self._p_tasks: dict[str, TaskState] = {}
        self._p_notes: list[NotificationWrite] = []
        self._p_records: list[RecordWrite] = []
        self._p_sigs: list[SignatureWrite] = []
        self._p_ledger: list[LedgerWrite] = []
        self._case_dirty = False
        self._writing = False
        self._wake = False
        self._timers: list[datetime] = []
        self._jobs_running: set[int] = set()
        self._finished: str | None = None
        self._early: list[CaseMessage] = []  # messages that arrived before the case began
        # Restored here, before any message handler runs (a signal-with-start delivers its
        # signal before the run method starts).
        self._start = start
        self.inp: Any = self.INPUT.model_validate(start.input)
        self.policy: Any = _policy(self.POLICY, json.dumps(start.policy, sort_keys=True))
        self.started_by = start.started_by
        self.s = start.carry.model_copy(deep=True) if start.carry else CaseState()
        self.s.case_id = workflow.info().workflow_id
        if start.carry is None:
            self.s.number = start.number
            if start.calendar is not None:
                self.s.calendar = start.calendar
        self.v: Any = self.VARS.model_validate(self.s.vars) if self.VARS else None
        self.title = self.TITLE.format_map(self._format_fields())
        # Closed tasks and units stay in the state only for the run that closed them.
        self.s.tasks = [t for t in self.s.tasks if t.status == "open"]
        self.s.units = [u for u in self.s.units if u.status == "open"]
        self._ready = start.carry is not None

    # ---- the run -------------------------------------------------------------------------

    async def run_case(self) -> str:
        """The body of every regulation's `@workflow.run`."""
        persister = asyncio.create_task(self._persist_loop())
        await self._ensure_calendar()
        if self._start.carry is None:
            self.event(
                "case_started",
                None,
                self.started_by,
                regulation=self.REGULATION,
                number=self.s.number,
            )
            self._ready = True
            self.begin()
            for msg in self._early:
                self.case_message(msg)
            self._early = []
        else:
            self.s.run += 1
            self.event("run_continued", None, None, run=self.s.run)
        while True:
            await self._load_pending_calendar()
            self._tick()
            self._start_jobs()
            summary = self.summarize()
            if summary != self.summary:
                self.summary, self._case_dirty = summary, True
            if self._finished and not self.s.jobs:
                break
            if self._should_continue_as_new():
                await self._drain()
                if not self._finished:
                    workflow.continue_as_new(self._next_run())
            self._arm_timer()
            self._wake = False
            await workflow.wait_condition(lambda: self._wake)
        await self._drain()
        persister.cancel()
        return self._finished or "closed"

    def _next_run(self) -> CaseStart:
        self.s.vars = self.v.model_dump(mode="json") if self.v is not None else {}
        return CaseStart(
            input=self._start.input,
            policy=self._start.policy,
            started_by=self._start.started_by,
            number=self.s.number,
            carry=self.s,
        )

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        quiet = not self._writing and not self._jobs_running
        limit = getattr(self.policy, "continue_as_new_after_events", 1500)
        return quiet and info.get_current_history_length() >= limit

    async def _drain(self) -> None:
        """Until every handler finished, every job ended and every change is stored."""
        while True:
            await workflow.wait_condition(
                lambda: (
                    workflow.all_handlers_finished()
                    and not self._writing
                    and not self._dirty()
                    and not self._jobs_running
                )
            )
            if workflow.all_handlers_finished() and not self._dirty() and not self._writing:
                return

    # ---- what a regulation overrides ----------------------------------------------------------

    def begin(self) -> None:
        """First run of a case: open its first tasks."""

    def summarize(self) -> dict[str, Any]:
        """What the `state` query shows as the case's summary."""
        return {}

    def record_context(self, task: TaskState) -> dict[str, Any]:
        """Fields every record a task writes starts with (e.g. the customer's identity)."""
        return {}

    # ---- the clock ----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return workflow.now()

    def due_after(self, start: datetime, rule: DeadlineRef) -> tuple[datetime, bool]:
        """The due time `rule` after `start` and whether it is provisional."""
        deadline = self.deadline(rule)
        if deadline is None:
            return start, False
        return cal.due_after(self.s.calendar, start, deadline)

    def _tick(self) -> None:
        """Run everything that is due now, earliest first, until nothing is."""
        for _ in range(10_000):
            item = self._next_due()
            if item is None:
                return
            _, _, what, obj = item
            if what == "wakeup":
                self.s.wakeups.remove(obj)
                self._handler("at", obj.name)(self, obj.data)
            elif what == "remind":
                self._remind(obj)
            elif what == "breach":
                self._breach(obj)
            else:
                self._lapse(obj)
            self._wake = True
        raise RuntimeError("the clock did not settle (a handler keeps scheduling the past)")

    def _due_items(self) -> Iterable[tuple[datetime, int, str, Any]]:
        for t in self.s.tasks:
            if t.status != "open" or t.paused_at is not None:
                continue
            if t.remind_at and not t.reminded:
                yield (t.remind_at, 0, "remind", t)
            if t.due_at and (t.breached_at is None or t.breached_at < t.due_at):
                yield (t.due_at, 1, "breach", t)
            if t.lapse_at:
                yield (t.lapse_at, 2, "lapse", t)
        for w in self.s.wakeups:
            yield (w.at, 3, "wakeup", w)

    def _next_due(self) -> tuple[datetime, int, str, Any] | None:
        now = self.now
        due = [i for i in self._due_items() if i[0] <= now]
        return min(due, key=lambda i: (i[0], i[1], getattr(i[3], "seq", 0))) if due else None

    def _arm_timer(self) -> None:
        """Keep one pending timer at or before the next due instant; never cancel one."""
        now = self.now
        upcoming = [i[0] for i in self._due_items() if i[0] > now]
        if not upcoming:
            return
        nxt = min(upcoming)
        if any(t <= nxt for t in self._timers):
            return
        self._timers.append(nxt)
        asyncio.create_task(self._timer(nxt))

    async def _timer(self, when: datetime) -> None:
        await workflow.sleep(when - self.now)
        self._timers.remove(when)
        self._wake = True

    # ---- tasks ----------------------------------------------------------------------------------

    def deadline(self, ref: DeadlineRef) -> Deadline | None:
        """A Deadline, or the policy's at that path."""
        if ref is None or isinstance(ref, Deadline):
            return ref
        value = self._policy_value(ref)
        if value is None or isinstance(value, Deadline):
            return value
        # A Deadline class of a sandbox that re-imported workflows.model: same fields.
        return Deadline.model_validate(value.model_dump())

    def amount(self, ref: AmountRef) -> Decimal:
        value = self._policy_value(ref) if isinstance(ref, str) else ref
        return yuan(Decimal(str(value)))

    def _policy_value(self, path: str) -> Any:
        value: Any = self.policy
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else getattr(value, part)
        return value

    def person(
        self, ref: str | None, *, unit: UnitState | None = None, task: TaskState | None = None
    ) -> str | None:
        """Resolve a person ref (see workflows.spec) to a user id, 'role:<code>' or None;
        `a|b` is the first of the alternatives that names someone."""
        if ref is not None and "|" in ref:
            for alt in ref.split("|"):
                if (found := self.person(alt, unit=unit, task=task)) is not None:
                    return found
            return None
        if ref is None or ref.startswith("role:"):
            return ref
        head, _, rest = ref.partition(".")
        if head == "input" and rest:
            value = getattr(self.inp, rest, None)
        elif head == "unit" and rest:
            value = (unit.data if unit else {}).get(rest)
        elif head == "task" and rest:
            value = getattr(task, rest, None) if task else None
        else:
            value = ref
        return str(value) if value not in (None, "") else None

    def open(
        self,
        kind: str,
        unit: UnitState | None = None,
        *,
        due: datetime | None = None,
        start: datetime | None = None,
        data: dict[str, Any] | None = None,
        role: str | None = None,
        assignee: str | None = None,
        title: str | None = None,
        clause: str | None = None,
    ) -> TaskState:
        """Open a task of `kind` (its spec gives role, deadline, reminder, lapse, extension
        limits). The deadline counts from `start` (default now); `due` overrides it."""
        spec = self._specs[kind]
        now = self.now
        start = start or now
        data = dict(data or {})
        rule = self.deadline(spec.deadline) if due is None else None
        provisional = False
        if rule is not None:
            due, provisional = cal.due_after(self.s.calendar, start, rule)
        self.s.task_seq += 1
        role = role or spec.role
        who = assignee if assignee is not None else self.person(spec.assignee, unit=unit)
        task = TaskState(
            id=f"{self.s.case_id}/t{self.s.task_seq}",
            seq=self.s.task_seq,
            kind=kind,
            unit=unit.id if unit else None,
            role=role,
            assignee=who if who and not who.startswith("role:") else None,
            title=title or spec.title.format_map(self._format_fields(unit, data)),
            clause=clause or spec.clause,
            due_at=due,
            provisional=provisional,
            due_base=start if rule is not None else None,
            due_rule=rule if rule is not None and not rule.anchored else None,
            outcomes=list(spec.outcomes),
            data=data,
            created_at=now,
            pausable_by=list(spec.pausable_by),
            signatures=self._signature_reqs(spec, data),
        )
        self._set_clocks(task, spec, start)
        for r, lim in spec.extend.items():
            task.extend_limits[r] = None if lim is None else self.due_after(start, lim)[0]
        if self._finished:
            # Opened by a step that was already under way when the case was closed.
            task.status, task.closed_at = "cancelled", now
        self.s.tasks.append(task)
        self._touch(task)
        self._announce_opened(task, role, due, provisional)
        self._wake = True
        return task

    @staticmethod
    def _signature_reqs(spec: TaskSpec, data: dict[str, Any]) -> list[SignatureReq]:
        """The signatures a new task asks for (`required` may name a key of its data)."""
        return [
            SignatureReq(
                party=s.party,
                role=s.role,
                methods=list(s.methods),
                required=bool(data.get(s.required)) if isinstance(s.required, str) else s.required,
                outcomes=list(s.outcomes),
            )
            for s in spec.signatures
        ]

    def _announce_opened(
        self, task: TaskState, role: str, due: datetime | None, provisional: bool
    ) -> None:
        """The timeline event of a new task and, unless it opened cancelled, its notice."""
        self.event(
            "task_opened",
            task.clause,
            None,
            task_id=task.id,
            title=task.title,
            role=role,
            assignee=task.assignee,
            unit=task.unit,
            due_at=due.isoformat() if due else None,
            provisional=provisional,
        )
        if task.status == "open":
            self.notify(
                f"{task.id}/opened",
                task.assignee or f"role:{role}",
                f"【待办】{task.title}",
                f"{self.title}\n任务：{task.title}\n截止：{local_text(due)}"
                f"{'（暂定：该年度法定节假日尚未发布）' if provisional else ''}\n"
                f"依据：{task.clause}\n案件：{self.s.case_id}",
            )

    def _set_clocks(self, task: TaskState, spec: TaskSpec, start: datetime) -> None:
        """Reminder (never earlier than half-way to the due) and lapse from the due."""
        task.remind_at = task.lapse_at = None
        if task.due_at is None:
            return
        lead = self.deadline(spec.remind)
        if lead is not None:
            remind = cal.lead_before(self.s.calendar, task.due_at, lead)
            halfway = start + (task.due_at - start) / 2
            remind = max(remind, halfway)
            task.remind_at = remind if remind < task.due_at else None
        lapse = self.deadline(spec.lapse)
        if lapse is not None:
            task.lapse_at = cal.due_after(self.s.calendar, task.due_at, lapse)[0]

    @staticmethod
    def given(model: type[M], task: TaskState) -> M:
        """What the person supplied when completing `task`, as its outcome model (the task's
        data also holds the workflow's own keys, which the strict model would refuse)."""
        return model.model_validate({k: v for k, v in task.data.items() if k in model.model_fields})

    def task(self, task_id: str) -> TaskState | None:
        return next((t for t in self.s.tasks if t.id == task_id), None)

    def open_tasks(self, kind: str | None = None, unit: UnitState | None = None) -> list[TaskState]:
        return [
            t
            for t in self.s.tasks
            if t.status == "open"
            and (kind is None or t.kind == kind)
            and (unit is None or t.unit == unit.id)
        ]

    def cancel(self, task: TaskState, reason: str, actor: str | None = None) -> None:
        if task.status != "open":
            return
        task.status, task.closed_at, task.closed_by = "cancelled", self.now, actor
        self._touch(task)
        self.event("task_cancelled", task.clause, actor, task_id=task.id, reason=reason)

    def move_due(self, task: TaskState, new_due: datetime, reason: str) -> None:
        """The workflow itself moves a due (e.g. the visit follows the agreed appointment)."""
        spec = self._specs[task.kind]
        old, task.due_at = task.due_at, new_due
        task.reminded, task.provisional, task.due_rule = False, False, None
        self._set_clocks(task, spec, self.now)
        self._touch(task)
        self.event(
            "deadline_moved",
            task.clause,
            None,
            task_id=task.id,
            old_due=old,
            new_due=new_due,
            reason=reason,
        )
        self._wake = True

    def _remind(self, task: TaskState) -> None:
        task.reminded = True
        self._touch(task)
        self.event("reminder", task.clause, None, task_id=task.id, due_at=task.due_at)
        self.notify(
            f"{task.id}/remind/{len(task.extensions)}/{task.version}",
            task.assignee or f"role:{task.role}",
            f"【提醒】{task.title} 将于 {local_text(task.due_at)} 到期",
            f"{self.title}\n依据：{task.clause}\n案件：{self.s.case_id}",
        )

    def _breach(self, task: TaskState) -> None:
        spec = self._specs[task.kind]
        task.breached_at = self.now
        self._touch(task)
        self.event("breach", task.clause, None, task_id=task.id, due_at=task.due_at)
        unit = self.unit(task.unit)
        for ref in spec.breach.notify:
            who = self.person(ref, unit=unit, task=task)
            if who:
                self.notify(
                    f"{task.id}/breach/{len(task.extensions)}/{who}",
                    who,
                    f"【超时】{task.title}",
                    f"{self.title}\n任务已超过截止时间 {local_text(task.due_at)}\n"
                    f"承办：{task.assignee or role_zh(task.role)}\n依据：{task.clause}",
                )
        for b in spec.breach.book:
            party = self.person(b.party, unit=unit, task=task) or b.party
            self.book(
                f"{task.id}/{b.key}",
                clause=b.clause,
                party=party,
                amount=self.amount(b.amount),
                rule=b.rule.format_map(self._format_fields(unit, task.data)),
                kind=b.kind,
                party_kind=b.party_kind,
            )
        if task.kind in self._ladder_of and self._ladder_of[task.kind][2] == "task":
            self._climb(task)
        handler = self._handlers.get(("breach", task.kind))
        if handler is not None:
            handler(self, task)

    def _lapse(self, task: TaskState) -> None:
        task.status, task.closed_at = "lapsed", self.now
        self._touch(task)
        self.event("lapsed", task.clause, None, task_id=task.id)
        self._closed(task)

    def _closed(self, task: TaskState) -> None:
        """After a task closed (done or lapsed): the engine's blocks, then the regulation."""
        if task.data.get("approval"):
            self._approval_step(task)
        elif task.kind in self._ladder_of:
            self._ladder_step(task)
        handler = self._handlers.get(("after", task.kind))
        if handler is not None:
            handler(self, task)

    # ---- units, wake-ups, jobs ----------------------------------------------------------------

    def open_unit(self, kind: str, title: str, /, **data: Any) -> UnitState:
        self.s.unit_seq += 1
        unit = UnitState(
            id=f"{self.s.case_id}/u{self.s.unit_seq}",
            kind=kind,
            title=title,
            data=data,
            opened_at=self.now,
        )
        self.s.units.append(unit)
        self.event("unit_opened", None, None, unit=unit.id, kind=kind, title=title)
        return unit

    def unit(self, unit_id: str | None) -> UnitState | None:
        return next((u for u in self.s.units if u.id == unit_id), None) if unit_id else None

    def close_unit(self, unit: UnitState, status: str = "done", **detail: Any) -> None:
        if unit.status != "open":
            return
        unit.status, unit.closed_at = status, self.now  # type: ignore[assignment]
        for t in self.open_tasks(unit=unit):
            self.cancel(t, f"unit {status}")
        self.event("unit_closed", None, None, unit=unit.id, kind=unit.kind, status=status, **detail)

    def wake_at(self, when: datetime, name: str, **data: Any) -> None:
        """Run the `@at(name)` handler at `when` (at once if it has passed)."""
        self.s.wake_seq += 1
        self.s.wakeups.append(Wakeup(seq=self.s.wake_seq, at=when, name=name, data=data))
        self._wake = True

    def run_job(
        self, activity: str, arg: BaseModel | dict[str, Any], then: str, **context: Any
    ) -> None:
        """Run an activity and hand its result to the `@on_result(then)` handler."""
        self.s.job_seq += 1
        payload = arg.model_dump(mode="json") if isinstance(arg, BaseModel) else arg
        self.s.jobs.append(
            Job(seq=self.s.job_seq, activity=activity, arg=payload, then=then, context=context)
        )
        self._wake = True

    def _start_jobs(self) -> None:
        for job in self.s.jobs:
            if job.seq not in self._jobs_running:
                self._jobs_running.add(job.seq)
                asyncio.create_task(self._run_job(job))

    async def _run_job(self, job: Job) -> None:
        try:
            result = await workflow.execute_activity(
                job.activity,
                job.arg,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=STORE_RETRY,
                result_type=dict,
            )
            error = None
        except ActivityError as err:
            result, error = {}, str(err.cause or err)
        self._jobs_running.discard(job.seq)
        self.s.jobs.remove(job)
        if error is not None:
            self.event("job_failed", None, None, activity=job.activity, error=error[:500])
        self._handler("result", job.then)(self, result, job.context)
        self._wake = True

    def send_to_case(
        self,
        target: str,
        name: str,
        key: str,
        payload: dict[str, Any] | None = None,
        *,
        start_regulation: str | None = None,
        start_input: dict[str, Any] | None = None,
    ) -> None:
        """Deliver a message to another case once per `key` (its handler dedups), starting
        that case first when `start_regulation` and `start_input` are given."""
        msg = CaseMessage(key=key, name=name, sender=self.s.case_id, payload=payload or {})
        self.run_job(
            "zhidu.send_case_message",
            {
                "target": target,
                "message": msg.model_dump(mode="json"),
                "start_regulation": start_regulation,
                "start_input": start_input,
            },
            "_message_sent",
            target=target,
            key=key,
            name=name,
        )

    @on_result("_message_sent")
    def _message_sent(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        self.event("message_sent", None, None, **context, **result)

    def sample(self, items: list[str], rate: float, minimum: int = 1) -> list[str]:
        """A seeded random sample (workflow.random: replays the same), recorded on the timeline."""
        if not items:
            return []
        k = min(len(items), max(minimum, math.ceil(len(items) * rate)))
        chosen = workflow.random().sample(sorted(items), k)
        self.event("sampled", None, None, population=len(items), rate=rate, chosen=chosen)
        return chosen

    # ---- timeline, records, signatures, ledger, notifications ---------------------------------

    def event(
        self, kind: str, clause: str | None, actor: str | None = None, /, **detail: Any
    ) -> None:
        self.s.event_seq += 1
        ev = EventState(
            seq=self.s.event_seq, at=self.now, kind=kind, actor=actor, clause=clause, detail=detail
        )
        self.events.append(ev)
        self._p_events.append(ev)
        self._case_dirty = True

    def notify(self, key: str, recipient: str, subject: str, body: str) -> None:
        prefix = f"{self.s.case_id}/"
        self._p_notes.append(
            NotificationWrite(
                key=key if key.startswith(prefix) else prefix + key,
                recipient=recipient,
                subject=subject,
                body=body,
            )
        )

    def record(
        self,
        kind: str,
        title: str,
        data: dict[str, Any],
        *,
        created_by: str | None,
        category: str | None = None,
        clause: str | None = None,
    ) -> str:
        self.s.record_seq += 1
        record_id = f"{self.s.case_id}/{kind}/{self.s.record_seq}"
        self._p_records.append(
            RecordWrite(
                id=record_id,
                kind=kind,
                title=title,
                category=category,
                data=data,
                created_by=created_by,
                created_at=self.now,
            )
        )
        self.event("record", clause, created_by, record_id=record_id, kind=kind, title=title)
        return record_id

    def sign(
        self,
        record_id: str,
        *,
        signer: str,
        role: str,
        method: str,
        evidence: str | None = None,
        clause: str | None = None,
    ) -> str:
        self.s.signature_seq += 1
        sig_id = f"{record_id}/sig/{self.s.signature_seq}"
        self._p_sigs.append(
            SignatureWrite(
                id=sig_id,
                record_id=record_id,
                signer=signer,
                role=role,
                method=method,  # type: ignore[arg-type]
                signed_at=self.now,
                evidence_sha256=sha256_text(evidence) if evidence else None,
            )
        )
        self.event("signed", clause, signer, record_id=record_id, signature_id=sig_id, role=role)
        return sig_id

    def book(
        self,
        key: str,
        *,
        clause: str,
        party: str,
        amount: Decimal | int | str = 0,
        rule: str,
        kind: str = "fine",
        party_kind: str = "person",
        account: str | None = None,
    ) -> bool:
        """Book a ledger row once per `key`; False if it was booked before."""
        entry_id = f"{self.s.case_id}/ledger/{key}"
        if entry_id in self.s.ledger_ids:
            return False
        self.s.ledger_ids.append(entry_id)
        value = yuan(Decimal(str(amount)))
        self._p_ledger.append(
            LedgerWrite(
                id=entry_id,
                clause=clause,
                party=party,
                party_kind=party_kind,  # type: ignore[arg-type]
                amount_yuan=value,
                kind=kind,  # type: ignore[arg-type]
                rule=rule,
                account=account,
                at=self.now,
            )
        )
        self.event(
            "ledger",
            clause,
            None,
            party=party,
            amount_yuan=str(value),
            rule=rule,
            kind=kind,
            account=account,
        )
        return True

    def split(
        self,
        key: str,
        total: Decimal,
        shares: list[tuple[str, Decimal]],
        *,
        clause: str,
        rule: str,
        kind: str = "commission",
    ) -> list[Decimal]:
        """Book `total` split by `shares` (ratios summing to 1); the amounts are rounded to the
        fen and the last share takes the remainder, so they add up to the total exactly."""
        if sum(r for _, r in shares) != Decimal(1):
            raise ValueError("shares must add up to 1")
        total = yuan(total)
        amounts = [yuan(total * r) for _, r in shares[:-1]]
        amounts.append(total - sum(amounts, Decimal(0)))
        for (party, ratio), amt in zip(shares, amounts, strict=True):
            self.book(
                f"{key}/{party}",
                clause=clause,
                party=party,
                amount=amt,
                rule=f"{rule}（{ratio * 100:g}%）",
                kind=kind,
                account=key,
            )
        return amounts

    def set_status(self, status: str) -> None:
        if status == self.s.status:
            return
        self.s.status = status
        if status in CLOSED and self.s.closed_at is None:
            self.s.closed_at = self.now
        self.event("status", None, None, status=status)
        # Only cases started with search attributes (the starter sets them) upsert them.
        if workflow.info().typed_search_attributes.get(CASE_STATUS) is not None:
            workflow.upsert_search_attributes([CASE_STATUS.value_set(status)])

    def needs_attention(self, reason: str) -> None:
        """Mark the case for an administrator (status `attention` in the Temporal console,
        the reason on the case, a timeline event, a notification); the case goes on."""
        self.s.attention = reason
        self.event("attention", None, None, reason=reason)
        self.notify(
            f"attention/{self.s.event_seq}",
            "role:admin",
            f"【需处理】{self.title}",
            f"{reason}\n案件：{self.s.case_id}",
        )
        if workflow.info().typed_search_attributes.get(CASE_STATUS) is not None:
            workflow.upsert_search_attributes([CASE_STATUS.value_set("attention")])

    def finish(self, status: str = "closed", *, actor: str | None = None, reason: str = "") -> None:
        """Close the case: open tasks are cancelled, wake-ups dropped; pending jobs end first."""
        if self._finished:
            return
        for t in self.open_tasks():
            self.cancel(t, reason or status, actor)
        for u in self.s.units:
            if u.status == "open":
                self.close_unit(u, "cancelled")
        self.s.wakeups.clear()
        self._finished = status
        self.set_status(status)
        self._wake = True

    # ---- approvals --------------------------------------------------------------------------

    def request_approval(
        self,
        key: str,
        unit: UnitState,
        record_id: str,
        *,
        measure: Decimal | int | None = None,
        scope: str | None = None,
    ) -> list[str]:
        """Open the approval chain `key` for a record; the tier is chosen by `scope` or by
        `measure` (an amount or a volume). Returns the approving roles in order."""
        spec = self._approvals[key]
        tier = next((t for t in spec.tiers if scope and scope in t.scopes), None)
        if tier is None:
            tier = next(
                t
                for t in spec.tiers
                if t.up_to is None or measure is None or Decimal(measure) <= self.amount(t.up_to)
            )
        roles = list(tier.roles)
        unit.data.setdefault("approvals", {})[key] = {
            "record_id": record_id,
            "roles": roles,
            "approved_by": [],
            "result": None,
        }
        self.event(
            "approval_requested", spec.clause, None, approval=key, record_id=record_id, roles=roles
        )
        for i, role in enumerate(roles if spec.mode == "joint" else roles[:1]):
            self._open_approval(spec, unit, role, i, record_id)
        return roles

    def _open_approval(
        self, spec: ApprovalSpec, unit: UnitState, role: str, step: int, record_id: str
    ) -> None:
        self.open(
            spec.task_kind,
            unit,
            role=role,
            title=f"{spec.title.format_map(self._format_fields(unit))}（{role_zh(role)}）",
            data={"approval": spec.key, "record_id": record_id, "step": step},
        )

    def _approval_step(self, task: TaskState) -> None:
        spec = self._approvals[task.data["approval"]]
        unit = self.unit(task.unit)
        assert unit is not None
        chain = unit.data["approvals"][spec.key]
        if chain["result"] is not None:
            return
        record_id = chain["record_id"]
        if task.status == "done" and task.outcome == "approve":
            self.sign(
                record_id,
                signer=task.closed_by or "",
                role=task.role,
                method="staff_login",
                clause=spec.clause,
            )
            chain["approved_by"].append(task.closed_by)
            self.event(
                f"{spec.key}_approved",
                spec.clause,
                task.closed_by,
                record_id=record_id,
                role=task.role,
            )
            if len(chain["approved_by"]) < len(chain["roles"]):
                if spec.mode == "sequential":
                    step = task.data["step"] + 1
                    self._open_approval(spec, unit, chain["roles"][step], step, record_id)
                return
            chain["result"] = "approved"
        else:
            chain["result"] = "rejected"
            reason = task.data.get("reason") or ("逾期未审批" if task.status == "lapsed" else "")
            self.event(
                f"{spec.key}_rejected",
                spec.clause,
                task.closed_by,
                record_id=record_id,
                role=task.role,
                reason=reason,
            )
            for other in self.open_tasks(spec.task_kind, unit):
                if other.data.get("approval") == spec.key:
                    self.cancel(other, "approval rejected")
        self._handler("approval", spec.key)(self, unit, chain["result"] == "approved", record_id)

    # ---- escalation ladders -----------------------------------------------------------------

    def escalate(self, key: str, unit: UnitState, **data: Any) -> TaskState:
        """Start ladder `key` at its first level."""
        unit.data.setdefault("ladders", {})[key] = {"level": 0, "resolved": None}
        return self._open_level(self._ladders[key], unit, 0, data)

    def _open_level(
        self, ladder: LadderSpec, unit: UnitState, level: int, data: dict[str, Any]
    ) -> TaskState:
        rung = ladder.levels[level]
        self.event(
            "escalated",
            rung.task.clause,
            None,
            ladder=ladder.key,
            level=level + 1,
            role=rung.task.role,
        )
        if rung.report is not None:
            self.open(rung.report.kind, unit, data={**data, "level": level + 1})
        return self.open(rung.task.kind, unit, data={**data, "level": level + 1})

    def _climb(self, task: TaskState) -> None:
        """Go one level up (once per level), after `escalate` or a breach."""
        key, level, _ = self._ladder_of[task.kind]
        unit = self.unit(task.unit)
        if unit is None:
            return
        state = unit.data["ladders"][key]
        ladder = self._ladders[key]
        if (
            state["resolved"] is not None
            or state["level"] > level
            or level + 1 >= len(ladder.levels)
        ):
            return
        state["level"] = level + 1
        base = {k: v for k, v in task.data.items() if k != "level"}
        self._open_level(ladder, unit, level + 1, base)

    def _ladder_step(self, task: TaskState) -> None:
        key, level, part = self._ladder_of[task.kind]
        if part != "task" or task.status != "done":
            return
        unit = self.unit(task.unit)
        assert unit is not None
        state = unit.data["ladders"][key]
        if task.outcome == "escalate":
            self._climb(task)
        elif task.outcome == "resolved" and state["resolved"] is None:
            state["resolved"] = level + 1
            self.event("ladder_resolved", task.clause, task.closed_by, ladder=key, level=level + 1)
            for other in self.open_tasks(unit=unit):
                other_of = self._ladder_of.get(other.kind)
                if other_of and other_of[0] == key and other_of[2] == "task":
                    self.cancel(other, "resolved at a lower level")
            self._handler("ladder", key)(self, unit, level + 1)

    # ---- messages ---------------------------------------------------------------------------

    def _open_task_for(self, task_id: str) -> TaskState:
        if not self._ready:
            raise refuse(
                "Conflict",
                f"case {self.s.case_id} is starting; try again",
                f"案件 {self.s.case_id} 正在启动，请稍后重试",
            )
        task = self.task(task_id)
        if task is None:
            raise refuse(
                "NotFound",
                f"no open task {task_id} in case {self.s.case_id}",
                f"案件 {self.s.case_id} 中没有待办任务 {task_id}",
            )
        if task.status != "open":
            raise refuse(
                "Conflict",
                f"task {task_id} is already {task.status}",
                f"任务 {task_id} 已{STATUS_ZH.get(task.status, task.status)}",
            )
        return task

    def _above(self, actor: Actor, role: str) -> bool:
        return outranks(actor.roles, role)

    def acts_as(self, actor: Actor, role: str) -> bool:
        """Whether `actor` may act in `role` on this case (see ROLE_HOLDERS)."""
        if self._above(actor, role):
            return True
        if role not in actor.roles:
            return False
        holder = self.person(self.ROLE_HOLDERS.get(role))
        if holder is not None and not holder.startswith("role:"):
            return actor.id == holder
        if role in self.ROLE_HOLDERS and self.DEPARTMENT:
            return actor.department == self.person(self.DEPARTMENT)
        return True

    def why_not(self, actor: Actor, role: str, zh: bool = False) -> str:
        """Why `actor` may not act in `role` here (for the refusal; in Chinese with `zh`)."""
        holder = self.person(self.ROLE_HOLDERS.get(role))
        if role in actor.roles and holder is not None and not holder.startswith("role:"):
            if zh:
                return f"本案件的{role_zh(role)}是 {holder}"
            return f"the case's {role_zh(role)} is {holder}"
        if role in actor.roles and role in self.ROLE_HOLDERS and self.DEPARTMENT:
            if zh:
                return f"需要{self.person(self.DEPARTMENT)}的{role_zh(role)}"
            return f"it needs a {role_zh(role)} of {self.person(self.DEPARTMENT)}"
        return f"需要角色「{role_zh(role)}」" if zh else f"it needs the role {role_zh(role)}"

    def _authorized(self, task: TaskState, actor: Actor) -> bool:
        """The task's role (in this case) is required; a named assignee must also be that
        person, unless the actor holds the role above."""
        if self._above(actor, task.role):
            return True
        return may_act(task.role, task.assignee, actor.id, actor.roles) and self.acts_as(
            actor, task.role
        )

    def _validated_data(self, task: TaskState, inp: CompleteTaskInput) -> BaseModel:
        model = self._specs[task.kind].outcomes[inp.outcome]
        try:
            return model.model_validate(inp.data)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise refuse(
                "Invalid", f"data.{loc}: {first['msg']}", error=plain_error(first)
            ) from None

    def _check_signatures(self, task: TaskState, inp: CompleteTaskInput) -> None:
        wanted = [
            s
            for s in task.signatures
            if s.party == "customer" and (not s.outcomes or inp.outcome in s.outcomes)
        ]
        if inp.signatures and not wanted:
            raise refuse(
                "Invalid",
                f"signatures: task {task.id} takes no customer signature",
                f"任务 {task.id} 不需要客户签字",
            )
        for req in wanted:
            given = [s for s in inp.signatures if s.party == req.party]
            for g in given:
                if g.method not in req.methods:
                    raise refuse(
                        "Invalid",
                        f"signatures.method: {req.party} signs by {', '.join(req.methods)}",
                        f"{PARTY_ZH.get(req.party, req.party)}只能以"
                        f"{'或'.join(METHOD_ZH.get(m, m) for m in req.methods)}签字",
                    )
            if req.required and not given:
                record = self._specs[task.kind].record
                raise refuse(
                    "Invalid",
                    f"signatures: the {req.party} must sign "
                    f"{record.title if record else 'the record'} ({task.clause})",
                    f"需要{PARTY_ZH.get(req.party, req.party)}在"
                    f"{record.title if record else '记录'}上签字（{task.clause}）",
                )

    @workflow.update(name="complete_task")
    def complete_task(self, inp: CompleteTaskInput) -> TaskState:
        task = self._open_task_for(inp.task_id)
        spec = self._specs[task.kind]
        # Handlers never re-validate: the validator accepted this update (validators do not run
        # on replay), and a stricter rule added later must not change what a history did.
        try:
            given = self._validated_data(task, inp).model_dump(mode="json")
        except ApplicationError:
            given = dict(inp.data)
        task.status, task.outcome = "done", inp.outcome
        # What the workflow put on the task (record ids, visit kind, ...) is not the client's
        # to overwrite.
        task.data = {**given, **task.data}
        task.closed_at, task.closed_by = self.now, inp.actor.id
        self._touch(task)
        self.event(
            "task_completed",
            task.clause,
            inp.actor.id,
            task_id=task.id,
            title=task.title,
            outcome=inp.outcome,
            late=bool(task.due_at and self.now > task.due_at),
        )
        if spec.record is not None and inp.outcome in spec.record.outcomes:
            self._record_completion(task, spec.record, inp, given)
        self._closed(task)
        self._wake = True
        return task

    def _record_completion(
        self, task: TaskState, spec: RecordSpec, inp: CompleteTaskInput, given: dict[str, Any]
    ) -> None:
        """The record a completed task writes (its id goes on the task), and its signatures."""
        unit = self.unit(task.unit)
        category = self.person(spec.category, unit=unit) if spec.category else None
        rid = self.record(
            spec.kind,
            spec.title,
            {**self.record_context(task), **given},
            created_by=inp.actor.id,
            category=category,
            clause=task.clause,
        )
        task.data["record_id"] = rid
        self._sign_completion(task, rid, inp)

    def _sign_completion(self, task: TaskState, rid: str, inp: CompleteTaskInput) -> None:
        """Sign the record `rid`: the actor by login, the customer as the update brought it."""
        for req in task.signatures:
            if req.outcomes and inp.outcome not in req.outcomes:
                continue
            if req.party == "actor":
                self.sign(
                    rid,
                    signer=inp.actor.id,
                    role=req.role,
                    method="staff_login",
                    clause=task.clause,
                )
                continue
            for sig in (g for g in inp.signatures if g.party == req.party):
                self.sign(
                    rid,
                    signer=sig.signer_name,
                    role=req.role,
                    method=sig.method,
                    evidence=sig.evidence,
                    clause=task.clause,
                )

    @complete_task.validator
    def _validate_complete(self, inp: CompleteTaskInput) -> None:
        task = self._open_task_for(inp.task_id)
        if not self._authorized(task, inp.actor):
            assigned = bool(task.assignee and inp.actor.id != task.assignee)
            why = (
                f"it is assigned to {task.assignee}"
                if assigned
                else self.why_not(inp.actor, task.role)
            )
            why_zh = (
                f"该任务指派给了 {task.assignee}"
                if assigned
                else self.why_not(inp.actor, task.role, zh=True)
            )
            raise refuse(
                "Forbidden",
                f"{inp.actor.id} may not complete task {task.id} ({task.title}): {why} "
                f"({task.clause})",
                f"{inp.actor.id} 不能完成任务 {task.id}（{task.title}）：{why_zh}（{task.clause}）",
            )
        if inp.outcome not in task.outcomes:
            raise refuse(
                "Invalid",
                f"outcome must be one of {', '.join(task.outcomes)}, got {inp.outcome!r}",
                f"结果须为 {'、'.join(task.outcomes)} 之一，而不是 {inp.outcome!r}",
            )
        data = self._validated_data(task, inp)
        self._check_signatures(task, inp)
        check = self._handlers.get(("check", task.kind))
        if check is not None:
            # A check says why it refuses: a text, or (English, Chinese).
            problem = check(self, task, inp.outcome, data)
            if isinstance(problem, tuple):
                raise refuse("Invalid", problem[0], problem[1])
            if problem:
                raise refuse("Invalid", problem)

    @workflow.update(name="extend_deadline")
    def extend_deadline(self, inp: ExtendDeadlineInput) -> TaskState:
        task = self._open_task_for(inp.task_id)
        granted_role = self._granted_role(task, inp.actor)
        ext = Extension(
            seq=len(task.extensions) + 1,
            granted_by=inp.actor.id,
            granted_role=granted_role,
            reason=inp.reason,
            old_due=task.due_at,
            new_due=inp.new_due,
            at=self.now,
        )
        task.extensions.append(ext)
        # The reminder keeps its lead time before the new due; the lapse moves with it.
        if task.remind_at and task.due_at:
            task.remind_at = inp.new_due - (task.due_at - task.remind_at)
        if task.lapse_at and task.due_at:
            task.lapse_at = inp.new_due + (task.lapse_at - task.due_at)
        task.due_at = inp.new_due
        task.reminded, task.provisional, task.due_rule = False, False, None
        self._touch(task)
        self.event(
            "deadline_extended",
            task.clause,
            inp.actor.id,
            task_id=task.id,
            old_due=ext.old_due,
            new_due=ext.new_due,
            reason=inp.reason,
            granted_role=granted_role,
        )
        self.notify(
            f"{task.id}/extended/{ext.seq}",
            task.assignee or f"role:{task.role}",
            f"【延期】{task.title} 截止改为 {local_text(inp.new_due)}",
            f"批准人：{inp.actor.id}（{role_zh(granted_role)}）\n理由：{inp.reason}",
        )
        self._wake = True
        return task

    @staticmethod
    def _granted_role(task: TaskState, actor: Actor) -> str:
        """The role an accepted extension was granted under, as recorded: the actor's role
        with the furthest limit (no authority check here: the validator did that)."""
        roles = [r for r in actor.roles if r in task.extend_limits] or list(task.extend_limits)
        unlimited = [r for r in roles if task.extend_limits.get(r) is None]
        if unlimited or not roles:
            return (unlimited or roles or ["?"])[0]
        return max(roles, key=lambda r: task.extend_limits[r])  # type: ignore[arg-type,return-value]

    def _granting_role(self, task: TaskState, inp: ExtendDeadlineInput) -> str:
        """The actor's role that allows this extension (the one with the furthest limit)."""
        roles = [r for r in task.extend_limits if self.acts_as(inp.actor, r)]
        if not roles:
            if not task.extend_limits:
                raise refuse(
                    "Forbidden",
                    f"the deadline of task {task.id} cannot be extended ({task.clause})",
                    f"任务 {task.id} 的期限不可延长（{task.clause}）",
                )
            held = [r for r in task.extend_limits if r in inp.actor.roles]
            allowed = "、".join(role_zh(r) for r in task.extend_limits)
            reason = self.why_not(inp.actor, held[0]) if held else f"only {allowed} may"
            reason_zh = (
                self.why_not(inp.actor, held[0], zh=True) if held else f"只有{allowed}可以延期"
            )
            raise refuse(
                "Forbidden",
                f"{inp.actor.id} may not extend task {task.id}: {reason} ({task.clause})",
                f"{inp.actor.id} 不能延长任务 {task.id} 的期限：{reason_zh}（{task.clause}）",
            )
        unlimited = [r for r in roles if task.extend_limits[r] is None]
        if unlimited:
            return unlimited[0]
        best = max(roles, key=lambda r: task.extend_limits[r])  # type: ignore[arg-type,return-value]
        limit = task.extend_limits[best]
        if limit is not None and inp.new_due > limit:
            # Within the same minute the two times would read alike: then say the seconds.
            fine = local_text(limit) == local_text(inp.new_due)
            most, asked = local_text(limit, fine), local_text(inp.new_due, fine)
            raise refuse(
                "Forbidden",
                f"{role_zh(best)} may extend task {task.id} to {most} at the latest; {asked} "
                f"needs higher approval ({task.clause})",
                f"{role_zh(best)}最晚只能将任务 {task.id} 延至 {most}；"
                f"延至 {asked} 需要更高一级批准（{task.clause}）",
            )
        return best

    @extend_deadline.validator
    def _validate_extend(self, inp: ExtendDeadlineInput) -> None:
        task = self._open_task_for(inp.task_id)
        self._granting_role(task, inp)
        if inp.new_due <= self.now:
            raise refuse(
                "Invalid",
                f"new_due {local_text(inp.new_due)} is in the past",
                f"新截止时间 {local_text(inp.new_due)} 已经过去",
            )
        if task.due_at is not None and inp.new_due <= task.due_at:
            raise refuse(
                "Invalid",
                f"new_due {local_text(inp.new_due)} is not later than the current due "
                f"{local_text(task.due_at)}",
                f"新截止时间 {local_text(inp.new_due)} 须晚于当前截止时间 "
                f"{local_text(task.due_at)}",
            )

    def _check_pause(self, inp: PauseTaskInput, pausing: bool) -> TaskState:
        task = self._open_task_for(inp.task_id)
        if not any(self.acts_as(inp.actor, r) for r in task.pausable_by):
            if not task.pausable_by:
                raise refuse(
                    "Forbidden",
                    f"the clock of task {task.id} cannot be paused ({task.clause})",
                    f"任务 {task.id} 的计时不可暂停（{task.clause}）",
                )
            allowed = "、".join(role_zh(r) for r in task.pausable_by)
            raise refuse(
                "Forbidden",
                f"{inp.actor.id} may not pause or resume task {task.id}: only {allowed} may",
                f"{inp.actor.id} 不能暂停或恢复任务 {task.id} 的计时：只有{allowed}可以",
            )
        if pausing and task.paused_at is not None:
            raise refuse(
                "Conflict", f"task {task.id} is already paused", f"任务 {task.id} 已暂停计时"
            )
        if not pausing and task.paused_at is None:
            raise refuse(
                "Conflict", f"task {task.id} is not paused", f"任务 {task.id} 的计时未暂停"
            )
        return task

    @workflow.update(name="pause_task")
    def pause_task(self, inp: PauseTaskInput) -> TaskState:
        """Stop a task's clock while the owner / customer is waited on."""
        task = self._open_task_for(inp.task_id)  # the validator checked who may pause
        task.paused_at = self.now
        self._touch(task)
        self.event("task_paused", task.clause, inp.actor.id, task_id=task.id, reason=inp.reason)
        return task

    @pause_task.validator
    def _validate_pause(self, inp: PauseTaskInput) -> None:
        self._check_pause(inp, True)

    @workflow.update(name="resume_task")
    def resume_task(self, inp: PauseTaskInput) -> TaskState:
        """Restart the clock: every time of the task moves by the paused span."""
        task = self._open_task_for(inp.task_id)  # the validator checked who may resume
        assert task.paused_at is not None
        span = self.now - task.paused_at
        task.paused_at = None
        for name in ("due_at", "remind_at", "lapse_at"):
            value = getattr(task, name)
            if value is not None:
                setattr(task, name, value + span)
        task.extend_limits = {r: (d + span if d else None) for r, d in task.extend_limits.items()}
        task.due_rule = None
        self._touch(task)
        self.event(
            "task_resumed",
            task.clause,
            inp.actor.id,
            task_id=task.id,
            reason=inp.reason,
            paused_seconds=int(span.total_seconds()),
            due_at=task.due_at,
        )
        self._wake = True
        return task

    @resume_task.validator
    def _validate_resume(self, inp: PauseTaskInput) -> None:
        self._check_pause(inp, False)

    @workflow.signal(name="calendar_updated")
    def calendar_updated(self, inp: CalendarUpdatedInput) -> None:
        """A year of the statutory calendar was loaded: recompute provisional deadlines."""
        self.event("calendar_updated", None, None, years=inp.years)
        if inp.calendar is not None:
            self.s.calendar = cal_merge(self.s.calendar, inp.calendar)
            self._recompute_provisional(sorted(inp.calendar.years))
        else:
            self.s.calendar_years_pending.extend(
                y for y in inp.years or [] if y not in self.s.calendar_years_pending
            )
        self._wake = True

    @workflow.signal(name="case_message")
    def case_message(self, msg: CaseMessage) -> None:
        """A message from another case; each key is handled once."""
        if not self._ready:
            self._early.append(msg)
            return
        if msg.key in self.s.message_keys:
            return
        self.s.message_keys = [*self.s.message_keys[-(MAX_MESSAGE_KEYS - 1) :], msg.key]
        handler = self._handlers.get(("message", msg.name))
        self.event(
            "message_received",
            None,
            msg.actor.id,
            name=msg.name,
            key=msg.key,
            sender=msg.sender,
            handled=handler is not None,
        )
        if handler is not None and not self._finished:
            handler(self, msg)
        self._wake = True

    async def _ensure_calendar(self) -> None:
        year = self.now.astimezone(CHINA_TZ).year
        missing = [y for y in (year, year + 1) if y not in self.s.calendar.years]
        if missing:
            self.s.calendar = cal_merge(self.s.calendar, await self._read_calendar(missing))

    async def _load_pending_calendar(self) -> None:
        if self.s.calendar_years_pending:
            years, self.s.calendar_years_pending = self.s.calendar_years_pending, []
            self.s.calendar = cal_merge(self.s.calendar, await self._read_calendar(years))
            self._recompute_provisional(years)

    async def _read_calendar(self, years: list[int]) -> CalendarData:
        return await workflow.execute_activity(
            "zhidu.calendar",
            CalendarRequest(years=sorted(years)),
            result_type=CalendarData,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=STORE_RETRY,
        )

    def _recompute_provisional(self, years: list[int]) -> None:
        for task in self.s.tasks:
            if task.status != "open" or not task.provisional or task.due_base is None:
                continue
            if task.due_rule is None:
                continue  # extended or moved: that decision stands
            old = task.due_at
            task.due_at, task.provisional = cal.due_after(
                self.s.calendar, task.due_base, task.due_rule
            )
            self._set_clocks(task, self._specs[task.kind], task.due_base)
            task.reminded = (
                task.remind_at is not None and task.remind_at <= self.now and task.reminded
            )
            self._touch(task)
            self.event(
                "deadline_recomputed",
                task.clause,
                None,
                task_id=task.id,
                old_due=old,
                new_due=task.due_at,
                provisional=task.provisional,
                years=years,
            )
        self._wake = True

    @workflow.query(name="state")
    def state(self) -> CaseView:
        return CaseView(
            case_id=self.s.case_id,
            regulation=self.REGULATION,
            title=self.title,
            status=self.s.status,
            number=self.s.number,
            attention=self.s.attention,
            provisional=self.provisional,
            run=self.s.run,
            tasks=[self._task_view(t) for t in self.s.tasks],
            units=self.s.units,
            events=self.events,
            summary=self.summary,
        )

    def _task_view(self, task: TaskState) -> TaskView:
        view = TaskView(**task.model_dump())
        if task.status == "open":
            view.outcome_schemas = {
                o: outcome_schema(m) for o, m in self._specs[task.kind].outcomes.items()
            }
        return view

    # ---- persistence --------------------------------------------------------------------------

    @property
    def provisional(self) -> bool:
        return any(t.provisional and t.status == "open" for t in self.s.tasks)

    def _touch(self, task: TaskState) -> None:
        task.version += 1
        self._p_tasks[task.id] = task
        self._case_dirty = True

    def _dirty(self) -> bool:
        return bool(
            self._case_dirty
            or self._p_events
            or self._p_tasks
            or self._p_notes
            or self._p_records
            or self._p_sigs
            or self._p_ledger
        )

    def _take_changes(self) -> StepChanges:
        first = not self.s.case_written
        changes = StepChanges(
            case=CaseWrite(
                id=self.s.case_id,
                regulation=self.REGULATION,
                title=self.title,
                number=self.s.number,
                customer_id=self._customer_id(),
                status=self.s.status,
                provisional=self.provisional,
                version=self.s.event_seq,
                started_by=self.started_by,
                closed_at=self.s.closed_at,
                summary=self.summary,
                attention=self.s.attention,
                input=self._start.input if first else None,
                policy=self._start.policy if first else None,
            ),
            events=self._p_events,
            tasks=[t.model_copy(deep=True) for t in self._p_tasks.values()],
            notifications=self._p_notes,
            records=self._p_records,
            signatures=self._p_sigs,
            ledger=self._p_ledger,
        )
        self.s.case_written = True
        self._p_events, self._p_tasks, self._p_notes = [], {}, []
        self._p_records, self._p_sigs, self._p_ledger = [], [], []
        self._case_dirty = False
        return changes

    async def _persist_loop(self) -> None:
        """One write in flight at a time; the next carries everything changed meanwhile."""
        while True:
            await workflow.wait_condition(self._dirty)
            changes = self._take_changes()
            self._writing = True
            try:
                result = await workflow.execute_activity(
                    "zhidu.record_step",
                    changes,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=STORE_RETRY,
                    result_type=dict,
                )
                if result and result.get("repairs"):
                    self.needs_attention(
                        f"数据库拒绝了部分数据（{result.get('refused')}），已清理后保存："
                        f"{', '.join(result['repairs'][:5])}"
                    )
            except ActivityError as err:
                # The database refused the step even repaired: it is in this case's history,
                # not in the database. The case goes on; an administrator is told.
                self.needs_attention(f"一个步骤无法保存到数据库：{err.cause or err}"[:500])
            finally:
                self._writing = False
                self._wake = True

    # ---- helpers -------------------------------------------------------------------------------

    def _customer_id(self) -> str | None:
        if not self.CUSTOMER_FIELD:
            return None
        value = getattr(self.inp, self.CUSTOMER_FIELD, None)
        return str(value) if value is not None else None

    def _format_fields(
        self, unit: UnitState | None = None, data: dict[str, Any] | None = None
    ) -> _Format:
        fields = _Format(self.inp.model_dump() if self.inp is not None else {})
        fields["case_id"] = self.s.case_id
        fields["number"] = self.s.number or self.s.case_id
        if unit is not None:
            fields.update(unit.data)
        fields.update(data or {})
        return fields

    def _handler(self, kind: str, name: str) -> Callable[..., Any]:
        handler = self._handlers.get((kind, name))
        if handler is None:
            raise RuntimeError(f"{type(self).__name__} has no @{kind}({name!r}) handler")
        return handler


@functools.lru_cache(maxsize=256)
def _policy(model: type[CasePolicy], text: str) -> CasePolicy:
    """A policy read once per distinct value: every case of a regulation mostly shares one,
    and validating it is a large part of a run's start. Policies are never changed in place."""
    return model.model_validate_json(text)


def cal_merge(base: CalendarData, more: CalendarData) -> CalendarData:
    return CalendarData(years={**base.years, **more.years})


_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}


def outcome_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of an outcome's data model (computed once per model)."""
    schema = _SCHEMAS.get(model)
    if schema is None:
        schema = _SCHEMAS[model] = model.model_json_schema()
    return schema
