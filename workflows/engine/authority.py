"""Who may act in a case: the open task an update names, and the case's side of the one rule
(workflows/engine/rules.py: a role held for this case through ROLE_HOLDERS / DEPARTMENT, a role
above, a named assignee, a regulation's action roles), and why not, for a refusal."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine import rules
    from workflows.engine.base import CaseBase
    from workflows.engine.common import refuse
    from workflows.model import Actor, TaskState

STATUS_ZH = {"done": "完成", "cancelled": "取消", "lapsed": "失效", "closed": "结束"}


class AuthorityMixin(CaseBase):
    """Who may act in a case (see the module docstring)."""

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
        return self._book.outranks(actor.roles, role)

    def binding(self) -> rules.Binding:
        """Who holds this case's bound roles (ROLE_HOLDERS, DEPARTMENT: refs to its input)."""
        values = self.inp.model_dump() if self.inp is not None else {}
        return rules.binding(self.ROLE_HOLDERS, self.DEPARTMENT, values)

    def acts_as(self, actor: Actor, role: str) -> bool:
        """Whether `actor` may act in `role` on this case (workflows.engine.rules)."""
        return rules.acts_as(self._book, self.binding(), actor, role)

    def why_not(self, actor: Actor, role: str, zh: bool = False) -> str:
        """Why `actor` may not act in `role` here (for the refusal; in Chinese with `zh`)."""
        return rules.why_not(self._book, self.binding(), actor, role, zh)

    def _authorized(self, task: TaskState, actor: Actor) -> bool:
        """The task's role (in this case) is required; a named assignee must also be that
        person, unless the actor holds the role above; a task without a role is its named
        person's own (workflows/engine/rules.py)."""
        return rules.may_complete(self._book, self.binding(), task.role, task.assignee, actor)

    def check_action(self, name: str, actor: Actor) -> None:
        """Refuse `actor` an action of the regulation (its `ACTIONS`) they may not send: the
        roles the action declares, held for this case (the rule the starter and the pages
        ask too)."""
        if not self._ready:
            # The case's first step has not run (its input's people, licences, registers are
            # not in its state yet): every answer now would be judged on an empty case.
            raise refuse(
                "Conflict",
                f"case {self.s.case_id} is starting; try again",
                f"案件 {self.s.case_id} 正在启动，请稍后重试",
            )
        spec = next(a for a in self.ACTIONS if a.name == name)
        if rules.may_send(self._book, self.binding(), spec.roles, actor):
            return
        role = next((r for r in spec.roles if r in actor.roles), spec.roles[0])
        names = "、".join(self._book.zh(r) for r in spec.roles)
        why, why_zh = (
            (self.why_not(actor, role), self.why_not(actor, role, zh=True))
            if role in actor.roles
            else (f"only {names} may", f"只有{names}可以")
        )
        raise refuse(
            "Forbidden",
            f"{actor.id} may not {spec.title_en.lower() or name}: {why}",
            f"{actor.id} 不能{spec.title_zh or name}：{why_zh}",
        )
