"""`CaseWorkflow`, the class every regulation subclasses: its declarations and what
`__init_subclass__` compiles from them, the state a run starts from (`@workflow.init`), the run
loop, continue-as-new and drain, and what a regulation overrides (`begin`, `summarize`,
`record_context`). Everything else it does comes from the mixins it is made of (see the
package docstring)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from workflows.engine.actions import ActionsMixin
    from workflows.engine.authority import AuthorityMixin
    from workflows.engine.blocks.approvals import ApprovalsMixin
    from workflows.engine.blocks.discipline import DisciplineMixin
    from workflows.engine.blocks.join import JoinMixin
    from workflows.engine.blocks.ladders import LaddersMixin
    from workflows.engine.blocks.recurrence import RecurrenceMixin
    from workflows.engine.clock import ClockMixin
    from workflows.engine.common import _Format
    from workflows.engine.persistence import PersistenceMixin
    from workflows.engine.records import RecordsMixin
    from workflows.engine.tasks import TaskMixin
    from workflows.engine.units import UnitsMixin
    from workflows.model import (
        CaseMessage,
        CaseStart,
        CaseState,
        Deadline,
        DisciplineWrite,
        EventState,
        LedgerWrite,
        NotificationWrite,
        RecordWrite,
        SignatureWrite,
        TaskState,
        UnitState,
    )
    from workflows.roles import GENERIC, RoleBook
    from workflows.spec import (
        DEFAULT,
        SCALED_DEFAULTS,
        ActionSpec,
        ApprovalSpec,
        ApproveData,
        LadderSpec,
        RejectData,
        TaskDefaults,
        TaskSpec,
    )


class CasePolicy(BaseModel):
    """Fields every regulation's policy has (the regulation's policy model inherits them)."""

    reminder_before: Deadline = Deadline(hours=24)
    lapse_after: Deadline = Deadline(days=30)
    approval_due: Deadline = Deadline(working_days=3)
    continue_as_new_after_events: int = Field(
        1500, ge=20, le=40000, description="history events after which a run continues as new"
    )


class CaseWorkflow(
    ActionsMixin,
    AuthorityMixin,
    ApprovalsMixin,
    JoinMixin,
    RecurrenceMixin,
    DisciplineMixin,
    LaddersMixin,
    RecordsMixin,
    PersistenceMixin,
    UnitsMixin,
    TaskMixin,
    ClockMixin,
):
    """Base class of every regulation workflow (see the package docstring)."""

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
    # DEPARTMENT act in it. A role above (ROLES.above) may always act in its place.
    ROLE_HOLDERS: ClassVar[dict[str, str]] = {}
    DEPARTMENT: ClassVar[str | None] = None
    # The regulation's roles (its folder's people.py): names in refusals and titles, and which
    # role stands above which.
    ROLES: ClassVar[RoleBook] = RoleBook()
    # The regulation's own actions (updates and signals besides the generic four): who may
    # send each, declared once (CaseWorkflow.check_action, the starter and the pages ask it).
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = ()
    # What a TaskSpec means where it does not say: the reminder's lead, the lapse, who a
    # breach notifies (workflows.spec). SCALED_DEFAULTS scale with each task's deadline;
    # FIXED_DEFAULTS (24 h before, 30 days after, every supervisor) are what R1 declares.
    TASK_DEFAULTS: ClassVar[TaskDefaults] = SCALED_DEFAULTS

    _specs: ClassVar[dict[str, TaskSpec]]
    _approvals: ClassVar[dict[str, ApprovalSpec]]
    _ladders: ClassVar[dict[str, LadderSpec]]
    _ladder_of: ClassVar[dict[str, tuple[str, int, str]]]  # task kind -> (ladder, level, role)
    _handlers: ClassVar[dict[tuple[str, str], Callable[..., Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        levels = [s for lad in cls.LADDERS for lv in lad.levels for s in (lv.task, lv.report)]
        for spec in (*cls.TASKS, *levels):
            if spec is not None and not spec.role and not spec.assignee:
                raise TypeError(
                    f"{cls.__name__}: task {spec.kind!r} has neither a role nor a person "
                    "(TaskSpec(role='', assignee=<person ref>) is that person's own task)"
                )
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
        cls._specs = {k: _with_defaults(spec, cls.TASK_DEFAULTS) for k, spec in specs.items()}
        cls._approvals = {a.key: a for a in cls.APPROVALS}
        cls._ladders = {lad.key: lad for lad in cls.LADDERS}
        cls._ladder_of = ladder_of
        cls._book = GENERIC | cls.ROLES
        cls._handlers = _compile_handlers(cls)
        cls._joins = [
            (tuple(name.split("|")), fn)
            for (kind, name), fn in cls._handlers.items()
            if kind == "join"
        ]

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
        self._p_discipline: list[DisciplineWrite] = []
        self._case_dirty = False
        self._writing = False
        self._wake = False
        self._timers: list[datetime] = []
        self._jobs_running: set[int] = set()
        self._finished: str | None = None
        self._refused: str | None = None  # the first step's store refused the start
        self._early: list[CaseMessage] = []  # messages that arrived before the case began
        self.via_message: CaseMessage | None = None  # the message an on_event handler runs for
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
            if self._refused is not None:
                # The people the start names do not hold their roles: the case fails, nothing
                # of it was stored (activities/store_step.py).
                raise ApplicationError(self._refused, type="Forbidden", non_retryable=True)
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

    def begin(self) -> None:
        """First run of a case: open its first tasks."""

    def summarize(self) -> dict[str, Any]:
        """What the `state` query shows as the case's summary."""
        return {}

    def record_context(self, task: TaskState) -> dict[str, Any]:
        """Fields every record a task writes starts with (e.g. the customer's identity)."""
        return {}

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


