"""`CaseBase`, the base of the mixins `CaseWorkflow` is made of (see the package docstring):
the regulation's compiled declarations and the run's state the parts share (annotations only:
`core.CaseWorkflow` sets them) and, for the type checker only, the methods one part calls on
another, each under the file that defines it. At run time the class holds nothing but
annotations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine.common import _Format
    from workflows.model import (
        Actor,
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
    from workflows.roles import RoleBook
    from workflows.spec import (
        ActionSpec,
        AmountRef,
        ApprovalSpec,
        DeadlineRef,
        LadderSpec,
        TaskSpec,
    )


class CaseBase:
    """What every part of the engine knows of the others (see the module docstring)."""

    # The regulation's declarations that the parts read, and what `__init_subclass__` compiles
    # from them (core.CaseWorkflow).
    REGULATION: ClassVar[str]
    ROLE_HOLDERS: ClassVar[dict[str, str]]
    ACTIONS: ClassVar[tuple[ActionSpec, ...]]
    DEPARTMENT: ClassVar[str | None]
    _specs: ClassVar[dict[str, TaskSpec]]
    _approvals: ClassVar[dict[str, ApprovalSpec]]
    _ladders: ClassVar[dict[str, LadderSpec]]
    _ladder_of: ClassVar[dict[str, tuple[str, int, str]]]
    _handlers: ClassVar[dict[tuple[str, str], Callable[..., Any]]]
    _book: ClassVar[RoleBook]  # the regulation's roles with the generic ones
    _joins: ClassVar[list[tuple[tuple[str, ...], Callable[..., Any]]]]  # @after_all handlers

    # The run's state (set by core.CaseWorkflow.__init__).
    s: CaseState
    inp: Any
    policy: Any
    v: Any
    title: str
    started_by: str | None
    summary: dict[str, Any]
    events: list[EventState]
    _p_events: list[EventState]
    _p_tasks: dict[str, TaskState]
    _p_notes: list[NotificationWrite]
    _p_records: list[RecordWrite]
    _p_sigs: list[SignatureWrite]
    _p_ledger: list[LedgerWrite]
    _p_discipline: list[DisciplineWrite]
    _case_dirty: bool
    _writing: bool
    _wake: bool
    _timers: list[datetime]
    _jobs_running: set[int]
    _finished: str | None
    _refused: str | None
    _early: list[CaseMessage]
    via_message: CaseMessage | None
    _start: CaseStart
    _ready: bool

    if TYPE_CHECKING:
        # core.py
        def summarize(self) -> dict[str, Any]: ...
        def record_context(self, task: TaskState) -> dict[str, Any]: ...
        def _customer_id(self) -> str | None: ...
        def _format_fields(
            self, unit: UnitState | None = None, data: dict[str, Any] | None = None
        ) -> _Format: ...
        def _handler(self, kind: str, name: str) -> Callable[..., Any]: ...

        # clock.py
        @property
        def now(self) -> datetime: ...
        def due_after(self, start: datetime, rule: DeadlineRef) -> tuple[datetime, bool]: ...

        # tasks.py
        def deadline(self, ref: DeadlineRef) -> Deadline | None: ...
        def amount(self, ref: AmountRef) -> Decimal: ...
        def person(
            self, ref: str | None, *, unit: UnitState | None = None, task: TaskState | None = None
        ) -> str | None: ...
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
        ) -> TaskState: ...
        def _set_clocks(self, task: TaskState, spec: TaskSpec, start: datetime) -> None: ...
        def task(self, task_id: str) -> TaskState | None: ...
        def open_tasks(
            self, kind: str | None = None, unit: UnitState | None = None
        ) -> list[TaskState]: ...
        def cancel(self, task: TaskState, reason: str, actor: str | None = None) -> None: ...
        def _remind(self, task: TaskState) -> None: ...
        def _breach(self, task: TaskState) -> None: ...
        def _lapse(self, task: TaskState) -> None: ...
        def _closed(self, task: TaskState) -> None: ...

        # units.py
        def unit(self, unit_id: str | None) -> UnitState | None: ...
        def close_unit(self, unit: UnitState, status: str = "done", **detail: Any) -> None: ...
        def wake_at(self, when: datetime, name: str, **data: Any) -> None: ...

        # blocks/join.py
        def _join_step(self, task: TaskState) -> None: ...

        # persistence.py
        @property
        def provisional(self) -> bool: ...
        def _touch(self, task: TaskState) -> None: ...

        # records.py
        def event(
            self, kind: str, clause: str | None, actor: str | None = None, /, **detail: Any
        ) -> None: ...
        def notify(self, key: str, recipient: str, subject: str, body: str) -> None: ...
        def record(
            self,
            kind: str,
            title: str,
            data: dict[str, Any],
            *,
            created_by: str | None,
            category: str | None = None,
            clause: str | None = None,
        ) -> str: ...
        def sign(
            self,
            record_id: str,
            *,
            signer: str,
            role: str,
            method: str,
            evidence: str | None = None,
            clause: str | None = None,
        ) -> str: ...
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
        ) -> bool: ...
        def needs_attention(self, reason: str) -> None: ...

        # blocks/ladders.py
        def _climb(self, task: TaskState) -> None: ...
        def _ladder_step(self, task: TaskState) -> None: ...

        # blocks/approvals.py
        def _approval_step(self, task: TaskState) -> None: ...
        def request_approval(
            self,
            key: str,
            unit: UnitState,
            record_id: str,
            *,
            measure: Decimal | int | None = None,
            scope: str | None = None,
        ) -> list[str]: ...

        # blocks/discipline.py
        def _discipline_decided(
            self, unit: UnitState, approval: str, chain: dict[str, Any]
        ) -> None: ...

        # authority.py
        def _open_task_for(self, task_id: str) -> TaskState: ...
        def acts_as(self, actor: Actor, role: str) -> bool: ...
        def why_not(self, actor: Actor, role: str, zh: bool = False) -> str: ...
        def _authorized(self, task: TaskState, actor: Actor) -> bool: ...
