"""What a registry entry is: one row per regulation (workflows/regulations/__init__.py lists
them; `ActionSpec`, declared on a regulation's class, is in workflows.spec). CLI, API, UI,
worker and tests are generic over it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from workflows.labels import Labels
from workflows.roles import DemoPerson, RoleBook
from workflows.spec import GENERIC_ACTIONS, ActionSpec


@dataclass(frozen=True)
class ScheduleSpec:
    """A periodic duty: a Temporal Schedule that starts `workflow_name` with `input` on a
    calendar (`cron`, China time) or an interval. Created or updated by the worker at start-up
    and by `zhidu schedules`, visible in the Temporal console."""

    id: str
    title_zh: str
    workflow_name: str
    input: dict[str, Any]
    cron: str | None = None  # e.g. "0 9 1 * *": 09:00 on the 1st of every month
    every_seconds: int | None = None
    policy: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Clause:
    """A clause of the regulation's text and what carries it: a task kind, a handler, a record,
    a schedule, a policy value — or "guidance only" (shown, not enforced)."""

    ref: str  # as the regulation numbers it: "4.2(1)", "第6条"
    text: str  # the clause in a few words (Chinese)
    carried_by: str


@dataclass(frozen=True)
class Guidance:
    """What a regulation asks of the holders of a role that no workflow enforces (how to receive
    a customer, say): shown to them on their work page (工作台), in the regulation's words."""

    role: str
    title: str  # Chinese
    clause: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class RegulationEntry:
    code: str
    title_zh: str
    title_en: str
    workflow: type  # the @workflow.defn class
    workflow_name: str  # its stable Temporal name
    input_model: type[BaseModel]
    policy_model: type[BaseModel]
    start_roles: tuple[str, ...]
    # input -> human title of the case
    case_title: Callable[[Any], str]
    # input -> workflow id (business key), e.g. revisit-C1024; None (or a function answering
    # None for an input) = a case number `<code>-<year>-<000123>` allocated from PostgreSQL
    # before the start, never reused
    workflow_id: Callable[[Any], str | None] | None = None
    # input -> customer id for the CustomerId search attribute (or None)
    customer_id: Callable[[Any], str | None] = lambda _: None
    # input -> the customer's phones and e-mails a one-time signing code may go to
    contacts: Callable[[Any], list[str]] = lambda _: []
    actions: tuple[ActionSpec, ...] = field(default_factory=tuple)
    source: str = ""  # where the regulation comes from (seed file lines)
    # input field -> role code: the people a case names (e.g. owner -> staff) must be active
    # users holding that role; checked by the starter before the case is started.
    people: dict[str, str] = field(default_factory=dict)
    schedules: tuple[ScheduleSpec, ...] = ()
    # What the folder declares besides: its words on the pages, its roles and demo people,
    # its clause list.
    labels: Labels = field(default_factory=Labels)
    roles: RoleBook = field(default_factory=RoleBook)
    demo: tuple[DemoPerson, ...] = ()
    clauses: tuple[Clause, ...] = ()
    guidance: tuple[Guidance, ...] = ()  # shown on the work page of a role's holders

    @property
    def numbered(self) -> bool:
        return self.workflow_id is None

    @property
    def shared_modules(self) -> tuple[str, ...]:
        """The modules of the regulation's folder besides its clauses (forms, labels, people):
        passed through the sandbox so their pydantic models are defined once per process, while
        the clauses are re-imported per run in the strict sandbox (which so checks them)."""
        folder = self.workflow.__module__.rsplit(".", 1)[0]
        return tuple(f"{folder}.{name}" for name in ("forms", "labels", "people"))

    def all_actions(self) -> dict[str, ActionSpec]:
        return {a.name: a for a in (*GENERIC_ACTIONS, *self.actions)}


def regulation(workflow_class: Any, *, title: tuple[str, str], **more: Any) -> RegulationEntry:
    """A registry entry from the regulation's class and folder: its code, Temporal name, input
    and policy models, case title and roles come from the class; `title` is (中文, English)."""
    defn = getattr(workflow_class, "__temporal_workflow_definition")
    template = workflow_class.TITLE
    derived: dict[str, Any] = {
        "code": workflow_class.REGULATION,
        "title_zh": title[0],
        "title_en": title[1],
        "workflow": workflow_class,
        "workflow_name": defn.name,
        "input_model": workflow_class.INPUT,
        "policy_model": workflow_class.POLICY,
        "case_title": lambda inp: template.format_map(_Fields(inp.model_dump())),
        "roles": workflow_class.ROLES,
        "actions": workflow_class.ACTIONS,
    }
    return RegulationEntry(**{**derived, **more})


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


Registry = Mapping[str, RegulationEntry]


__all__ = [
    "GENERIC_ACTIONS",
    "ActionSpec",
    "Clause",
    "Guidance",
    "RegulationEntry",
    "Registry",
    "ScheduleSpec",
]
