"""Who may act in a case: the open task an update names, a role held for this case
(ROLE_HOLDERS, DEPARTMENT), a role above (workflows.roles), a named assignee
(`workflows.authority.may_act`), and why not, for a refusal."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.authority import may_act
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
                return f"本案件的{self._book.zh(role)}是 {holder}"
            return f"the case's {self._book.zh(role)} is {holder}"
        if role in actor.roles and role in self.ROLE_HOLDERS and self.DEPARTMENT:
            if zh:
                return f"需要{self.person(self.DEPARTMENT)}的{self._book.zh(role)}"
            return f"it needs a {self._book.zh(role)} of {self.person(self.DEPARTMENT)}"
        return (
            f"需要角色「{self._book.zh(role)}」"
            if zh
            else f"it needs the role {self._book.zh(role)}"
        )

    def _authorized(self, task: TaskState, actor: Actor) -> bool:
        """The task's role (in this case) is required; a named assignee must also be that
        person, unless the actor holds the role above. A task without a role is its named
        person's own: only they may act (workflows.authority.may_act)."""
        if not task.role:
            return may_act(task.role, task.assignee, actor.id, actor.roles)
        if self._above(actor, task.role):
            return True
        return may_act(task.role, task.assignee, actor.id, actor.roles) and self.acts_as(
            actor, task.role
        )
