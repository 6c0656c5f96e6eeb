"""The one Temporal Worker of zhidu: every regulation workflow and every activity.

`run_worker` is what `zhidu worker` (and the dev stack) runs: it connects to Temporal, makes
sure the custom search attributes exist, runs what its caller asks for once connected (the
schedules' sync, from starter/), and runs the Worker beside the notification outbox dispatcher
until it is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import (
    Client,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    TLSConfig,
)
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.client import OutboundInterceptor as ClientOutbound
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import default as default_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleSignalInput,
    HandleUpdateInput,
    Replayer,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)
from temporalio.worker import Interceptor as WorkerInterceptor
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from settings import Settings
from store.db import SessionFactory, make_engine, make_session_factory
from workflows import assertions
from workflows.search import SEARCH_ATTRIBUTES

log = logging.getLogger("zhidu.worker")

DISPATCHER_STOP_TIMEOUT = 30.0


async def register_search_attributes(
    client: Client,
    namespace: str,
    keys: Sequence[SearchAttributeKey] = SEARCH_ATTRIBUTES,
) -> list[str]:
    """Add the missing custom search attributes to `namespace`; return the names added.

    Idempotent. Each key is added on its own (an add of several fails as a whole when one
    exists). Servers without ListSearchAttributes (the time-skipping test server) are handled
    by adding every key and tolerating "already exists".
    """
    existing: set[str] = set()
    try:
        resp = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(resp.custom_attributes) | set(resp.system_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
    added: list[str] = []
    for key in keys:
        if key.name in existing:
            continue
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={
                        key.name: IndexedValueType.ValueType(key.indexed_value_type)
                    },
                )
            )
            added.append(key.name)
        except RPCError as err:
            if err.status == RPCStatusCode.ALREADY_EXISTS or "already exists" in err.message:
                continue
            raise
    if added:
        log.info("registered search attributes %s in namespace %s", added, namespace)
    return added


def _unique(classes: Iterable[type]) -> list[type]:
    seen: list[type] = []
    for cls in classes:
        if cls not in seen:
            seen.append(cls)
    return seen


# Workflow tasks held by this worker at once. Beyond what the CPU can finish within the
# workflow task timeout (10 s), more slots only make tasks wait inside the worker and time out;
# fewer keep the backlog on the server, where waiting is free.
MAX_WORKFLOW_TASKS = 16
MAX_ACTIVITIES = 64
# How long a workflow task (or a query) waits at this worker's sticky queue before the server
# hands it to any worker. Short: a query waiting at a crashed worker's queue while a timer
# fires makes the Temporal core record a history that does not replay
# (tests/test_sdk_stale_query.py); the window is this long.
STICKY_TIMEOUT = timedelta(seconds=5)


def worker_engine(database_url: str) -> AsyncEngine:
    """The worker's database pool: room for its concurrent activities, and no pre-ping round
    trip per checkout (a stale connection fails the activity, which is retried anyway)."""
    return make_engine(database_url, pool_size=10, max_overflow=10, pre_ping=False)


# Models, specs and the engine: stateless, imported once even in a strict sandbox (a class
# defined twice would make two different `Deadline`s). A listed package passes its submodules
# through with it (the engine's core, clock, tasks, ..., blocks.*).
ENGINE_MODULES = (
    "workflows.assertions",
    "workflows.model",
    "workflows.calendar",
    "workflows.spec",
    "workflows.engine",
    "workflows.registry",
    "workflows.authority",
    "workflows.roles",
    "workflows.labels",
    "workflows.search",
)


def shared_workflow_modules() -> tuple[str, ...]:
    """The engine's modules and every regulation's forms, labels and people (the registry)."""
    from workflows import REGISTRY

    return ENGINE_MODULES + tuple(m for e in REGISTRY.values() for m in e.shared_modules)


def workflow_runner(strict: bool = False) -> SandboxedWorkflowRunner:
    """The sandbox, on. In production the `workflows` package (pydantic models, specs, the
    engine and every regulation) is imported once and passed through, instead of being
    re-imported for every run: that re-import cost ~55 ms per case start. `strict` re-imports
    it per run, so the sandbox also checks our own workflow code; the test suite runs strict."""
    shared = shared_workflow_modules() if strict else ("workflows",)
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*shared)
    )


def build_worker(
    client: Client,
    session_factory: SessionFactory,
    settings: Settings,
    task_queue: str | None = None,
    *,
    strict_sandbox: bool = False,
) -> Worker:
    """One Worker for every registered regulation workflow and every activity."""
    # Imported here so `import worker` stays light for the CLI and test fixtures.
    from activities import build_activities
    from workflows import REGISTRY

    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        interceptors=[AssertionVerifier(settings.assertion_keys())],
        workflows=_unique(entry.workflow for entry in REGISTRY.values()),
        activities=build_activities(session_factory, settings, client),
        workflow_runner=workflow_runner(strict_sandbox),
        max_concurrent_workflow_tasks=MAX_WORKFLOW_TASKS,
        max_concurrent_activities=MAX_ACTIVITIES,
        sticky_queue_schedule_to_start_timeout=STICKY_TIMEOUT,
    )


def replayer(
    keys: Sequence[bytes], workflows: Iterable[type] | None = None, *, strict: bool = False
) -> Replayer:
    """A Replayer that runs histories as this worker runs cases: the pydantic data converter,
    the sandbox and the assertion verifier with `keys` (the keys the worker had). `workflows`
    defaults to every regulation's."""
    if workflows is None:
        from workflows import REGISTRY

        workflows = (entry.workflow for entry in REGISTRY.values())
    return Replayer(
        workflows=_unique(workflows),
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(strict),
        interceptors=[AssertionVerifier(keys)],
    )


