"""The registry as data (for the API, the CLI and the web forms), and a case as the database
shows it, with each open task's outcome forms (JSON Schema from the regulation's task spec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from activities.errors import NotFound
from activities.policy import load_policy
from workflows.engine import outcome_schema
from workflows.registry import Registry, RegulationEntry
from workflows.regulations import registry_or_default

if TYPE_CHECKING:
    from settings import Settings
    from store.db import SessionFactory


def action_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An action's input schema as a client fills it: without `actor` (the server sets it)."""
    schema = model.model_json_schema()
    schema.get("properties", {}).pop("actor", None)
    if "required" in schema:
        schema["required"] = [f for f in schema["required"] if f != "actor"]
    return schema


def task_forms(entry: RegulationEntry, kind: str) -> dict[str, dict[str, Any]]:
    """outcome -> JSON Schema of its data, from the regulation's spec for task `kind`."""
    spec = getattr(entry.workflow, "_specs", {}).get(kind)
    return {o: outcome_schema(m) for o, m in spec.outcomes.items()} if spec else {}


def regulation_dict(entry: RegulationEntry, settings: Settings | None = None) -> dict[str, Any]:
    policy = load_policy(entry, settings) if settings is not None else entry.policy_model()
    return {
        "code": entry.code,
        "title_zh": entry.title_zh,
        "title_en": entry.title_en,
        "workflow_name": entry.workflow_name,
        "start_roles": list(entry.start_roles),
        "numbered": entry.numbered,
        "people": dict(entry.people),
        "source": entry.source,
        "input_schema": entry.input_model.model_json_schema(),
        "policy_schema": entry.policy_model.model_json_schema(),
        "policy_defaults": entry.policy_model().model_dump(mode="json"),
        "policy": policy.model_dump(mode="json"),
        "schedules": [
            {"id": s.id, "title_zh": s.title_zh, "cron": s.cron, "every_seconds": s.every_seconds}
            for s in entry.schedules
        ],
        "actions": [
            {
                "name": a.name,
                "kind": a.kind,
                "roles": list(a.roles),
                "people": dict(a.people),
                "title_zh": a.title_zh,
                "title_en": a.title_en,
                "input_schema": action_schema(a.input_model),
            }
            for a in entry.all_actions().values()
        ],
    }


def list_regulations(
    settings: Settings | None = None, registry: Registry | None = None
) -> list[dict[str, Any]]:
    return [regulation_dict(e, settings) for e in registry_or_default(registry).values()]


async def case_view(
    session_factory: SessionFactory,
    case_id: str,
    registry: Registry | None = None,
    newest_events: int | None = None,
) -> dict[str, Any]:
    """The case as the database shows it: its row, every task (open ones with their outcome
    forms), the timeline (with `newest_events`, only that many of the newest events, and
    `event_count`, how many there are in all)."""
    from store import queries  # SQLAlchemy: not needed to list the regulations

    try:
        case = await queries.case_row(session_factory, case_id)
    except queries.NoSuchCase as exc:
        raise NotFound(f"no case {case_id}", "case_id") from exc
    entry = registry_or_default(registry).get(case.regulation)
    tasks = []
    for t in await queries.case_tasks(session_factory, case_id):
        row = queries.row_dict(t)
        if t.status == "open" and entry is not None:
            row["outcome_schemas"] = task_forms(entry, t.kind)
        tasks.append(row)
    out = {k: v for k, v in queries.row_dict(case).items() if k not in ("input", "policy")}
    events = await queries.case_timeline(session_factory, case_id, newest_events)
    view = {**out, "case_id": case.id, "input": case.input, "tasks": tasks, "events": events}
    if newest_events is not None:
        view["event_count"] = (
            len(events)
            if len(events) < newest_events
            else await queries.count_events(session_factory, case_id)
        )
    return view
