"""Periodic duties as Temporal Schedules: the registry declares them (`RegulationEntry.schedules`),
the worker creates or updates them at start-up (`zhidu worker` and the dev stack pass
`sync_at_start` to worker.run_worker) and `zhidu schedules sync` does so on demand.
They show in the Temporal web console under Schedules, with their next and recent runs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from activities.policy import load_policy
from worker import header
from workflows import assertions
from workflows.model import CaseStart
from workflows.registry import Registry
from workflows.registry import ScheduleSpec as DutySpec
from workflows.regulations import registry_or_default
from workflows.search import CASE_STATUS, REGULATION

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger("zhidu.worker")

TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Synced:
    id: str
    action: str  # created | updated


def _schedule(settings: Settings, registry: Registry, duty: DutySpec) -> Schedule:
    key = settings.assertion_keys()[0]
    entry = next(e for e in registry.values() if e.workflow_name == duty.workflow_name)
    inp = entry.input_model.model_validate(duty.input)
    policy = load_policy(entry, settings).model_dump(mode="json")
    arg = CaseStart(
        input=inp.model_dump(mode="json"),
        policy={**policy, **duty.policy},
        started_by="system",
    )
    spec = (
        ScheduleSpec(cron_expressions=[duty.cron], time_zone_name=TIME_ZONE)
        if duty.cron
        else ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=duty.every_seconds or 3600))]
        )
    )
    attrs = TypedSearchAttributes(
        [SearchAttributePair(REGULATION, entry.code), SearchAttributePair(CASE_STATUS, "open")]
    )
    action = ScheduleActionStartWorkflow(
        duty.workflow_name,
        arg,
        id=duty.id,
        task_queue=settings.temporal_task_queue,
        typed_search_attributes=attrs,
        static_summary=duty.title_zh,
    )
    # The schedule's standing assertion, readable by anyone who may describe the schedule: it
    # starts nothing but this workflow type with exactly this argument, under this schedule's ids.
    token = assertions.sign_schedule(key, duty.id, duty.workflow_name, [arg])
    action.headers = {assertions.HEADER: header(token)}
    return Schedule(action=action, spec=spec)


async def ensure_schedules(
    client: Client, settings: Settings, registry: Registry | None = None
) -> list[Synced]:
    """Create every declared schedule that is missing, update the ones that exist."""
    registry = registry_or_default(registry)
    done: list[Synced] = []
    for entry in registry.values():
        for duty in entry.schedules:
            schedule = _schedule(settings, registry, duty)
            try:
                await client.create_schedule(duty.id, schedule)
                done.append(Synced(duty.id, "created"))
            except ScheduleAlreadyRunningError:

                def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                    return ScheduleUpdate(schedule=new)

                await client.get_schedule_handle(duty.id).update(replace)
                done.append(Synced(duty.id, "updated"))
    return done


def sync_at_start(settings: Settings) -> Callable[[Client], Awaitable[None]]:
    """What the worker runs once connected: create or update every declared schedule. A server
    that refuses (e.g. no permission on a managed cluster) is logged, not fatal."""

    async def sync(client: Client) -> None:
        try:
            for synced in await ensure_schedules(client, settings):
                log.info("schedule %s %s", synced.id, synced.action)
        except RPCError as err:
            log.warning("could not create the schedules (%s); run `zhidu schedules sync`", err)

    return sync


async def describe_schedules(
    client: Client, registry: Registry | None = None
) -> list[dict[str, Any]]:
    """Each declared schedule with its next run and its most recent runs (for the CLI and the
    admin page)."""
    out: list[dict[str, Any]] = []
    for entry in registry_or_default(registry).values():
        for duty in entry.schedules:
            row: dict[str, Any] = {"id": duty.id, "title_zh": duty.title_zh, "cron": duty.cron}
            try:
                desc = await client.get_schedule_handle(duty.id).describe()
            except Exception as exc:  # not created yet, or no permission
                row["error"] = str(exc).splitlines()[0]
            else:
                row["next"] = [t.isoformat() for t in desc.info.next_action_times[:3]]
                row["recent"] = [
                    {
                        "at": a.started_at.isoformat(),
                        "workflow_id": getattr(a.action, "workflow_id", None),
                    }
                    for a in desc.info.recent_actions[-5:]
                ]
            out.append(row)
    return out