# ---- signed actor assertions (workflows/assertions.py) ---------------------------------------


def header(token: str) -> Payload:
    return default_converter().payload_converter.to_payload(token)


class AssertionSigner(ClientInterceptor):
    """Client side: signs every start, signal and update this client sends."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key, self._clock = key, clock

    def intercept_client(self, next: ClientOutbound) -> ClientOutbound:
        return _Signer(next, self._key, self._clock)


class _Signer(ClientOutbound):
    def __init__(self, next: ClientOutbound, key: bytes, clock: Callable[[], float]) -> None:
        super().__init__(next)
        self._key, self._clock = key, clock

    def _sign(self, workflow_id: str, name: str, args: Sequence[Any], headers: Any) -> Any:
        token = assertions.sign(self._key, workflow_id, name, args, self._clock())
        return {**headers, assertions.HEADER: header(token)}

    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        input.headers = self._sign(input.id, "start", input.args, input.headers)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        input.headers = self._sign(input.id, input.signal, input.args, input.headers)
        await super().signal_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        input.headers = self._sign(input.id, input.update, input.args, input.headers)
        return await super().start_workflow_update(input)


# Marks the runs that check signed assertions (workflow.patched): runs started by the code before
# messages were signed (ca5ef89 and earlier) carry no marker and are not checked.
ASSERTIONS_PATCH = "zhidu-signed-assertions"
# Marks a run started with a schedule assertion of the kind that was not bound to its arguments
# (before d3f6c83's successor): recorded runs replay as they ran, a new start with one is refused.
LEGACY_SCHEDULE_PATCH = "zhidu-schedule-bound"


def scheduled_types() -> frozenset[str]:
    """The workflow types the registry's schedules start (a schedule's assertion starts no
    other)."""
    from workflows import REGISTRY

    return frozenset(d.workflow_name for e in REGISTRY.values() for d in e.schedules)


class AssertionVerifier(WorkerInterceptor):
    """Worker side: a start, signal or update without a valid assertion is refused before the
    workflow sees it (a start fails the case, a signal is dropped, an update is rejected with
    the reason, leaving no trace in the case). An assertion is good once: the nonces a run
    accepted are kept until they expire (in the case's carried state, so a next run knows
    them too)."""

    def __init__(self, keys: Sequence[bytes], schedule_types: Iterable[str] | None = None) -> None:
        self._keys = list(keys)
        self._types = scheduled_types() if schedule_types is None else frozenset(schedule_types)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        keys, types = self._keys, self._types

        def verdict(
            headers: Any, name: str, args: Sequence[Any], at: float | None = None
        ) -> assertions.Verdict:
            """What the message's assertion holds at `at` (default: now)."""
            payload = headers.get(assertions.HEADER)
            token = workflow.payload_converter().from_payload(payload, str) if payload else None
            info = workflow.info()
            return assertions.check(
                keys,
                token,
                workflow_id=info.workflow_id,
                name=name,
                args=args,
                now=workflow.now().timestamp() if at is None else at,
                workflow_type=info.workflow_type,
                scheduled_types=types,
            )

        class Checked(WorkflowInboundInterceptor):
            def __init__(self, next: WorkflowInboundInterceptor) -> None:
                super().__init__(next)
                self._enforced: bool | None = None
                self._own_nonces: dict[str, int] = {}
                self._pending: set[str] = set()  # accepted by a validator, handler not run yet

            def _enforce(self) -> bool:
                """Whether this run checks assertions. A run that began before zhidu signed
                its messages has no ASSERTIONS_PATCH marker and goes on as it began (its
                unsigned start and signals replay as they ran); every run begun since, and
                every next run of an old case, checks."""
                if self._enforced is None:
                    self._enforced = workflow.patched(ASSERTIONS_PATCH)
                return self._enforced

            def _nonces(self) -> dict[str, int]:
                """The nonces this case accepted: the case's carried state when it has one
                (they survive continue-as-new), else this run's own."""
                try:
                    state = getattr(workflow.instance(), "s", None)
                except Exception:  # no instance yet
                    state = None
                found = getattr(state, "nonces", None)
                return found if isinstance(found, dict) else self._own_nonces

            def _used(self, v: assertions.Verdict) -> str | None:
                if v.nonce is not None and (v.nonce in self._nonces() or v.nonce in self._pending):
                    return "the message's assertion was already used (a replayed message)"
                return None

            def _remember(self, v: assertions.Verdict) -> None:
                if v.nonce is None:
                    return
                nonces, now = self._nonces(), workflow.now().timestamp()
                for old in [n for n, e in nonces.items() if e < now]:
                    del nonces[old]
                nonces[v.nonce] = v.expires
                self._pending.discard(v.nonce)

            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                new_case = workflow.info().continued_run_id is None  # not a next run
                if self._enforce() and new_case:
                    # Judged when Temporal accepted the start, not when a worker first runs it
                    # (a case started while no worker runs must not expire meanwhile).
                    accepted = workflow.info().workflow_start_time.timestamp()
                    v = verdict(input.headers, "start", input.args, accepted)
                    why = v.problem
                    if v.legacy_schedule and workflow.patched(LEGACY_SCHEDULE_PATCH):
                        why = "a schedule's assertion must name what it starts (re-sync schedules)"
                    if why:
                        raise ApplicationError(why, type="Forbidden", non_retryable=True)
                return await super().execute_workflow(input)

            async def handle_signal(self, input: HandleSignalInput) -> None:
                if self._enforce():
                    v = verdict(input.headers, input.signal, input.args)
                    why = v.problem or self._used(v)
                    if why:
                        workflow.logger.warning("signal %s dropped: %s", input.signal, why)
                        return
                    self._remember(v)
                await super().handle_signal(input)

            def handle_update_validator(self, input: HandleUpdateInput) -> None:
                # A validator may not record the marker: it checks unless the run is known to
                # predate signing (validators run only for new updates, never on replay).
                if self._enforced is not False:
                    v = verdict(input.headers, input.update, input.args)
                    why = v.problem or self._used(v)
                    if why:
                        raise ApplicationError(why, type="Forbidden", non_retryable=True)
                    if v.nonce is not None:
                        self._pending.add(v.nonce)
                super().handle_update_validator(input)

            async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
                # Runs on replay too, so the accepted nonces are the same after a restart.
                if self._enforced is not False:
                    self._remember(verdict(input.headers, input.update, input.args, 0))
                return await super().handle_update_handler(input)

        return Checked


