"""Messages between cases: a workflow asks (through a job) to deliver a `CaseMessage` to another
case, starting that case first when it does not exist yet.

Delivery is at least once (the activity may be retried); the receiving case handles each
message key once (`CaseWorkflow.case_message`), so the effect is exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.starts import plan_system_start
from workflows.model import CaseMessage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from settings import Settings
    from store.db import SessionFactory
    from workflows.registry import RegulationEntry


class SendCaseMessage(BaseModel):
    target: str
    message: CaseMessage
    start_regulation: str | None = None
    start_input: dict[str, Any] | None = None


class CaseMessenger:
    def __init__(
        self,
        client: Client,
        session_factory: SessionFactory,
        settings: Settings,
        registry: Mapping[str, RegulationEntry] | None = None,
    ) -> None:
        self._client = client
        self._sf = session_factory
        self._settings = settings
        self._registry = registry

    @activity.defn(name="zhidu.send_case_message")
    async def send(self, raw: dict[str, Any]) -> dict[str, Any]:
        req = SendCaseMessage.model_validate(raw)
        if req.start_regulation is None:
            try:
                await self._client.get_workflow_handle(req.target).signal(
                    "case_message", req.message
                )
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise ApplicationError(
                        f"no running case {req.target}", type="NoCase", non_retryable=True
                    ) from err
                raise
            return {"delivered": True, "started": False}
        plan = await plan_system_start(
            self._settings,
            self._sf,
            req.start_regulation,
            req.start_input or {},
            req.target,
            registry=self._registry,
        )
        # Started if missing (a running case is used as it is), then signalled: two signed
        # calls, each retried with the activity; the case handles the message key once.
        try:
            handle = await self._client.start_workflow(
                plan.entry.workflow_name,
                plan.arg,
                id=plan.case_id,
                task_queue=self._settings.temporal_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=plan.search_attributes,
                static_summary=plan.title,
            )
        except WorkflowAlreadyStartedError as err:
            raise ApplicationError(
                f"case {req.target} is closed; it cannot receive {req.message.name}",
                type="CaseClosed",
                non_retryable=True,
            ) from err
        await handle.signal("case_message", req.message)
        return {"delivered": True, "run_id": handle.result_run_id or ""}
