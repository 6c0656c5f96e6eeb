"""Building blocks every regulation workflow uses: tasks with deadlines (reminder, breach,
extension, lapse), the event timeline, records, signatures, penalties and notifications.

Deterministic code only. Everything a step changes is collected in memory and persisted by one
idempotent activity (`zhidu.record_step`) in one database transaction, so the database never
shows half a step and a retried activity never writes twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from workflows.authority import may_act
    from workflows.model import (
        CHINA_TZ,
        Actor,
        CalendarUpdatedInput,
        CaseView,
        CaseWrite,
        CompleteTaskInput,
        Deadline,
        DueRequest,
        DueResult,
        EventState,
        ExtendDeadlineInput,
        Extension,
        NotificationWrite,
        PenaltyWrite,
        RecordWrite,
        SignatureWrite,
        StepChanges,
        TaskState,
    )
    from workflows.roles import ROLES

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")

# Persisting must survive a database outage: retry with backoff for as long as it takes.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)

BreachAction = Callable[[TaskState], Awaitable[None]]


def role_zh(code: str) -> str:
    return ROLES[code][0] if code in ROLES else code


def refuse(kind: str, reason: str) -> ApplicationError:
    """A validator's refusal; `kind` maps to an HTTP status in the API (Forbidden -> 403)."""
    return ApplicationError(reason, type=kind, non_retryable=True)


def local_text(dt: datetime | None) -> str:
    return dt.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if dt else "—"