def _with_defaults(spec: TaskSpec, defaults: TaskDefaults) -> TaskSpec:
    """The spec with what it left unset taken from the regulation's TASK_DEFAULTS."""
    changes: dict[str, Any] = {}
    if spec.remind is DEFAULT:
        changes["remind"] = defaults.remind
    if spec.lapse is DEFAULT:
        changes["lapse"] = defaults.lapse
    if spec.breach.notify is DEFAULT:
        changes["breach"] = dataclasses.replace(spec.breach, notify=defaults.notify)
    return dataclasses.replace(spec, **changes) if changes else spec


def _compile_handlers(cls: type) -> dict[tuple[str, str], Callable[..., Any]]:
    """Handler slot (kind, name) -> the method marked for it (workflows.spec). A method counts
    by its name, as the class resolves it: a subclass overriding a handler method takes its
    slot over (its own marks if it has any, else those of the method it overrides). Two
    different methods marked for one slot: TypeError, instead of silently losing one."""
    marks_of: dict[str, tuple[tuple[str, str], ...]] = {}
    for klass in reversed(cls.__mro__):
        for name, fn in vars(klass).items():
            marks = tuple(getattr(fn, "__zhidu_handlers__", ()))
            if marks:
                marks_of[name] = marks  # the most derived marked definition
    handlers: dict[tuple[str, str], Callable[..., Any]] = {}
    owner: dict[tuple[str, str], str] = {}
    for name, marks in marks_of.items():
        fn = getattr(cls, name, None)
        if not callable(fn):
            continue
        for mark in marks:
            if owner.get(mark, name) != name:
                raise TypeError(
                    f"{cls.__name__}: {owner[mark]} and {name} are both marked "
                    f"@{mark[0]}({mark[1]!r}); a handler slot takes one method"
                )
            owner[mark], handlers[mark] = name, fn
    return handlers


@functools.lru_cache(maxsize=256)
def _policy(model: type[CasePolicy], text: str) -> CasePolicy:
    """A policy read once per distinct value: every case of a regulation mostly shares one,
    and validating it is a large part of a run's start. Policies are never changed in place."""
    return model.model_validate_json(text)
