"""Engine benchmark: R1 case starts against a minimal one-activity workflow, on one dev server.

Run from the project root:  .venv/bin/python -m bench.engine_bench [--quick] [--json PATH]
See bench/README.md for what is measured and how.

The module is also the worker subprocess (`--worker-child`) and defines the baseline workflow
`bench.minimal`. Its top level imports only the standard library and temporalio, so the workflow
sandbox can load it cheaply; everything else is imported inside functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

from bench.local import scratch_database_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_TABLE = "bench_minimal"
MINIMAL_WORKFLOW = "bench.minimal"
MINIMAL_ACTIVITY = "bench.minimal.write"
TASK_QUEUE = "zhidu"
READY_MARK = "BENCH-WORKER-READY"

# ---- the baseline workflow (runs in the worker subprocess) ---------------------------------------


class MinimalStore:
    """The baseline's one activity: one INSERT through the worker's SQLAlchemy session factory
    (the same pool `zhidu.record_step` uses)."""

    def __init__(self, session_factory: Any) -> None:
        self._sf = session_factory

    @activity.defn(name=MINIMAL_ACTIVITY)
    async def write(self, key: str) -> None:
        from sqlalchemy import text

        async with self._sf() as session, session.begin():
            await session.execute(
                text(f"INSERT INTO {BENCH_TABLE} (key) VALUES (:k) ON CONFLICT DO NOTHING"),
                {"k": key},
            )


@workflow.defn(name=MINIMAL_WORKFLOW)
class MinimalWorkflow:
    """Start, run ONE activity that writes one row, finish (same timeout and retry policy as the
    engine's `zhidu.record_step`)."""

    @workflow.run
    async def run(self, key: str) -> str:
        await workflow.execute_activity(
            MINIMAL_ACTIVITY,
            key,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
            ),
        )
        return key


# ---- the worker subprocess -----------------------------------------------------------------------


async def bench_people(sf: Any) -> None:
    """The people the bench's R1 cases name: the worker checks them before a case's first step
    is stored, as it does for every start."""
    from starter.users import create_user

    for uid, role in (("bench-owner", "staff"), ("bench-supervisor", "supervisor"),
                      ("bench-starter", "staff")):  # fmt: skip
        await create_user(sf, uid, uid, secrets.token_urlsafe(12), [role])


def bench_settings(address: str, database_url: str, data_dir: Path) -> Any:
    """Settings of the worker and of the measuring client. They share `data_dir`, so both use
    the same signing key and actor-assertion key (data_dir/assertion_key)."""
    from settings import Settings

    return Settings.model_validate(
        {
            "temporal_address": address,
            "temporal_namespace": "default",
            "temporal_task_queue": TASK_QUEUE,
            "database_url": database_url,
            "data_dir": data_dir,
            "signing_key_path": data_dir / "signing_key.pem",
            "notify_channels": "console",
        }
    )


async def _worker_child(args: argparse.Namespace) -> None:
    """build_worker's exact Worker config plus the baseline workflow and activity."""
    from temporalio.worker import Worker
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

    import bench.engine_bench as me  # this module by its name, not as __main__
    from store.db import make_session_factory
    from worker import build_worker, connect, worker_engine

    settings = bench_settings(args.address, args.database_url, Path(args.data_dir))
    client = await connect(settings)
    engine = worker_engine(args.database_url)  # the production worker's pool
    sf = make_session_factory(engine)
    # A probe on another queue: the core refuses two workers on one queue of one client.
    probe = build_worker(client, sf, settings, task_queue=f"{TASK_QUEUE}-bench-probe")
    cfg = probe.config()
    del probe
    runner = cfg["workflow_runner"]
    assert isinstance(runner, SandboxedWorkflowRunner)
    # `bench` passes through like the `workflows` package does in production, so neither
    # workflow type re-imports its module per run.
    cfg["workflow_runner"] = SandboxedWorkflowRunner(
        restrictions=runner.restrictions.with_passthrough_modules("bench"),
        runner_class=runner.runner_class,
    )
    cfg["task_queue"] = TASK_QUEUE
    cfg["workflows"] = [*cfg["workflows"], me.MinimalWorkflow]
    cfg["activities"] = [*cfg["activities"], me.MinimalStore(sf).write]
    wkr = Worker(**cfg)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def orphan_watch() -> None:  # the bench died without stopping us
        while os.getppid() == parent:  # noqa: ASYNC110 - nothing to wait on but polling
            await asyncio.sleep(1.0)
        stop.set()

    watch = asyncio.create_task(orphan_watch())
    run = asyncio.create_task(wkr.run())
    await asyncio.sleep(0.5)
    info = {
        "mark": READY_MARK,
        "pid": os.getpid(),
        "max_cached_workflows": cfg.get("max_cached_workflows", 1000),
        "max_concurrent_workflow_tasks": cfg.get("max_concurrent_workflow_tasks"),
        "max_concurrent_activities": cfg.get("max_concurrent_activities"),
        "sticky_timeout_s": (
            cfg["sticky_queue_schedule_to_start_timeout"].total_seconds()
            if cfg.get("sticky_queue_schedule_to_start_timeout")
            else None
        ),
        "workflows": [getattr(w, "__name__", str(w)) for w in cfg["workflows"]],
    }
    _write_ready(Path(args.ready_file), info)
    done, _ = await asyncio.wait(
        {run, asyncio.create_task(stop.wait())}, return_when="FIRST_COMPLETED"
    )
    if run not in done:
        await wkr.shutdown()
    watch.cancel()
    with contextlib.suppress(BaseException):
        await run
    await engine.dispose()


