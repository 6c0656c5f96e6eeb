"""Tasks: the values a spec refers to (deadlines and amounts of the policy, person refs),
opening a task with its clocks, looking tasks up, cancelling one, moving its due, and what
happens when its reminder, due or lapse comes (the clock calls `_remind`, `_breach`, `_lapse`)
and after it closed (`_closed`: the blocks, then the regulation's `@after` handler)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import calendar as cal
    from workflows.engine.base import CaseBase
    from workflows.engine.common import M, local_text
    from workflows.model import (
        SYSTEM_ACTOR_ID,
        Deadline,
        SignatureReq,
        TaskState,
        UnitState,
        yuan,
    )
    from workflows.spec import AmountRef, DeadlineRef, OfSpan, TaskSpec


class TaskMixin(CaseBase):
    """The tasks of a case (see the module docstring)."""

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
        elif ref == "case.started_by":  # a person; None when the system started the case
            value = self.started_by if self.started_by != SYSTEM_ACTOR_ID else None
        elif ref == "task.holder":  # the assignee, else everyone with the task's role
            value = (task.assignee or f"role:{task.role}") if task else None
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
        elif not role and task.assignee is None:
            # A named person's own task whose person ref names nobody in this case.
            self.needs_attention(
                f"任务 {task.id}（{task.title}）须由 {spec.assignee} 本人处理，但本案件中没有此人"
            )
        self.s.tasks.append(task)
        self._touch(task)
        self._announce_opened(task, role, due, provisional)
        self._wake = True
        return task

    @staticmethod
    def _signature_reqs(spec: TaskSpec, data: dict[str, Any]) -> list[SignatureReq]:
        """The signatures a new task asks for (`required` may name a key of its data, or of the
        data it is completed with: `when`)."""
        return [
            SignatureReq(
                party=s.party,
                role=s.role,
                methods=list(s.methods),
                required=bool(data.get(s.required)) if isinstance(s.required, str) else s.required,
                when=s.required if isinstance(s.required, str) else None,
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
                # Two tasks of one title (a phone and an on-site revisit) read apart by due.
                f"【待办】{task.title}" + (f"（{local_text(due)} 前）" if due else ""),
                f"{self.title}\n任务：{task.title}\n截止：{local_text(due)}"
                f"{'（暂定：该年度法定节假日尚未发布）' if provisional else ''}\n"
                f"依据：{task.clause}\n案件：{self.s.case_id}",
            )

    def _set_clocks(self, task: TaskState, spec: TaskSpec, start: datetime) -> None:
        """Reminder (never earlier than half-way to the due) and lapse from the due; either may
        be a share of the task's span (`OfSpan`)."""
        task.remind_at = task.lapse_at = None
        if task.due_at is None:
            return
        span = max(task.due_at - start, timedelta(0))
        if isinstance(spec.remind, OfSpan):
            remind: datetime | None = task.due_at - self._of_span(spec.remind, span)
        else:
            lead = self.deadline(spec.remind)
            remind = (
                cal.lead_before(self.s.calendar, task.due_at, lead) if lead is not None else None
            )
        if remind is not None:
            halfway = start + (task.due_at - start) / 2
            remind = max(remind, halfway)
            task.remind_at = remind if remind < task.due_at else None
        if isinstance(spec.lapse, OfSpan):
            task.lapse_at = task.due_at + self._of_span(spec.lapse, span)
        else:
            lapse = self.deadline(spec.lapse)
            if lapse is not None:
                task.lapse_at = cal.due_after(self.s.calendar, task.due_at, lapse)[0]

    @staticmethod
    def _of_span(share: OfSpan, span: timedelta) -> timedelta:
        length = span * share.share
        if share.at_least is not None:
            length = max(length, share.at_least.wall)
        return length

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
                    f"承办：{task.assignee or self._book.zh(task.role)}\n依据：{task.clause}",
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
        self._join_step(task)
        handler = self._handlers.get(("after", task.kind))
        if handler is not None:
            handler(self, task)
