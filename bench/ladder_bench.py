"""Ladder benchmark: emergency complaints (R5 `complaint`) whose ladder runs in seconds, nobody
acting, so every level breaches and escalates; against the minimal one-activity workflow in
the same run, on one dev server.

Run from the project root:  .venv/bin/python -m bench.ladder_bench [--count 1000] [--rate 5]

It reuses bench/engine_bench.py: the same worker subprocess (the production worker's config
plus the baseline workflow), the same dev server and scratch database, the same throughput
measure (starts until each case's first step is stored) and history scan. Four phases of
`--count` workflows each, on one worker, in this order (each phase's cases are terminated
once measured, so the next one starts on an idle worker with an empty cache):

1. `minimal`: the one-activity baseline in one burst;
2. `start`: emergency complaints in one burst with the ladder not yet due (every level 600 s):
   throughput until each case's level-1 task is stored, and its ratio to the minimal one;
3. `paced`: emergency complaints started at `--rate` per second with the ladder in seconds
   (3 / 5 / 10 / 10 s), nobody acting, so every level breaches and escalates;
4. `burst`: the same ladder, all complaints in one burst: the ratio again, now with the
   escalations of the first cases competing with the later starts.

Printed: the throughputs and ratios; for `paced` and `burst` the lag between each level's due
and its escalation stored (the 【超时】 notice of the level's breach, written in the step that
opens the next level; the board's breach is recorded the same way), p50 / p99 per level and
overall; workflow-task timeouts and failures over every history, by phase; CPU seconds of the
worker, the dev server and PostgreSQL per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import engine_bench as eb
from bench.local import scratch_database_url

LEVEL_DONE = "SELECT count(*) FROM tasks WHERE kind = 'em_department' AND case_id = ANY($1::text[])"
# The lag of each level. n.case_id first: the key's LIKE has a pattern per row, so without it
# every poll read the whole notifications table once per task, and PostgreSQL's CPU competed
# with the ladder.
LAG_SQL = """
    SELECT t.case_id, t.kind, t.due_at,
           (SELECT min(n.created_at) FROM notifications n
             WHERE n.case_id = t.case_id AND n.key LIKE t.id || '/breach/%') AS escalated
      FROM tasks t
     WHERE t.kind LIKE 'em\\_%' AND t.kind NOT LIKE 'em\\_report%' AND t.case_id = ANY($1::text[])