async def connect(settings: Settings) -> Client:
    """A Temporal client for `settings`: pydantic data converter, TLS / mTLS and API key when
    configured, and every message it sends signed (AssertionSigner)."""
    tls: TLSConfig | bool = settings.temporal_tls
    if settings.temporal_tls_cert or settings.temporal_tls_ca:
        read = lambda p: p.read_bytes() if p else None  # noqa: E731
        tls = TLSConfig(
            client_cert=read(settings.temporal_tls_cert),
            client_private_key=read(settings.temporal_tls_key),
            server_root_ca_cert=read(settings.temporal_tls_ca),
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls,
        api_key=settings.temporal_api_key,
        interceptors=[AssertionSigner(settings.assertion_keys()[0])],
    )


def _install_stop_signals(stop: asyncio.Event) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    return installed


async def _connected(
    settings: Settings, on_connected: Callable[[Client], Awaitable[None]] | None
) -> Client:
    """The worker's client, with the search attributes registered and `on_connected` run."""
    client = await connect(settings)
    try:
        await register_search_attributes(client, settings.temporal_namespace)
    except RPCError as err:  # e.g. no operator permission on a managed cluster
        log.warning("could not register search attributes (%s); register them by hand", err)
    if on_connected is not None:
        await on_connected(client)
    return client