def _write_ready(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.rename(path)


# ---- the measuring side --------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Phase:
    name: str
    n: int
    seconds: float | None = None  # burst start -> last row stored (None: not all arrived)
    done: int = 0
    start_call_s: float = 0.0  # how long the N start calls took
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per component

    @property
    def rate(self) -> float | None:
        return self.n / self.seconds if self.seconds else None

    def line(self) -> str:
        rate = f"{self.rate:.1f}/s" if self.rate else f"INCOMPLETE {self.done}/{self.n}"
        secs = f"{self.seconds:.2f}s" if self.seconds else "-"
        cpu = " ".join(f"{k}={v:.1f}" for k, v in self.cpu.items())
        per = self.cpu.get("worker", 0.0) / self.n * 1000 if self.n else 0.0
        return (
            f"{self.name:<12} N={self.n:<5} {secs:>8} {rate:>12}  starts {self.start_call_s:.2f}s"
            f"  cpu-s {cpu}  worker {per:.1f} ms/case"
        )


class Procs:
    """CPU and RSS of the worker, the dev server, PostgreSQL and this process."""

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.worker: Any = None
        self.server: Any = None

    def find_server(self) -> None:
        for child in self.me.children(recursive=True):
            with contextlib.suppress(Exception):
                if "temporal" in child.name() and "test" not in child.name():
                    self.server = child
                    return

    @staticmethod
    def _cpu(p: Any) -> float:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except Exception:
            return 0.0

    def _scan(self) -> tuple[float, dict[int, float]]:
        """CPU seconds of all PostgreSQL processes, and of each process that is not the bench's
        nor PostgreSQL's (other load on the machine: noise to watch)."""
        mine = {self.me.pid} | {c.pid for c in self.me.children(recursive=True)}
        pg, foreign = 0.0, {}
        for p in self.psutil.process_iter(["name"]):
            if p.info["name"] in ("postgres", "postmaster"):
                pg += self._cpu(p)
            elif p.pid not in mine:
                foreign[p.pid] = self._cpu(p)
        return pg, foreign

    def snapshot(self, full: bool = True) -> dict[str, Any]:
        snap: dict[str, Any] = {
            "worker": self._cpu(self.worker) if self.worker else 0.0,
            "server": self._cpu(self.server) if self.server else 0.0,
            "client": self._cpu(self.me),
        }
        if full:
            snap["pg"], snap["_foreign"] = self._scan()
        return snap

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        out = {k: b[k] - a[k] for k in a if not k.startswith("_")}
        if "_foreign" in a and "_foreign" in b:
            before = a["_foreign"]
            out["other"] = sum(
                max(0.0, c - before.get(pid, 0.0)) for pid, c in b["_foreign"].items()
            )
        return out

    def rss(self) -> int:
        return int(self.worker.memory_info().rss)

    async def settle(
        self, quiet: float = 0.06, window: float = 0.5, need: int = 3, max_wait: float = 90.0
    ) -> float:
        """Wait until the worker and the server are (nearly) idle; return the seconds waited."""
        t0 = time.monotonic()
        calm = 0
        prev = self.snapshot(full=False)
        while time.monotonic() - t0 < max_wait:
            await asyncio.sleep(window)
            cur = self.snapshot(full=False)
            d = self.delta(prev, cur)
            prev = cur
            busy = d["worker"] / window > quiet or d["server"] / window > 2 * quiet
            calm = 0 if busy else calm + 1
            if calm >= need:
                break
        return time.monotonic() - t0


@dataclass
class Ctx:
    args: argparse.Namespace
    tag: str
    db_url: str
    pg: Any  # asyncpg connection to the bench database
    client: Any
    session_factory: Any
    settings: Any
    procs: Procs
    calendar: Any = None
    worker_proc: subprocess.Popen[bytes] | None = None
    worker_info: dict[str, Any] = field(default_factory=dict)
    minimal_ids: list[str] = field(default_factory=list)
    r1_ids: list[str] = field(default_factory=list)
    phase_of: dict[str, str] = field(default_factory=dict)  # workflow id -> phase name
    worker_log: Path | None = None

    @property
    def all_ids(self) -> list[str]:
        return self.minimal_ids + self.r1_ids


async def start_worker(ctx: Ctx, address: str, workdir: Path, label: str) -> None:
    ready = workdir / f"worker-{label}.ready"
    ctx.worker_log = workdir / f"worker-{label}.log"
    cmd = [
        sys.executable, "-m", "bench.engine_bench", "--worker-child",
        "--address", address, "--database-url", ctx.db_url,
        "--data-dir", str(workdir), "--ready-file", str(ready),
    ]  # fmt: skip
    ctx.worker_proc = _spawn(cmd, ctx.worker_log)
    deadline = time.monotonic() + 90
    while not _exists(ready):
        if ctx.worker_proc.poll() is not None:
            raise RuntimeError(
                f"worker exited ({ctx.worker_proc.returncode}); see {ctx.worker_log}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker not ready after 90 s; see {ctx.worker_log}")
        await asyncio.sleep(0.1)
    ctx.worker_info = _read_json(ready)
    ctx.procs.worker = ctx.procs.psutil.Process(ctx.worker_proc.pid)
    log(f"worker {label} pid {ctx.worker_proc.pid}: {ctx.worker_info}")


def _spawn(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as logf:
        return subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _exists(path: Path) -> bool:
    return path.exists()


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


async def stop_worker(ctx: Ctx) -> None:
    proc = ctx.worker_proc
    if proc is None:
        return
    ctx.worker_proc = None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        for _ in range(200):
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def wait_rows(ctx: Ctx, sql: str, ids: list[str], within: float) -> tuple[int, float]:
    """Poll until `sql` (count over ids) reaches len(ids); (count, monotonic time reached).

    The interval grows with the elapsed time (1 %, 20-250 ms): the end is late by at most ~1 %,
    and polling a 1,000-id query every 20 ms would itself cost PostgreSQL seconds of CPU."""
    t0 = last_progress = time.monotonic()
    deadline = t0 + within
    n = seen = 0
    while True:
        n = await ctx.pg.fetchval(sql, ids)
        now = time.monotonic()
        if n > seen:
            seen, last_progress = n, now
        if n >= len(ids) or now > deadline or now - last_progress > STALL_SECONDS:
            return n, now
        await asyncio.sleep(min(0.25, max(0.02, 0.01 * (now - t0))))


STALL_SECONDS = 30.0  # a phase with no new row for this long has stalled


class BenchError(Exception):
    """The bench cannot go on (printed without a traceback)."""


async def diagnose(ctx: Ctx, ids: list[str], sql: str) -> str:
    """Why rows are missing: the status (and failure) of a workflow whose row is not there."""
    from temporalio.client import WorkflowFailureError

    for wid in ids:
        if await ctx.pg.fetchval(sql, [wid]):
            continue
        handle = ctx.client.get_workflow_handle(wid)
        desc = await handle.describe()
        status = desc.status.name if desc.status else "?"
        why = ""
        if status == "FAILED":
            try:
                await handle.result()
            except WorkflowFailureError as exc:
                why = f": {exc.cause or exc}"
        return f"{wid} is {status}{why} (worker log: {ctx.worker_log})"
    return "every row arrived late"


MINIMAL_DONE = f"SELECT count(*) FROM {BENCH_TABLE} WHERE key = ANY($1::text[])"
PLAN_DONE = "SELECT count(*) FROM tasks WHERE kind = 'plan' AND case_id = ANY($1::text[])"


async def minimal_burst(ctx: Ctx, n: int, label: str) -> Phase:
    keys = [f"bench-min-{ctx.tag}-{label}-{i}" for i in range(n)]
    ph = Phase(f"minimal {label}", n)
    cpu0 = ctx.procs.snapshot()
    t0 = time.monotonic()
    await asyncio.gather(
        *(ctx.client.start_workflow(MINIMAL_WORKFLOW, k, id=k, task_queue=TASK_QUEUE) for k in keys)
    )
    ph.start_call_s = time.monotonic() - t0
    ctx.minimal_ids.extend(keys)
    ctx.phase_of.update(dict.fromkeys(keys, ph.name))
    ph.done, t1 = await wait_rows(ctx, MINIMAL_DONE, keys, within=max(60.0, n * 0.5))
    ph.cpu = ctx.procs.delta(cpu0, ctx.procs.snapshot())
    ph.seconds = (t1 - t0) if ph.done >= n else None
    log(ph.line())
    if ph.done < n:
        raise BenchError(
            f"{ph.name}: {ph.done}/{n} stored; {await diagnose(ctx, keys, MINIMAL_DONE)}"
        )
    return ph


def r1_plans(ctx: Ctx, n: int, label: str, policy: Any = None) -> list[Any]:
    """StartPlans built as activities.starts.plan_case builds them (the start is then `launch`)."""
    from datetime import datetime

    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    from activities.starts import StartPlan
    from workflows import REGISTRY
    from workflows.model import CHINA_TZ, CaseStart
    from workflows.regulations.revisit.forms import Contact, RevisitInput, RevisitPolicy
    from workflows.search import CASE_STATUS, CUSTOMER_ID, REGULATION

    entry = REGISTRY["revisit"]
    policy_json = (policy or RevisitPolicy()).model_dump(mode="json")
    today = datetime.now(CHINA_TZ).date()
    plans = []
    for i in range(n):
        cid = f"B{ctx.tag}-{label}-{i}"
        inp = RevisitInput(
            customer_id=cid,
            customer_name=f"基准客户{i}",
            customer_class="regular",
            go_live=today,
            owner="bench-owner",
            supervisor="bench-supervisor",
            contacts=[Contact(name="联系人", title="设备负责人", phone="13800000000")],
        )
        arg = CaseStart(
            input=inp.model_dump(mode="json"),
            policy=policy_json,
            started_by="bench-starter",
            calendar=ctx.calendar,
            number=None,
        )
        pairs = [
            SearchAttributePair(REGULATION, entry.code),
            SearchAttributePair(CASE_STATUS, "open"),
            SearchAttributePair(CUSTOMER_ID, cid),
        ]
        plans.append(
            StartPlan(
                entry=entry,
                case_id=entry.workflow_id(inp),  # type: ignore[misc]
                title=entry.case_title(inp),
                arg=arg,
                search_attributes=TypedSearchAttributes(pairs),
            )
        )
    return plans


async def r1_burst(ctx: Ctx, n: int, label: str, profile: str | None = None) -> Phase:
    plans = r1_plans(ctx, n, label)
    ids = [p.case_id for p in plans]
    ph = Phase(f"R1 {label}", n)
    spy = start_py_spy(ctx, profile) if profile else None
    cpu0 = ctx.procs.snapshot()
    t0 = time.monotonic()
    await launch_at(ctx, plans, 0.0, t0)
    ph.start_call_s = time.monotonic() - t0
    ctx.r1_ids.extend(ids)
    ctx.phase_of.update(dict.fromkeys(ids, ph.name))
    ph.done, t1 = await wait_rows(ctx, PLAN_DONE, ids, within=max(60.0, n * 0.5))
    ph.cpu = ctx.procs.delta(cpu0, ctx.procs.snapshot())
    ph.seconds = (t1 - t0) if ph.done >= n else None
    if spy is not None:
        await stop_py_spy(spy)
    log(ph.line())
    if ph.done < n:
        raise BenchError(f"{ph.name}: {ph.done}/{n} stored; {await diagnose(ctx, ids, PLAN_DONE)}")
    return ph


def start_py_spy(ctx: Ctx, out: str) -> subprocess.Popen[bytes] | None:
    exe = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not exe or ctx.worker_proc is None:
        log("py-spy not found (set PY_SPY=/path/to/py-spy); no profile")
        return None
    cmd = [exe, "record", "--pid", str(ctx.worker_proc.pid), "--rate", "200", "--nonblocking",
           "--format", "raw", "--output", out]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(signal.SIGINT)
    for _ in range(100):
        if spy.poll() is not None:
            return
        await asyncio.sleep(0.1)
    spy.kill()


async def launch_at(ctx: Ctx, plans: list[Any], rate: float, t0: float) -> None:
    """Start the cases of `plans`: `rate` per second from monotonic time t0, or all at once (0)."""
    from starter.cases import launch

    if rate > 0:
        for i, plan in enumerate(plans):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            await launch(ctx.client, ctx.settings, plan)
    else:
        await asyncio.gather(*(launch(ctx.client, ctx.settings, p) for p in plans))


async def breach_lag(ctx: Ctx, n: int, rate: float) -> dict[str, Any]:
    """n R1 cases whose plan is due 5 s after the start; due_at -> 【超时】 notice stored."""
    from workflows.model import Deadline
    from workflows.regulations.revisit.forms import RevisitPolicy

    policy = RevisitPolicy(plan_due=Deadline(seconds=5), reminder_before=Deadline(seconds=1))
    plans = r1_plans(ctx, n, "lag", policy)
    ids = [p.case_id for p in plans]
    ctx.r1_ids.extend(ids)
    ctx.phase_of.update(dict.fromkeys(ids, "breach lag"))
    cpu0 = ctx.procs.snapshot()
    t0 = time.monotonic()
    await launch_at(ctx, plans, rate, t0)
    sql = """
        SELECT t.case_id, t.due_at,
               (SELECT min(n.created_at) FROM notifications n
                 WHERE n.case_id = t.case_id AND n.subject LIKE '【超时】%') AS noticed
          FROM tasks t
         WHERE t.kind = 'plan' AND t.case_id = ANY($1::text[])
    """
    deadline = time.monotonic() + 90 + n / max(rate, 1.0)
    rows: list[Any] = []
    while time.monotonic() < deadline:
        rows = await ctx.pg.fetch(sql, ids)
        if len(rows) == n and all(r["noticed"] is not None for r in rows):
            break
        await asyncio.sleep(0.25)
    cpu = ctx.procs.delta(cpu0, ctx.procs.snapshot())
    lags = sorted((r["noticed"] - r["due_at"]).total_seconds() * 1000 for r in rows if r["noticed"])
    out: dict[str, Any] = {"cases": n, "start_rate_per_s": rate, "noticed": len(lags)}
    if lags:
        out |= {
            "p50_ms": round(pct(lags, 50), 1),
            "p99_ms": round(pct(lags, 99), 1),
            "max_ms": round(lags[-1], 1),
            "min_ms": round(lags[0], 1),
        }
    out["cpu_s"] = {k: round(v, 1) for k, v in cpu.items()}
    log(f"breach lag: {out}")
    return out


def summed(by_phase: dict[str, Counter[str]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for c in by_phase.values():
        total += c
    return total


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


async def scan_histories(ctx: Ctx, ids: list[str]) -> dict[str, Counter[str]]:
    """Count workflow task timeouts (by timeout type) and failures in every history, by phase."""
    from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause

    by_phase: dict[str, Counter[str]] = {}
    sem = asyncio.Semaphore(16)

    async def one(wid: str) -> None:
        counts = by_phase.setdefault(ctx.phase_of.get(wid, "?"), Counter())
        async with sem:
            try:
                hist = await ctx.client.get_workflow_handle(wid).fetch_history()
            except Exception as exc:  # noqa: BLE001
                counts["history_errors"] += 1
                log(f"history of {wid}: {exc}")
                return
        counts["histories"] += 1
        for ev in hist.events:
            et = ev.event_type
            if et == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                tt = ev.workflow_task_timed_out_event_attributes.timeout_type
                counts["wft_timed_out"] += 1
                counts[f"wft_timed_out_{TimeoutType.Name(tt)}"] += 1
            elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = ev.workflow_task_failed_event_attributes.cause
                counts["wft_failed"] += 1
                counts[f"wft_failed_{WorkflowTaskFailedCause.Name(cause)}"] += 1
            elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                counts["wft_completed"] += 1
            elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                counts["activity_timed_out"] += 1

    await asyncio.gather(*(one(w) for w in ids))
    return by_phase


async def terminate(ctx: Ctx, ids: list[str]) -> int:
    from temporalio.service import RPCError

    sem = asyncio.Semaphore(32)
    done = 0

    async def one(wid: str) -> None:
        nonlocal done
        async with sem:
            with contextlib.suppress(RPCError):
                await ctx.client.get_workflow_handle(wid).terminate(reason="bench cleanup")
                done += 1

    await asyncio.gather(*(one(w) for w in ids))
    return done


async def warm_up(ctx: Ctx, r1: int) -> None:
    await minimal_burst(ctx, 20, f"warm{secrets.token_hex(2)}")
    if r1:
        await r1_burst(ctx, r1, f"warm{secrets.token_hex(2)}")
    await ctx.procs.settle()


# ---- the run -------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.starts import case_calendar
    from starter.devstack import admin_url, drop_database, ensure_database
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade
    from worker import connect
    from workflows.search import SEARCH_ATTRIBUTES

    sizes = (20, 60) if args.quick else (args.small, args.large)
    open_cases = 200 if args.quick else args.open_cases
    lag_cases = 20 if args.quick else args.lag_cases
    tag = secrets.token_hex(3)
    db_name = f"zhidu_bench_{tag}"
    db_url = scratch_database_url("zhidu_bench", args.database_url, tag)
    workdir = Path(tempfile.mkdtemp(prefix="zhidu-bench-"))
    figures: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()},
        "sizes": {"burst": list(sizes), "open_cases": open_cases, "lag_cases": lag_cases},
        "order": "per size and repetition: minimal burst, then R1 burst; worker idle between",
    }
    env = engine = pg = None
    ctx: Ctx | None = None
    created_db = False
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        created_db = await ensure_database(db_url)
        await upgrade(db_url)
        pg = await asyncpg.connect(admin_url(db_url, db_name))
        await pg.execute(
            f"CREATE TABLE {BENCH_TABLE} (key text PRIMARY KEY, "
            "stored_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        log(f"database {db_name} ready; starting the Temporal dev server")
        env = await WorkflowEnvironment.start_local(
            namespace="default",
            data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTES,
            dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
            ui=False,
        )
        address = env.client.service_client.config.target_host
        engine = make_engine(db_url)
        sf = make_session_factory(engine)
        await bench_people(sf)
        # The measuring client is the project's own (worker.connect): it signs every start with
        # the actor-assertion key the worker checks.
        settings = bench_settings(address, db_url, workdir)
        client = await connect(settings)
        procs = Procs()
        procs.find_server()
        machine0, t_machine0 = procs.snapshot(), time.monotonic()
        ctx = Ctx(args, tag, db_url, pg, client, sf, settings, procs)
        ctx.calendar = await case_calendar(sf)

        # -- part 1: throughput, task timeouts, breach lag (worker #1) --
        await start_worker(ctx, address, workdir, "1")
        figures["worker_config"] = {k: v for k, v in ctx.worker_info.items() if k not in ("mark",)}
        await warm_up(ctx, r1=20)
        phases: list[tuple[str, int, Phase]] = []
        for n in sizes:
            reps = args.repeat if n == sizes[0] else args.repeat_large
            for rep in range(1, reps + 1):
                label = f"{n}" if reps == 1 else f"{n}.{rep}"
                for kind in ("minimal", "R1"):
                    if kind == "minimal":
                        ph = await minimal_burst(ctx, n, label)
                    else:
                        ph = await r1_burst(ctx, n, label)
                    phases.append((kind, n, ph))
                    waited = await ctx.procs.settle()
                    log(f"  settled in {waited:.1f}s")
        if args.py_spy:  # an extra burst, not in the figures: py-spy costs CPU too
            await r1_burst(ctx, sizes[-1], "profile", profile=args.py_spy)
            await ctx.procs.settle()
        lag = await breach_lag(ctx, lag_cases, args.lag_rate)
        await ctx.procs.settle()
        log(f"scanning {len(ctx.all_ids)} histories (worker #1)")
        scan1 = await scan_histories(ctx, ctx.all_ids)
        n1 = len(ctx.all_ids)
        log(f"  {summed(scan1)}; terminating {len(ctx.r1_ids)} open cases")
        await terminate(ctx, ctx.r1_ids)
        await stop_worker(ctx)

        # -- part 2: worker RSS per 1,000 open cases (fresh worker #2) --
        ctx.minimal_ids, ctx.r1_ids = [], []
        await start_worker(ctx, address, workdir, "2")
        await warm_up(ctx, r1=5)
        rss_before = ctx.procs.rss()
        open_phase = await r1_burst(ctx, open_cases, f"open{open_cases}")
        await ctx.procs.settle()
        rss_after = ctx.procs.rss()
        log(f"scanning {len(ctx.all_ids)} histories (worker #2)")
        scan2 = await scan_histories(ctx, ctx.all_ids)
        n2 = len(ctx.all_ids)
        await terminate(ctx, ctx.r1_ids)
        await stop_worker(ctx)

        scan = summed({**scan1, **scan2})
        timeouts_by_phase = {
            ph: {k: v for k, v in c.items() if k.startswith("wft_") and k != "wft_completed"}
            for ph, c in {**scan1, **scan2}.items()
            if c.get("wft_timed_out") or c.get("wft_failed")
        }
        by_size = {}
        for n in sizes:
            mini = [ph for k, m, ph in phases if k == "minimal" and m == n]
            r1 = [ph for k, m, ph in phases if k == "R1" and m == n]
            m_rate, r_rate = median_rate(mini), median_rate(r1)
            by_size[str(n)] = {
                "minimal_wf_per_s": m_rate,
                "r1_cases_per_s": r_rate,
                "ratio": round(r_rate / m_rate, 3) if (m_rate and r_rate) else None,
                "repeats": len(mini),
                "minimal": aggregate(mini),
                "r1": aggregate(r1),
            }
        figures["throughput"] = by_size
        figures["workflow_task_timeouts"] = {
            "workflows_started": n1 + n2,
            **{k: scan.get(k, 0) for k in ("histories", "history_errors", "wft_timed_out",
                                            "wft_failed", "wft_completed", "activity_timed_out")},
            **{k: v for k, v in scan.items() if k.startswith("wft_timed_out_")},
            "by_phase": timeouts_by_phase,
        }  # fmt: skip
        figures["rss"] = {
            "open_cases": open_cases,
            "before_mib": round(rss_before / 2**20, 1),
            "after_mib": round(rss_after / 2**20, 1),
            "per_1000_open_cases_mib": round(
                (rss_after - rss_before) / 2**20 / open_cases * 1000, 1
            ),
            "worker_cache_max": ctx.worker_info.get("max_cached_workflows"),
            "start_phase": phase_json(open_phase),
        }
        figures["breach_lag"] = lag
        other = procs.delta(machine0, procs.snapshot())["other"]
        figures["machine"]["other_cpu_s"] = round(other, 1)
        figures["machine"]["other_cpu_share"] = round(other / (time.monotonic() - t_machine0), 2)
        return figures
    finally:
        if ctx is not None:
            with contextlib.suppress(Exception):
                if ctx.r1_ids:
                    await terminate(ctx, ctx.r1_ids)
            await stop_worker(ctx)
        if env is not None:
            with contextlib.suppress(Exception):
                await env.shutdown()
        if engine is not None:
            await engine.dispose()
        if pg is not None:
            await pg.close()
        if created_db:
            await drop_database(db_url)
            log(f"dropped database {db_name}")
        if not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"worker logs kept in {workdir}")


def median_rate(phs: list[Phase]) -> float | None:
    """Median throughput of the repetitions (None if one did not complete)."""
    rates = [ph.rate for ph in phs]
    if not rates or any(r is None for r in rates):
        return None
    return round(statistics.median(r for r in rates if r is not None), 2)


def aggregate(phs: list[Phase]) -> dict[str, Any]:
    """Every repetition, and the CPU per case of each component over all of them."""
    total_n = sum(ph.n for ph in phs)
    cpu: Counter[str] = Counter()
    for ph in phs:
        cpu.update(ph.cpu)
    return {
        "runs": [phase_json(ph) for ph in phs],
        "per_s": [round(ph.rate, 2) if ph.rate else None for ph in phs],
        "cpu_ms_per_case": {k: round(v / total_n * 1000, 1) for k, v in cpu.items()},
    }


def phase_json(ph: Phase) -> dict[str, Any]:
    return {
        "n": ph.n,
        "seconds": round(ph.seconds, 3) if ph.seconds else None,
        "per_s": round(ph.rate, 2) if ph.rate else None,
        "stored": ph.done,
        "start_calls_s": round(ph.start_call_s, 3),
        "cpu_s": {k: round(v, 2) for k, v in ph.cpu.items()},
        "worker_cpu_ms_per_case": round(ph.cpu.get("worker", 0) / ph.n * 1000, 1) if ph.n else None,
    }


def table(f: dict[str, Any]) -> str:
    def num(v: Any, fmt: str = ".1f") -> str:
        return format(v, fmt) if isinstance(v, (int, float)) else "n/a"

    lines = []
    wc = f.get("worker_config", {})
    lines.append(
        f"zhidu engine bench: {f['machine']['cpus']} CPUs (load "
        f"{f['machine']['loadavg_at_start'][0]:.2f} at start; rest of the machine used "
        f"{f['machine'].get('other_cpu_share', 0):.2f} core on average); one dev server; worker subprocess "
        f"(build_worker: {wc.get('max_concurrent_workflow_tasks')} WFT slots, "
        f"{wc.get('max_concurrent_activities')} activity slots, cache "
        f"{wc.get('max_cached_workflows')}, sticky {wc.get('sticky_timeout_s')}s); "
        "order per size and repetition: minimal then R1"
    )

    def spread(rates: list[Any]) -> str:
        ok = [r for r in rates if r is not None]
        if len(rates) < 2:
            return ""
        return f" [{min(ok):.1f}-{max(ok):.1f}]" if len(ok) == len(rates) else " [incomplete]"

    for n, t in f["throughput"].items():
        lines.append(
            f"minimal {n}: {num(t['minimal_wf_per_s'])} wf/s{spread(t['minimal']['per_s'])} | "
            f"R1 {n}: {num(t['r1_cases_per_s'])} cases/s{spread(t['r1']['per_s'])} | "
            f"ratio {num(t['ratio'], '.2f')} (median of {t['repeats']})"
        )
    for n, t in f["throughput"].items():
        for k, name in (("minimal", "minimal"), ("r1", "R1")):
            c = t[k]["cpu_ms_per_case"]
            lines.append(
                f"  CPU ms per case, {name} {n}: worker {num(c.get('worker'))} | dev server "
                f"{num(c.get('server'))} | postgres {num(c.get('pg'))} | bench client "
                f"{num(c.get('client'))} | rest of the machine {num(c.get('other'))}"
            )
    w = f["workflow_task_timeouts"]
    kinds = ", ".join(f"{k[len('wft_timed_out_'):]} {v}" for k, v in w.items()
                      if k.startswith("wft_timed_out_"))  # fmt: skip
    where = "; ".join(
        f"{ph}: " + ", ".join(f"{k.removeprefix('wft_')} {v}" for k, v in c.items())
        for ph, c in w.get("by_phase", {}).items()
    )
    lines.append(
        f"WFT timeouts: {w['wft_timed_out']}{f' ({kinds})' if kinds else ''}"
        f"{f' [{where}]' if where else ''} | WFT failed "
        f"{w['wft_failed']} | activity timeouts {w['activity_timed_out']} | histories "
        f"{w['histories']}/{w['workflows_started']} ({w['wft_completed']} WFTs completed)"
    )
    r = f["rss"]
    sp = r["start_phase"]
    lines.append(
        f"worker RSS per 1,000 open cases: {num(r['per_1000_open_cases_mib'])} MiB "
        f"({r['before_mib']} -> {r['after_mib']} MiB with {r['open_cases']} R1 cases open; "
        f"worker cache max {r['worker_cache_max']}) | R1 {r['open_cases']} burst: "
        f"{num(sp['per_s'])} cases/s"
    )
    lag = f["breach_lag"]
    rate = lag["start_rate_per_s"]
    lines.append(
        f"breach lag due -> 【超时】 stored ({lag['noticed']}/{lag['cases']} cases, started "
        f"{'in one burst' if not rate else f'at {rate:g}/s'}): p50 {num(lag.get('p50_ms'), '.0f')} ms"
        f" | p99 {num(lag.get('p99_ms'), '.0f')} ms | max {num(lag.get('max_ms'), '.0f')} ms"
    )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.engine_bench", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: bursts of 20/60, 200 open cases"
    )
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    p.add_argument("--small", type=int, default=50, help="first burst size (default 50)")
    p.add_argument("--large", type=int, default=300, help="second burst size (default 300)")
    p.add_argument("--open-cases", type=int, default=1000, help="R1 cases kept open for RSS")
    p.add_argument("--repeat", type=int, default=3, help="repetitions of the first size (3)")
    p.add_argument("--repeat-large", type=int, default=2, help="repetitions of the second (2)")
    p.add_argument("--lag-cases", type=int, default=100, help="cases of the breach-lag phase")
    p.add_argument(
        "--lag-rate",
        type=float,
        default=10.0,
        help="breach-lag starts per second (0 = one burst; default 10)",
    )
    p.add_argument(
        "--database-url",
        help="PostgreSQL server to create the bench database on "
        "(default DATABASE_URL, else postgresql://postgres@127.0.0.1:5432)",
    )
    p.add_argument(
        "--py-spy",
        metavar="OUT",
        help="profile the worker (py-spy raw format) during an extra, unmeasured R1 burst of "
        "the large size; py-spy from PATH or $PY_SPY",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the worker logs")
    # internal: the worker subprocess
    p.add_argument("--worker-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    p.add_argument("--ready-file", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    if args.worker_child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        asyncio.run(_worker_child(args))
        return 0
    # The dev server (a child of the temporalio core) writes its banner to our stdout: children
    # get stderr as stdout, and the table goes to the real stdout.
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    t0 = time.monotonic()
    try:
        figures = asyncio.run(bench(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; cleaned up")
        return 130
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    figures["wall_seconds"] = round(time.monotonic() - t0, 1)
    print(table(figures), file=out)
    print(f"(total {figures['wall_seconds']} s)", file=out)
    out.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    code = 1
    try:
        code = main()
    except SystemExit as exc:  # --help, or argparse's refusal of an option
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
