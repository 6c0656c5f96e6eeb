"""Who may complete a task: the one rule the workflows (workflows.engine) and the starter
(starter.service, and the "my tasks" query) share. Pure: safe inside the workflow sandbox."""

from __future__ import annotations


def may_act(role: str, assignee: str | None, actor_id: str, actor_roles: list[str]) -> bool:
    """An actor may complete a task when they hold the task's role AND the task either has no
    named assignee or names this actor.

    A task with no role is a named person's own (`TaskSpec(role="", assignee=...)`, e.g. the
    first receiver's follow-up): only that person may act on it, whatever roles they hold, and
    nobody else: not a role above, not an administrator (what they did would stand in that
    person's name). A personal task left undone breaches and lapses like any other."""
    if not role:
        return assignee is not None and assignee == actor_id
    return role in actor_roles and (assignee is None or assignee == actor_id)