"""
LEVELS = ("em_department", "em_center", "em_leader", "em_board")


LADDER_SECONDS = (3, 5, 10, 10)  # department, center head, leader, board
NOT_DUE_SECONDS = (600, 600, 600, 600)  # the `start` phase: no level falls due during it


def ladder_policy(seconds: tuple[int, int, int, int] = LADDER_SECONDS) -> Any:
    """The ladder in seconds (policies are data: the real code path)."""
    from workflows.model import Deadline
    from workflows.regulations.complaint.forms import ComplaintPolicy

    department, center, leader, board = seconds
    return ComplaintPolicy(
        department_within=Deadline(seconds=department),
        center_head_within=Deadline(seconds=center),
        leader_within=Deadline(seconds=leader),
        board_within=Deadline(seconds=board),
    )


def complaint_plans(ctx: eb.Ctx, n: int, label: str, policy: Any) -> list[Any]:
    """StartPlans as activities.starts.plan_case builds them (the start is then `launch`)."""
    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    from activities.starts import StartPlan
    from workflows import REGISTRY
    from workflows.model import CaseStart
    from workflows.regulations.complaint.forms import ComplaintInput
    from workflows.search import CASE_STATUS, REGULATION

    entry = REGISTRY["complaint"]
    policy = policy.model_dump(mode="json")
    plans = []
    for i in range(n):
        inp = ComplaintInput(
            customer_name=f"基准业主{i}", address=f"基准小区 {i} 号", phone="13900000000",
            subject="地下车库水管爆裂", category="emergency",
        )  # fmt: skip
        arg = CaseStart(input=inp.model_dump(mode="json"), policy=policy,
                        started_by="bench-starter", calendar=ctx.calendar, number=None)  # fmt: skip
        pairs = [
            SearchAttributePair(REGULATION, entry.code),
            SearchAttributePair(CASE_STATUS, "open"),
        ]
        plans.append(StartPlan(entry=entry, case_id=f"complaint-bench-{ctx.tag}-{label}-{i}",
                               title=entry.case_title(inp), arg=arg,
                               search_attributes=TypedSearchAttributes(pairs)))  # fmt: skip
    return plans


async def complaint_burst(
    ctx: eb.Ctx, n: int, label: str, policy: Any, rate: float = 0.0
) -> tuple[eb.Phase, list[str]]:
    """n emergency complaints, in one burst (rate 0) or `rate` per second; until every level-1
    task is stored."""
    plans = complaint_plans(ctx, n, label, policy)
    ids = [p.case_id for p in plans]
    ph = eb.Phase(f"R5 emergency {label}", n)
    cpu0 = ctx.procs.snapshot()
    t0 = time.monotonic()
    await eb.launch_at(ctx, plans, rate, t0)
    ph.start_call_s = time.monotonic() - t0
    ctx.r1_ids.extend(ids)
    ctx.phase_of.update(dict.fromkeys(ids, ph.name))
    within = max(60.0, n * 0.5) + (n / rate if rate > 0 else 0.0)
    ph.done, t1 = await eb.wait_rows(ctx, LEVEL_DONE, ids, within=within)
    ph.cpu = ctx.procs.delta(cpu0, ctx.procs.snapshot())
    ph.seconds = (t1 - t0) if ph.done >= n else None
    eb.log(ph.line())
    if ph.done < n:
        raise eb.BenchError(f"{ph.name}: {ph.done}/{n} stored; "
                            f"{await eb.diagnose(ctx, ids, LEVEL_DONE)}")  # fmt: skip
    return ph, ids


async def ladder_lag(ctx: eb.Ctx, ids: list[str], within: float) -> dict[str, Any]:
    """Wait until every level of every case breached (its notice stored); lag due -> stored."""
    deadline = time.monotonic() + within
    rows: list[Any] = []
    want = len(ids) * len(LEVELS)
    while time.monotonic() < deadline:
        rows = await ctx.pg.fetch(LAG_SQL, ids)
        if len(rows) >= want and all(r["escalated"] is not None for r in rows):
            break
        await asyncio.sleep(0.5)
    out: dict[str, Any] = {"cases": len(ids), "levels_expected": want}
    every: list[float] = []
    for kind in LEVELS:
        lags = sorted((r["escalated"] - r["due_at"]).total_seconds() * 1000
                      for r in rows if r["kind"] == kind and r["escalated"] is not None)  # fmt: skip
        every += lags
        out[kind] = (
            {"escalated": len(lags), "p50_ms": round(eb.pct(lags, 50), 1),
             "p99_ms": round(eb.pct(lags, 99), 1), "max_ms": round(lags[-1], 1)}
            if lags else {"escalated": 0}
        )  # fmt: skip
    every.sort()
    if every:
        out["all"] = {"escalated": len(every), "p50_ms": round(eb.pct(every, 50), 1),
                      "p99_ms": round(eb.pct(every, 99), 1), "max_ms": round(every[-1], 1)}  # fmt: skip
    return out


def ratio(phase: eb.Phase, minimal: eb.Phase) -> float | None:
    return round(phase.rate / minimal.rate, 3) if (phase.rate and minimal.rate) else None


async def finish_phase(ctx: eb.Ctx, ids: list[str]) -> None:
    """Wait until the worker and the server are idle, terminate a measured phase's open cases
    (their histories stay for the scan; terminating a case while its workflow task runs fails
    that task with FORCE_CLOSE_COMMAND, hence the wait), and wait again."""
    await ctx.procs.settle()
    if ids:
        await eb.terminate(ctx, ids)
        await ctx.procs.settle()


async def ladder_phase(
    ctx: eb.Ctx, n: int, label: str, rate: float
) -> tuple[dict[str, Any], eb.Phase]:
    """n complaints with the ladder in seconds, started at `rate`/s (0: one burst); every level
    escalates; lag due -> escalation stored; CPU seconds from the first start to the last
    escalation."""
    cpu0 = ctx.procs.snapshot()
    ph, ids = await complaint_burst(ctx, n, label, ladder_policy(), rate)
    lag = await ladder_lag(ctx, ids, within=120 + n * 0.5)
    cpu = ctx.procs.delta(cpu0, ctx.procs.snapshot())
    out = {
        "cases": n,
        "started": f"{rate}/s" if rate > 0 else "one burst",
        "lag": lag,
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
    }
    eb.log(f"{label}: lag {lag.get('all')} cpu {out['cpu_s']}")
    await finish_phase(ctx, ids)
    return out, ph


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

    n = args.count
    tag = secrets.token_hex(3)
    db_name = f"zhidu_bench_{tag}"
    db_url = scratch_database_url("zhidu_bench", args.database_url, tag)
    workdir = Path(tempfile.mkdtemp(prefix="zhidu-ladder-bench-"))
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg()}}
    env = engine = pg = None
    ctx: eb.Ctx | None = None
    created_db = False
    try:
        created_db = await ensure_database(db_url)
        await upgrade(db_url)
        pg = await asyncpg.connect(admin_url(db_url, db_name))
        await pg.execute(
            f"CREATE TABLE {eb.BENCH_TABLE} (key text PRIMARY KEY, "
            "stored_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        eb.log(f"database {db_name} ready; starting the Temporal dev server")
        env = await WorkflowEnvironment.start_local(
            namespace="default", data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTES,
            dev_server_existing_path=str(Path(sys.executable).parent / "temporal"), ui=False,
        )  # fmt: skip
        address = env.client.service_client.config.target_host
        engine = make_engine(db_url)
        sf = make_session_factory(engine)
        await eb.bench_people(sf)
        settings = eb.bench_settings(address, db_url, workdir)
        client = await connect(settings)
        procs = eb.Procs()
        procs.find_server()
        ctx = eb.Ctx(args, tag, db_url, pg, client, sf, settings, procs)
        ctx.calendar = await case_calendar(sf)
        await eb.start_worker(ctx, address, workdir, "ladder")
        await eb.minimal_burst(ctx, 20, "warm")
        _, warm = await complaint_burst(ctx, 20, "warm", ladder_policy(NOT_DUE_SECONDS))
        await finish_phase(ctx, warm)
        mini = await eb.minimal_burst(ctx, n, str(n))
        await finish_phase(ctx, [])
        start, ids = await complaint_burst(ctx, n, "start", ladder_policy(NOT_DUE_SECONDS))
        await finish_phase(ctx, ids)
        figures["throughput"] = {
            "cases": n,
            "minimal_wf_per_s": mini.rate,
            "ladder_not_due": {"complaints_per_s": start.rate, "ratio": ratio(start, mini)},
        }
        figures["paced"], _ = await ladder_phase(ctx, n, "paced", args.rate)
        figures["burst"], burst = await ladder_phase(ctx, n, "burst", 0.0)
        figures["throughput"]["ladder_running"] = {
            "complaints_per_s": burst.rate, "ratio": ratio(burst, mini),
        }  # fmt: skip
        eb.log(f"scanning {len(ctx.all_ids)} histories")
        by_phase = await eb.scan_histories(ctx, ctx.all_ids)
        by_phase["all"] = eb.summed(by_phase)
        figures["workflow_task_timeouts"] = {ph: dict(c) for ph, c in sorted(by_phase.items())}
        return figures
    finally:
        if ctx is not None:
            with contextlib.suppress(Exception):
                await eb.terminate(ctx, ctx.r1_ids)
            await eb.stop_worker(ctx)
        if env is not None:
            with contextlib.suppress(Exception):
                await env.shutdown()
        if engine is not None:
            await engine.dispose()
        if pg is not None:
            await pg.close()
        if created_db:
            await drop_database(db_url)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="emergency complaints (1000)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--rate", type=float, default=5.0, help="starts per second of the paced phase (5)"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        figures = asyncio.run(bench(args))
    except eb.BenchError as err:
        print(f"bench failed: {err}", file=sys.stderr)
        return 1
    text = json.dumps(figures, ensure_ascii=False, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
