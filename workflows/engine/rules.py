"""Who may act on a case: the one rule the workflow's validators enforce and the pages ask to
decide what a person may do (complete a task, send an action).

A role is held for a case when the person has it and the case does not bind it to someone
else: a regulation binds roles to the people its case names (`ROLE_HOLDERS`, e.g. R1's
supervisor is `input.supervisor`); a bound role nobody is named for is held by the role's
people of the case's department (`DEPARTMENT`). A role above (`RoleBook.above`: a division
leader over a department supervisor) may always act in its place. A task with a named assignee
is that person's (or a role above's). Pure functions over data: the workflow and the starter
both call them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from workflows.authority import may_act
from workflows.roles import RoleBook


class Person(Protocol):
    """Who acts: an Actor in the workflow, a signed-in User on the pages."""

    @property
    def id(self) -> str: ...
    @property
    def roles(self) -> Collection[str]: ...
    @property
    def department(self) -> str | None: ...


@dataclass(frozen=True)
class Binding:
    """Who holds the bound roles of one case."""

    holders: Mapping[str, str] = field(default_factory=dict)  # role -> the person named
    bound: frozenset[str] = frozenset()  # every role the regulation binds
    by_department: bool = False  # the regulation names the case's department (DEPARTMENT)
    department: str | None = None  # that department (for bound roles nobody is named for)


def resolve(ref: str | None, values: Mapping[str, Any]) -> str | None:
    """A case-level person ref (`input.<field>`, `a|b` for the first that names someone, or a
    literal id; `role:<code>` names no one) against the case input `values`."""
    if ref is None:
        return None
    for alt in ref.split("|"):
        if alt.startswith("role:"):
            continue
        value = values.get(alt[6:]) if alt.startswith("input.") else alt
        if value not in (None, ""):
            return str(value)
    return None


def binding(
    role_holders: Mapping[str, str], department: str | None, values: Mapping[str, Any]
) -> Binding:
    """The binding of a case whose input is `values`, from its regulation's ROLE_HOLDERS and
    DEPARTMENT refs."""
    holders = {role: who for role, ref in role_holders.items() if (who := resolve(ref, values))}
    return Binding(
        holders, frozenset(role_holders), department is not None, resolve(department, values)
    )


def acts_as(book: RoleBook, case: Binding, actor: Person, role: str) -> bool:
    """Whether `actor` may act in `role` on this case."""
    if book.outranks(actor.roles, role):
        return True
    if role not in actor.roles:
        return False
    holder = case.holders.get(role)
    if holder is not None:
        return actor.id == holder
    if role in case.bound and case.by_department:
        return actor.department == case.department
    return True


def may_complete(
    book: RoleBook, case: Binding, role: str, assignee: str | None, actor: Person
) -> bool:
    """Whether `actor` may complete a task of `role` (named to `assignee`, if anyone). A task
    without a role is its named person's own: theirs alone, not a role above's."""
    if not role:
        return may_act(role, assignee, actor.id, list(actor.roles))
    if book.outranks(actor.roles, role):
        return True
    return may_act(role, assignee, actor.id, list(actor.roles)) and acts_as(book, case, actor, role)


def may_send(book: RoleBook, case: Binding, roles: Collection[str], actor: Person) -> bool:
    """Whether `actor` may send an action open to `roles` (none: anyone signed in)."""
    return not roles or any(acts_as(book, case, actor, r) for r in roles)


def why_not(book: RoleBook, case: Binding, actor: Person, role: str, zh: bool = False) -> str:
    """Why `actor` may not act in `role` here (for a refusal; in Chinese with `zh`)."""
    name = book.zh(role)
    holder = case.holders.get(role)
    if role in actor.roles and holder is not None:
        return f"本案件的{name}是 {holder}" if zh else f"the case's {name} is {holder}"
    if role in actor.roles and role in case.bound and case.by_department:
        dept = case.department
        return f"需要{dept}的{name}" if zh else f"it needs a {name} of {dept}"
    return f"需要角色「{name}」" if zh else f"it needs the role {name}"