def end_of_local_day(dt: datetime) -> datetime:
    local = dt.astimezone(CHINA_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CaseCore(BaseModel):
    """What a case carries from one run to the next (continue-as-new)."""

    case_id: str = ""
    run: int = 1
    event_seq: int = 0
    task_seq: int = 0
    record_seq: int = 0
    signature_seq: int = 0
    status: str = "open"
    provisional: bool = False


class CaseWorkflow:
    """Base class of every regulation workflow.

    Subclasses set `REGULATION`, call `self.setup(...)` first thing in `run`, and may override
    `check_completion` (regulation-specific validation of a task's outcome data) and
    `on_task_completed` (records a completed task produces)."""

    REGULATION = ""

    def __init__(self) -> None:
        self.core = CaseCore()
        self.title = ""
        self.case_input: dict[str, Any] = {}
        self.case_policy: dict[str, Any] = {}
        self.customer_id: str | None = None
        self.started_by: str | None = None
        self.tasks: list[TaskState] = []
        self.events: list[EventState] = []
        self.summary: dict[str, Any] = {}
        self._pending_events: list[EventState] = []
        self._pending_tasks: dict[str, TaskState] = {}
        self._pending_notes: list[NotificationWrite] = []
        self._pending_records: list[RecordWrite] = []
        self._pending_signatures: list[SignatureWrite] = []
        self._pending_penalties: list[PenaltyWrite] = []
        self._case_dirty = True
        self._recalc_years: list[int] = []
        self._inflight = 0  # store activities scheduled and not yet completed
        # Set when the case is being closed: open tasks are cancelled, new ones open cancelled.
        self.closing: str | None = None
        self.closed_by: str | None = None
        self._closed_at: datetime | None = None

    # ---- set-up --------------------------------------------------------------------------

    def setup(
        self,
        core: CaseCore | None,
        *,
        title: str,
        case_input: BaseModel,
        policy: BaseModel,
        customer_id: str | None,
        started_by: str | None,
    ) -> None:
        self.core = core.model_copy() if core else CaseCore()
        self.core.case_id = workflow.info().workflow_id
        self.title = title
        self.case_input = case_input.model_dump(mode="json")
        self.case_policy = policy.model_dump(mode="json")
        self.customer_id = customer_id
        self.started_by = started_by
        # Message handlers are synchronous (replay-safe: they never wait on an activity); this
        # coroutine persists what they changed and recomputes deadlines when asked to.
        self._persister = asyncio.create_task(self._persist_loop())

    def _dirty(self) -> bool:
        return bool(
            self._case_dirty
            or self._pending_events
            or self._pending_tasks
            or self._pending_notes
            or self._pending_records
            or self._pending_signatures
            or self._pending_penalties
        )

    async def _persist_loop(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._dirty() or bool(self._recalc_years))
            if self._recalc_years:
                years, self._recalc_years = self._recalc_years, []
                await self._recompute_provisional(years)
            await self.flush()

    @property
    def case_id(self) -> str:
        return self.core.case_id

    @property
    def now(self) -> datetime:
        return workflow.now()

    # ---- timeline, records, notifications -------------------------------------------------

    def event(
        self, kind: str, clause: str | None, actor: str | None = None, /, **detail: Any
    ) -> None:
        self.core.event_seq += 1
        ev = EventState(
            seq=self.core.event_seq,
            at=self.now,
            kind=kind,
            actor=actor,
            clause=clause,
            detail=detail,
        )
        self.events.append(ev)
        self._pending_events.append(ev)

    def notify(self, key: str, recipient: str, subject: str, body: str) -> None:
        self._pending_notes.append(
            NotificationWrite(
                key=f"{self.case_id}/{key}", recipient=recipient, subject=subject, body=body
            )
        )

    def add_record(
        self,
        kind: str,
        title: str,
        data: dict[str, Any],
        *,
        created_by: str | None,
        category: str | None = None,
        clause: str | None = None,
    ) -> str:
        self.core.record_seq += 1
        record_id = f"{self.case_id}/{kind}/{self.core.record_seq}"
        self._pending_records.append(
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
        self.core.signature_seq += 1
        sig_id = f"{record_id}/sig/{self.core.signature_seq}"
        self._pending_signatures.append(
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

    def penalty(
        self,
        key: str,
        *,
        clause: str,
        party: str,
        amount_yuan: float,
        rule: str,
        kind: str = "fine",
        party_kind: str = "person",
    ) -> None:
        self._pending_penalties.append(
            PenaltyWrite(
                id=f"{self.case_id}/penalty/{key}",
                clause=clause,
                party=party,
                party_kind=party_kind,  # type: ignore[arg-type]
                amount_yuan=amount_yuan,
                kind=kind,  # type: ignore[arg-type]
                rule=rule,
                at=self.now,
            )
        )
        self.event(
            "penalty", clause, None, party=party, amount_yuan=amount_yuan, rule=rule, kind=kind
        )

    def set_status(self, status: str) -> None:
        if status == self.core.status:
            return
        self.core.status = status
        self._case_dirty = True
        if status in ("closed", "done") and self._closed_at is None:
            self._closed_at = self.now
        self.event("status", None, None, status=status)
        # Only cases started with search attributes (the starter sets them) upsert them.
        if workflow.info().typed_search_attributes.get(CASE_STATUS) is not None:
            workflow.upsert_search_attributes([CASE_STATUS.value_set(status)])

    # ---- persistence ------------------------------------------------------------------------

    async def flush(self) -> None:
        """Persist everything changed since the last flush, in one idempotent activity.

        The snapshot is taken and its activity scheduled at once, with no lock: a message
        handler's workflow task then always carries its own command, which keeps replay order
        identical to the original (an update accepted in a task with no command can be replayed
        after a later activity completion). Concurrent writes are ordered by version columns."""
        if not self._dirty():
            return
        changes = StepChanges(
            case=CaseWrite(
                id=self.case_id,
                regulation=self.REGULATION,
                title=self.title,
                customer_id=self.customer_id,
                status=self.core.status,
                provisional=self.core.provisional,
                version=self.core.event_seq,
                started_by=self.started_by,
                closed_at=self._closed_at,
                input=self.case_input,
                policy=self.case_policy,
            ),
            events=self._pending_events,
            tasks=[t.model_copy(deep=True) for t in self._pending_tasks.values()],
            notifications=self._pending_notes,
            records=self._pending_records,
            signatures=self._pending_signatures,
            penalties=self._pending_penalties,
        )
        self._pending_events, self._pending_tasks, self._pending_notes = [], {}, []
        self._pending_records, self._pending_signatures, self._pending_penalties = [], [], []
        self._case_dirty = False
        self._inflight += 1
        try:
            await workflow.execute_activity(
                "zhidu.record_step",
                changes,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=STORE_RETRY,
            )
        finally:
            self._inflight -= 1

    def _touch(self, task: TaskState) -> None:
        task.version += 1
        self._pending_tasks[task.id] = task

    # ---- deadlines ---------------------------------------------------------------------------

    async def due_after(self, start: datetime, deadline: Deadline) -> tuple[datetime, bool]:
        """The due time `deadline` after `start`, and whether it is provisional."""
        if deadline.working_days:
            res: DueResult = await workflow.execute_activity(
                "zhidu.compute_due",
                DueRequest(start=start, working_days=deadline.working_days),
                result_type=DueResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=STORE_RETRY,
            )
            due, provisional = res.due_at, res.provisional
        else:
            due, provisional = start + deadline.wall, False
        if deadline.end_of_day:
            due = end_of_local_day(due)
        return due, provisional

    def _remind_at(
        self, start: datetime, due: datetime, before: Deadline | None
    ) -> datetime | None:
        if before is None:
            return None
        # Never remind earlier than half-way: a 2-hour task gets its reminder after 1 hour.
        lead = min(before.wall, (due - start) / 2)
        return due - lead if lead > timedelta(0) else None

    async def open_task(
        self,
        kind: str,
        *,
        role: str,
        title: str,
        clause: str,
        deadline: Deadline | None = None,
        due_at: datetime | None = None,
        assignee: str | None = None,
        outcomes: list[str] | None = None,
        extend_limits: dict[str, Deadline | None] | None = None,
        remind_before: Deadline | None = None,
        data: dict[str, Any] | None = None,
        start: datetime | None = None,
    ) -> TaskState:
        """Open a human task, store it and announce it to its person or role. Its deadline
        counts from `start` (e.g. the end of the visit), by default from now."""
        start = start or self.now
        provisional = False
        if deadline is not None and due_at is None:
            due_at, provisional = await self.due_after(start, deadline)
        limits: dict[str, datetime | None] = {}
        for r, lim in (extend_limits or {}).items():
            limits[r] = None if lim is None else (await self.due_after(start, lim))[0]
        self.core.task_seq += 1
        task = TaskState(
            id=f"{self.case_id}/t{self.core.task_seq}",
            seq=self.core.task_seq,
            kind=kind,
            role=role,
            assignee=assignee,
            title=title,
            clause=clause,
            due_at=due_at,
            remind_at=self._remind_at(start, due_at, remind_before) if due_at else None,
            provisional=provisional,
            due_base=start if deadline and deadline.working_days else None,
            due_working_days=deadline.working_days if deadline else 0,
            outcomes=outcomes or ["done"],
            data=data or {},
            created_at=self.now,
            extend_limits=limits,
        )
        if self.closing:
            # Opened by a step that was already under way when the case was closed.
            task.status, task.closed_at, task.closed_by = "cancelled", self.now, self.closed_by
        self.tasks.append(task)
        self._touch(task)
        if provisional:
            self.core.provisional = True
            self._case_dirty = True
        who = assignee or f"role:{role}"
        self.event(
            "task_opened",
            clause,
            None,
            task_id=task.id,
            title=title,
            role=role,
            assignee=assignee,
            due_at=due_at.isoformat() if due_at else None,
            provisional=provisional,
        )
        self.notify(
            f"{task.id}/opened",
            who,
            f"【待办】{title}",
            f"{self.title}\n任务：{title}\n截止：{local_text(due_at)}"
            f"{'（暂定：该年度法定节假日尚未发布）' if provisional else ''}\n依据：{clause}\n案件：{self.case_id}",
        )
        await self.flush()
        return task

    def task(self, task_id: str) -> TaskState | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    async def await_task(
        self,
        task: TaskState,
        *,
        on_breach: BreachAction | None = None,
        lapse_after: Deadline | None = None,
        escalate_to: str | None = None,
    ) -> TaskState:
        """Wait until the task is closed: remind before its due time, run the breach action
        at it (again after each extension that is breached), and lapse it `lapse_after` past
        due so a case never waits forever on a person who does not act."""
        while task.status == "open":
            now = self.now
            if task.remind_at and not task.reminded and now >= task.remind_at:
                task.reminded = True
                self._touch(task)
                self.event("reminder", task.clause, None, task_id=task.id, due_at=task.due_at)
                self.notify(
                    f"{task.id}/remind/{len(task.extensions)}",
                    task.assignee or f"role:{task.role}",
                    f"【提醒】{task.title} 将于 {local_text(task.due_at)} 到期",
                    f"{self.title}\n依据：{task.clause}\n案件：{self.case_id}",
                )
                await self.flush()
                continue
            breach_pending = task.due_at is not None and (
                task.breached_at is None or task.breached_at < task.due_at
            )
            if breach_pending and task.due_at is not None and now >= task.due_at:
                task.breached_at = now
                self._touch(task)
                self.event("breach", task.clause, None, task_id=task.id, due_at=task.due_at)
                target = escalate_to or "role:supervisor"
                self.notify(
                    f"{task.id}/breach/{len(task.extensions)}",
                    target,
                    f"【超时】{task.title}",
                    f"{self.title}\n任务已超过截止时间 {local_text(task.due_at)}\n"
                    f"承办：{task.assignee or role_zh(task.role)}\n依据：{task.clause}",
                )
                if on_breach is not None:
                    await on_breach(task)
                await self.flush()
                continue
            lapse_at = task.due_at + lapse_after.wall if task.due_at and lapse_after else None
            if lapse_at and now >= lapse_at:
                task.status = "lapsed"
                task.closed_at = now
                self._touch(task)
                self.event("lapsed", task.clause, None, task_id=task.id)
                await self.flush()
                break
            wake = [
                t
                for t in (
                    task.remind_at if not task.reminded else None,
                    task.due_at if breach_pending else None,
                    lapse_at,
                )
                if t is not None and t > now
            ]
            await self._wait_for_change(task, (min(wake) - now) if wake else None)
        return task

    async def _wait_for_change(self, task: TaskState, wake_in: timedelta | None) -> None:
        """Until the task is closed or changed (extended, recomputed), or the timeout passes."""
        version = task.version
        try:
            await workflow.wait_condition(
                lambda: task.status != "open" or task.version != version, timeout=wake_in
            )
        except TimeoutError:
            pass

    async def sleep_until(self, when: datetime, wake: Callable[[], bool]) -> bool:
        """Sleep until `when`; return True early if `wake()` becomes true."""
        remaining = when - self.now
        if remaining <= timedelta(0):
            return wake()
        try:
            await workflow.wait_condition(wake, timeout=remaining)
            return True
        except TimeoutError:
            return wake()

    # ---- messages ------------------------------------------------------------------------------

    def check_completion(self, task: TaskState, inp: CompleteTaskInput) -> None:
        """Regulation-specific checks of a task's outcome data; raise refuse('Invalid', ...)."""

    def on_task_completed(self, task: TaskState, inp: CompleteTaskInput) -> None:
        """Records a completed task produces (called before the step is persisted)."""

    def _authorized(self, task: TaskState, actor: Actor) -> bool:
        """The task's role is required; a named assignee must also be that person."""
        return may_act(task.role, task.assignee, actor.id, actor.roles)

    def _open_task_for(self, task_id: str) -> TaskState:
        task = self.task(task_id)
        if task is None:
            raise refuse("NotFound", f"no task {task_id} in case {self.case_id}")
        if task.status != "open":
            raise refuse("Conflict", f"task {task_id} is already {task.status}")
        return task

    @workflow.update(name="complete_task")
    def complete_task(self, inp: CompleteTaskInput) -> TaskState:
        task = self._open_task_for(inp.task_id)
        task.status = "done"
        task.outcome = inp.outcome
        # What the workflow put on the task (record ids, visit kind, …) is not the client's to
        # overwrite; the client's data was validated against the task kind's model.
        task.data = {**inp.data, **task.data}
        task.closed_at = self.now
        task.closed_by = inp.actor.id
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
        self.on_task_completed(task, inp)
        return task

    @complete_task.validator
    def _validate_complete(self, inp: CompleteTaskInput) -> None:
        task = self._open_task_for(inp.task_id)
        if not self._authorized(task, inp.actor):
            role = role_zh(task.role)
            why = (
                f"it is assigned to {task.assignee}"
                if task.assignee and inp.actor.id != task.assignee
                else f"it needs the role {role}"
            )
            raise refuse(
                "Forbidden",
                f"{inp.actor.id} may not complete task {task.id} ({task.title}): {why} "
                f"({task.clause})",
            )
        if inp.outcome not in task.outcomes:
            raise refuse(
                "Invalid",
                f"outcome must be one of {', '.join(task.outcomes)}, got {inp.outcome!r}",
            )
        self.check_completion(task, inp)

    @workflow.update(name="extend_deadline")
    def extend_deadline(self, inp: ExtendDeadlineInput) -> TaskState:
        task = self._open_task_for(inp.task_id)
        granted_role = self._granting_role(task, inp)
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
        # The reminder keeps its lead time before the new due.
        if task.remind_at and task.due_at:
            task.remind_at = inp.new_due - (task.due_at - task.remind_at)
        task.due_at = inp.new_due
        task.reminded = False
        task.provisional = False
        task.due_working_days = 0
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
        return task

    def _granting_role(self, task: TaskState, inp: ExtendDeadlineInput) -> str:
        """The actor's role that allows this extension (the one with the furthest limit)."""
        roles = [r for r in inp.actor.roles if r in task.extend_limits]
        if not roles:
            if not task.extend_limits:
                raise refuse(
                    "Forbidden",
                    f"the deadline of task {task.id} cannot be extended ({task.clause})",
                )
            allowed = "、".join(role_zh(r) for r in task.extend_limits)
            raise refuse(
                "Forbidden",
                f"{inp.actor.id} may not extend task {task.id}: only {allowed} may ({task.clause})",
            )
        unlimited = [r for r in roles if task.extend_limits[r] is None]
        if unlimited:
            return unlimited[0]
        best = max(roles, key=lambda r: task.extend_limits[r])  # type: ignore[arg-type,return-value]
        limit = task.extend_limits[best]
        if limit is not None and inp.new_due > limit:
            raise refuse(
                "Forbidden",
                f"{role_zh(best)} may extend task {task.id} to {local_text(limit)} at "
                f"the latest; {local_text(inp.new_due)} needs higher approval ({task.clause})",
            )
        return best

    @extend_deadline.validator
    def _validate_extend(self, inp: ExtendDeadlineInput) -> None:
        task = self._open_task_for(inp.task_id)
        self._granting_role(task, inp)
        if inp.new_due <= self.now:
            raise refuse("Invalid", f"new_due {local_text(inp.new_due)} is in the past")
        if task.due_at is not None and inp.new_due <= task.due_at:
            raise refuse(
                "Invalid",
                f"new_due {local_text(inp.new_due)} is not later than the current due "
                f"{local_text(task.due_at)}",
            )

    @workflow.signal(name="calendar_updated")
    def calendar_updated(self, inp: CalendarUpdatedInput) -> None:
        """A new year of the statutory calendar was loaded: recompute provisional deadlines."""
        self._recalc_years.extend(inp.years or [0])

    async def _recompute_provisional(self, years: list[int]) -> None:
        for task in self.tasks:
            if task.status != "open" or not task.provisional or task.due_base is None:
                continue
            version = task.version
            due, provisional = await self.due_after(
                task.due_base, Deadline(working_days=task.due_working_days)
            )
            if task.status != "open" or task.version != version:
                continue  # completed or extended meanwhile: that decision stands
            old = task.due_at
            task.due_at, task.provisional = due, provisional
            if task.remind_at and old:
                task.remind_at = due - (old - task.remind_at)
            self._touch(task)
            self.event(
                "deadline_recomputed",
                task.clause,
                None,
                task_id=task.id,
                old_due=old,
                new_due=due,
                provisional=provisional,
                years=years,
            )
        still = any(t.provisional and t.status == "open" for t in self.tasks)
        if self.core.provisional != still:
            self.core.provisional = still
            self._case_dirty = True

    @workflow.query(name="state")
    def state(self) -> CaseView:
        return CaseView(
            case_id=self.case_id,
            regulation=self.REGULATION,
            title=self.title,
            status=self.core.status,
            provisional=self.core.provisional,
            run=self.core.run,
            tasks=self.tasks,
            events=self.events,
            summary=self.summary,
        )

    async def drain(self) -> None:
        """Before returning or continuing as new: let message handlers finish and every step
        reach the database."""
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self.flush()
            await workflow.wait_condition(lambda: self._inflight == 0)
            if not self._dirty() and workflow.all_handlers_finished():
                return