async def run_worker(
    settings: Settings,
    stop: asyncio.Event | None = None,
    *,
    on_connected: Callable[[Client], Awaitable[None]] | None = None,
) -> None:
    """Run the Worker and the notification outbox dispatcher until `stop` is set.

    Without `stop`, SIGINT/SIGTERM stop it. If either part fails, both are stopped and the
    error is raised. `on_connected` runs once the client is connected and the search
    attributes are registered, before the Worker polls (`zhidu worker` and the dev stack pass
    the schedules' sync, starter.schedules.sync_at_start).
    """
    from activities.notify import OutboxDispatcher, channels_from_settings

    if not settings.database_url:
        raise RuntimeError(
            "DATABASE_URL is not set: the worker needs the zhidu PostgreSQL database"
        )

    installed: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        installed = _install_stop_signals(stop)

    client = await _connected(settings, on_connected)
    engine = worker_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    worker = build_worker(client, session_factory, settings)
    dispatcher = OutboxDispatcher(session_factory, channels_from_settings(settings), settings)
    log.info(
        "worker on task queue %r, namespace %r at %s",
        settings.temporal_task_queue,
        settings.temporal_namespace,
        settings.temporal_address,
    )
    worker_task = asyncio.create_task(worker.run(), name="zhidu-worker")
    dispatcher_task = asyncio.create_task(dispatcher.run(stop), name="zhidu-outbox")
    stop_task = asyncio.create_task(stop.wait(), name="zhidu-stop")
    try:
        await asyncio.wait(
            {worker_task, dispatcher_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stop.set()
        if not worker_task.done():
            await worker.shutdown()
        # The dispatcher returns once `stop` is set; do not hang on one that does not.
        await asyncio.wait({dispatcher_task}, timeout=DISPATCHER_STOP_TIMEOUT)
        dispatcher_task.cancel()
        results = await asyncio.gather(
            worker_task, dispatcher_task, stop_task, return_exceptions=True
        )
        await engine.dispose()
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    for result in results[:2]:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
