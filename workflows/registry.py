"""The regulation registry: one row per regulation. CLI, API, UI and worker are generic over it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from workflows.model import Actor, CompleteTaskInput, ExtendDeadlineInput

ALL_STAFF_ROLES: tuple[str, ...] = ()  # empty = any signed-in user


@dataclass(frozen=True)
class ActionSpec:
    """A message a person may send to a running case."""

    name: str
    input_model: type[BaseModel]
    roles: tuple[str, ...]  # roles allowed to send it (empty = any signed-in user; the
    # workflow validator still decides per task)
    kind: Literal["update", "signal"] = "update"
    title_zh: str = ""
    title_en: str = ""
    # input field -> role code: the field names a person (a user id) who must be an active user
    # holding that role; checked by the starter before the message is sent.
    people: dict[str, str] = field(default_factory=dict)


GENERIC_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("complete_task", CompleteTaskInput, (), "update", "完成任务", "Complete a task"),
    ActionSpec("extend_deadline", ExtendDeadlineInput, (), "update", "延期", "Extend a deadline"),
)


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
    # input -> workflow id (business key), e.g. revisit-C1024
    workflow_id: Callable[[Any], str]
    # input -> human title of the case
    case_title: Callable[[Any], str]
    # input -> customer id for the CustomerId search attribute (or None)
    customer_id: Callable[[Any], str | None]
    # (input, policy, actor) -> the single argument of the workflow's run method
    start_arg: Callable[[Any, Any, Actor], BaseModel]
    actions: tuple[ActionSpec, ...] = field(default_factory=tuple)
    source: str = ""  # where the regulation comes from (seed file lines)
    # input field -> role code: the people a case names (e.g. owner -> staff) must be active
    # users holding that role; checked by the starter before the case is started.
    people: dict[str, str] = field(default_factory=dict)

    def all_actions(self) -> dict[str, ActionSpec]:
        return {a.name: a for a in (*GENERIC_ACTIONS, *self.actions)}
