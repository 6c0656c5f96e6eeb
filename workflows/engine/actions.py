"""The messages every case takes: the updates `complete_task`, `extend_deadline`,
`pause_task` and `resume_task` with their validators (they refuse with a reason and leave no
trace; the handlers never re-check), the `case_message` signal, and the `state` query."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from workflows.engine.base import CaseBase
    from workflows.engine.common import local_text, refuse
    from workflows.model import (
        Actor,
        CaseMessage,
        CaseView,
        CompleteTaskInput,
        ExtendDeadlineInput,
        Extension,
        PauseTaskInput,
        SignatureReq,
        TaskState,
        TaskView,
    )
    from workflows.spec import RecordSpec

MAX_MESSAGE_KEYS = 2000  # remembered keys of messages from other cases (deduplication)

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


class ActionsMixin(CaseBase):
    """The updates, signal and query every case takes (see the module docstring)."""

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

    @staticmethod
    def _sig_required(req: SignatureReq, data: dict[str, Any]) -> bool:
        """Whether a signature must come with this completion: the completion's data decides
        when it holds the boolean the spec names, else what the task's data said."""
        if req.when is not None and req.when in data:
            return bool(data[req.when])
        return req.required

    def _check_signatures(self, task: TaskState, inp: CompleteTaskInput, data: BaseModel) -> None:
        given_data = data.model_dump()
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
            if self._sig_required(req, given_data) and not given:
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
            if not task.role:  # a named person's own task
                why = f"it is {task.assignee}'s own task: only they may act on it"
                why_zh = f"该任务须由 {task.assignee} 本人处理，他人不能代办"
            elif assigned:
                why, why_zh = (
                    f"it is assigned to {task.assignee}",
                    f"该任务指派给了 {task.assignee}",
                )
            else:
                why = self.why_not(inp.actor, task.role)
                why_zh = self.why_not(inp.actor, task.role, zh=True)
            raise refuse(
                "Forbidden",
                f"{inp.actor.id} may not complete task {task.id} ({task.title}): {why} "
                f"({task.clause})",
                f"{inp.actor.id} 不能完成任务 {task.id}（{task.title}）：{why_zh}（{task.clause}）",
            )
        self._check_once_per_chain(task, inp.actor)
        if inp.outcome not in task.outcomes:
            raise refuse(
                "Invalid",
                f"outcome must be one of {', '.join(task.outcomes)}, got {inp.outcome!r}",
                f"结果须为 {'、'.join(task.outcomes)} 之一，而不是 {inp.outcome!r}",
            )
        data = self._validated_data(task, inp)
        self._check_signatures(task, inp, data)
        check = self._handlers.get(("check", task.kind))
        if check is not None:
            # A check says why it refuses: a text, or (English, Chinese).
            if ("check_signatures", task.kind) in self._handlers:
                problem = check(self, task, inp.outcome, data, list(inp.signatures))
            else:
                problem = check(self, task, inp.outcome, data)
            if isinstance(problem, tuple):
                raise refuse("Invalid", problem[0], problem[1])
            if problem:
                raise refuse("Invalid", problem)

    def _check_once_per_chain(self, task: TaskState, actor: Actor) -> None:
        """One person approves a chain once: who already approved a step of this approval
        chain (holding two of its roles) may not approve another step of it."""
        key = task.data.get("approval")
        unit = self.unit(task.unit) if key else None
        chain = unit.data.get("approvals", {}).get(key) if unit is not None else None
        if chain and actor.id in chain.get("approved_by", []):
            raise refuse(
                "Forbidden",
                f"{actor.id} already approved this chain once; another person must approve "
                f"as {task.role} ({task.clause})",
                f"{actor.id} 已在本审批中签批过一次，{self._book.zh(task.role or '')}须由另一人审批"
                f"（{task.clause}）",
            )

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
            f"批准人：{inp.actor.id}（{self._book.zh(granted_role)}）\n理由：{inp.reason}",
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
            allowed = "、".join(self._book.zh(r) for r in task.extend_limits)
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
                f"{self._book.zh(best)} may extend task {task.id} to {most} at the latest; {asked} "
                f"needs higher approval ({task.clause})",
                f"{self._book.zh(best)}最晚只能将任务 {task.id} 延至 {most}；"
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
            allowed = "、".join(self._book.zh(r) for r in task.pausable_by)
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
        # Or an event a person's update brings as well (spec.on_event).
        event = self._handlers.get(("event", msg.name)) if handler is None else None
        self.event(
            "message_received",
            None,
            msg.actor.id,
            name=msg.name,
            key=msg.key,
            sender=msg.sender,
            handled=handler is not None or event is not None,
        )
        if handler is not None and not self._finished:
            handler(self, msg)
        elif event is not None and not self._finished:
            self._event_by_message(event, msg)
        self._wake = True

    def _event_by_message(self, handler: Callable[..., Any], msg: CaseMessage) -> None:
        """Run an `on_event` handler for a message: its payload as the update's input model,
        the message's actor in it (never one the payload names)."""
        model = _event_model(handler)
        payload = dict(msg.payload)
        if "actor" in model.model_fields:
            payload["actor"] = msg.actor.model_dump()
        try:
            inp = model.model_validate(payload)
        except ValidationError as err:
            first = err.errors()[0]
            why = f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}"
            self.event("message_invalid", None, msg.actor.id, name=msg.name, key=msg.key, error=why)
            self.needs_attention(
                f"来自 {msg.sender or '系统'} 的消息 {msg.name}（{msg.key}）无法处理：{why}"[:500]
            )
            return
        self.via_message = msg
        try:
            handler(self, inp)
        finally:
            self.via_message = None

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


def _event_model(handler: Callable[..., Any]) -> type[BaseModel]:
    """The input model of an `on_event` handler: its one argument's annotation (kept on the
    function, which lives as long as the run's sandbox defined it)."""
    model: type[BaseModel] | None = getattr(handler, "__zhidu_event_model__", None)
    if model is None:
        arg = list(inspect.signature(handler).parameters)[1]
        model = typing.get_type_hints(handler)[arg]
        handler.__zhidu_event_model__ = model  # type: ignore[attr-defined]
    return model


_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}


def outcome_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of an outcome's data model (computed once per model)."""
    schema = _SCHEMAS.get(model)
    if schema is None:
        schema = _SCHEMAS[model] = model.model_json_schema()
    return schema
