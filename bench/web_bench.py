"""Page speed of the web UI with 10,000 cases in the database: `python -m bench.web_bench`.

Creates `zhidu_webbench_<random>` (migrated to head) on the PostgreSQL server of DATABASE_URL,
else postgresql://postgres@127.0.0.1:5432, fills it in bulk (COPY) and drops it at the end:

- 10,000 cases: 97 % R1 `revisit`, 3 % `report`; 75 % open, 20 % closed, 5 % done; started
  over the last ~14 months; realistic input (customer, contacts) and the full R1 policy JSON;
- their tasks: the closed steps of past visits and 1-3 open tasks per open case (appointment,
  visit, report, materials for the owner; review for the supervisor; archive for the clerks),
  due from 10 days overdue to 30 days ahead; the measured user `staff` owns 1 case in 30,
  which gives them a few hundred open tasks;
- their timeline (~12 events a case), records (3 a case) and signatures;
- one ten-year case with 1,000 events, ~200 tasks and 34 records (the case page measured, and
  a typical case of ~20 events).

Then it measures the server time of each page through the ASGI app in this process
(httpx.ASGITransport, no network; a signed-in session of `staff`; the pages read only
PostgreSQL, so no Temporal client is given): warm-up requests, then N timed requests per page,
median and p95 in ms, PASS when the p95 is within the budget (100 ms). One more request per page
is profiled: its SQL statements are timed (SQLAlchemy cursor events), and for a page over
budget the slowest statement is shown with EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.local import scratch_database_url

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 100.0
CASES = 10_000
HEAVY = "revisit-C00007"
TYPICAL = "revisit-C00030"  # an open case of `staff`: ~20 events, 8 tasks
CITIES = ["北京", "上海", "广州", "深圳", "成都", "杭州", "南京", "武汉", "西安", "重庆",
          "天津", "苏州", "长沙", "郑州", "青岛", "厦门", "合肥", "昆明", "沈阳", "大连"]  # fmt: skip
TRADES = ["物业管理", "档案馆", "科技园服务中心", "人民医院", "政务服务中心", "国际机场物业部",
          "轨道交通集团", "自来水公司", "电力公司", "高新区管委会", "第一中学", "会展中心",
          "图书馆", "供热公司", "港务集团"]  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
STAFF = [f"s{i:02d}" for i in range(1, 41)]
SUPERVISORS = ["supervisor", "sup02", "sup03", "sup04"]


def log(msg: str) -> None:
    print(f"web_bench: {msg}", file=sys.stderr, flush=True)


# ---- the data ---------------------------------------------------------------------------------


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


OUTCOMES = {
    "plan": ["done"], "appointment": ["agreed", "declined"], "visit": ["done", "unreachable"],
    "report": ["done"], "materials": ["done"],
    "review": ["accept", "commend", "criticise", "fine_request"], "archive": ["done"],
}  # fmt: skip
TITLES = {
    "plan": ("制订《客户回访计划》：{n}", "R1 4.2(1)", "staff"),
    "appointment": ("预约常规电话回访：{n}", "R1 4.2(2)", "staff"),
    "visit": ("常规电话回访：{n}", "R1 4.3(2)2)", "staff"),
    "report": ("编制《客户回访报告》：{n}", "R1 4.4(1)1)", "staff"),
    "materials": ("回访资料提交部门主管审核：{n}", "R1 4.4(1)2)", "staff"),
    "review": ("审阅回访记录与报告：{n}", "R1 4.4(2)", "supervisor"),
    "archive": ("回访资料汇总存档：{n}", "R1 4.5(1)", "clerk"),
}
CYCLE = ["appointment", "visit", "report", "materials", "review", "archive"]


def task_meta(kind: str, due: datetime | None) -> dict[str, Any]:
    sigs: list[dict[str, Any]] = []
    limits: dict[str, Any] = {}
    if kind == "visit":
        sigs = [
            {"party": "actor", "role": "staff", "methods": ["staff_login"], "required": True,
             "outcomes": []},
            {"party": "customer", "role": "customer", "methods": ["drawing", "otp"],
             "required": False, "outcomes": []},
        ]  # fmt: skip
        limits = {"supervisor": (due + timedelta(days=14)).isoformat() if due else None}
    elif kind in ("appointment", "materials"):
        limits = {"supervisor": (due + timedelta(days=7)).isoformat() if due else None}
    elif kind in ("plan", "report", "review", "archive"):
        sigs = [{"party": "actor", "role": TITLES[kind][2], "methods": ["staff_login"],
                 "required": True, "outcomes": []}]  # fmt: skip
    return {"outcomes": OUTCOMES[kind], "signatures": sigs, "extend_limits": limits,
            "pausable_by": [], "extensions": 0}  # fmt: skip


def visit_record(name: str, contact: str, rng: random.Random) -> dict[str, Any]:
    return {
        "customer_name": name, "contact_person": contact, "method": rng.choice(["phone", "onsite"]),
        "product_needs": "希望增加移动端审批功能" if rng.random() < 0.3 else "",
        "usage": "系统运行稳定，日均登录约 " + str(rng.randint(10, 200)) + " 人次。",
        "service_rating": rng.randint(3, 5),
        "questions": ["报表导出后格式错乱，如何处理？"] if rng.random() < 0.4 else [],
        "suggestions": ["希望提供夜班操作培训"] if rng.random() < 0.3 else [],
        "valuable_suggestion": False,
        "problems": [{"text": "打印机驱动偶尔报错", "route": "solved", "note": "电话指导已解决"}]
        if rng.random() < 0.3 else [],
    }  # fmt: skip


class Data:
    """Rows for COPY, per table, in column order."""

    TABLES = {
        "users": ("id", "name", "password_hash", "roles", "department", "active", "created_at"),
        "cases": ("id", "number", "regulation", "title", "customer_id", "status", "provisional",
                  "version", "started_by", "started_at", "updated_at", "closed_at", "input",
                  "policy", "summary", "attention"),
        "tasks": ("id", "case_id", "regulation", "role", "assignee", "title", "clause", "kind",
                  "status", "unit", "due_at", "remind_at", "lapse_at", "paused_at", "provisional",
                  "outcome", "data", "meta", "created_at", "closed_at", "closed_by",
                  "breached_at", "version"),
        "events": ("case_id", "seq", "at", "kind", "actor", "clause", "detail"),
        "records": ("id", "case_id", "regulation", "kind", "title", "customer_id", "category",
                    "data", "sha256", "created_by", "created_at"),
        "signatures": ("id", "case_id", "record_id", "signer", "role", "method", "signed_at",
                       "record_sha256", "evidence_sha256", "seal", "public_key"),
    }  # fmt: skip

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in self.TABLES}

    def add(self, table: str, **values: Any) -> None:
        self.rows[table].append(tuple(values.get(c) for c in self.TABLES[table]))


class CaseRows:
    """The rows of one case: its tasks, records, signatures and timeline."""

    def __init__(self, d: Data, rng: random.Random, case_id: str, regulation: str,
                 cid: str, name: str, owner: str, supervisor: str, klass: str) -> None:  # fmt: skip
        self.d, self.rng, self.case_id, self.regulation = d, rng, case_id, regulation
        self.cid, self.name, self.owner, self.supervisor, self.klass = (
            cid, name, owner, supervisor, klass)  # fmt: skip
        self.events: list[tuple[datetime, str, str | None, str | None, dict[str, Any]]] = []
        self.tasks = 0
        self.records = 0

    def event(self, at: datetime, kind: str, actor: str | None, clause: str | None,
              **detail: Any) -> None:  # fmt: skip
        self.events.append((at, kind, actor, clause, detail))

    def task(self, kind: str, status: str, at: datetime, due: datetime | None) -> str:
        self.tasks += 1
        t, rng = self.tasks, self.rng
        tid = f"{self.case_id}/t{t}"
        title_t, clause, role = TITLES[kind]
        title = title_t.format(n=self.name)
        assignee = {"staff": self.owner, "supervisor": self.supervisor}.get(role)
        closed = status != "open"
        self.d.add("tasks", id=tid, case_id=self.case_id, regulation=self.regulation, role=role,
                   assignee=assignee, title=title, clause=clause, kind=kind, status=status,
                   unit=f"{self.case_id}/u{t // 6 + 1}", due_at=due,
                   remind_at=due - timedelta(days=1) if due else None,
                   lapse_at=due + timedelta(days=30) if due else None, paused_at=None,
                   provisional=False, outcome=OUTCOMES[kind][0] if closed else None,
                   data=_j({"visit_kind": "routine_phone"} if kind in ("appointment", "visit")
                           else {}),
                   meta=_j(task_meta(kind, due)), created_at=at,
                   closed_at=at + timedelta(hours=rng.randint(1, 60)) if closed else None,
                   closed_by=(assignee or "clerk") if closed else None, breached_at=None,
                   version=3)  # fmt: skip
        self.event(at, "task_opened", None, clause, task=tid, title=title,
                   due_at=due.isoformat() if due else None)  # fmt: skip
        if closed:
            self.event(at + timedelta(hours=2), "task_completed", assignee or "clerk", clause,
                       task=tid, outcome=OUTCOMES[kind][0])  # fmt: skip
        return tid

    def record(self, kind: str, title: str, at: datetime, data: dict[str, Any],
               signers: list[tuple[str, str, str]]) -> None:  # fmt: skip
        self.records += 1
        rid = f"{self.case_id}/{kind}/{self.records}"
        sha = secrets.token_hex(32)
        self.d.add("records", id=rid, case_id=self.case_id, regulation=self.regulation,
                   kind=kind, title=title, customer_id=self.cid, category=self.klass,
                   data=_j(data), sha256=sha, created_by=self.owner, created_at=at)  # fmt: skip
        self.event(at, "record", self.owner, None, record=rid, title=title)
        for n, (signer, role, method) in enumerate(signers, start=1):
            self.d.add("signatures", id=f"{rid}/sig/{n}", case_id=self.case_id, record_id=rid,
                       signer=signer, role=role, method=method, signed_at=at,
                       record_sha256=sha,
                       evidence_sha256=secrets.token_hex(32) if method != "staff_login" else None,
                       seal=secrets.token_urlsafe(64), public_key=secrets.token_urlsafe(32))  # fmt: skip
            self.event(at, "signed", signer, None, record=rid, method=method)

    def timeline(self, limit: int | None = None) -> None:
        events = sorted(self.events, key=lambda e: e[0])[:limit]
        for seq, (at, kind, actor, clause, detail) in enumerate(events, start=1):
            self.d.add("events", case_id=self.case_id, seq=seq, at=at, kind=kind, actor=actor,
                       clause=clause, detail=_j(detail))  # fmt: skip


def build(now: datetime, seed: int = 20261128) -> Data:
    from workflows.regulations.revisit.forms import RevisitPolicy

    rng = random.Random(seed)
    policy = _j(RevisitPolicy().model_dump(mode="json"))
    d = Data()
    for uid in [*STAFF, *SUPERVISORS[1:], "clerk2"]:
        role = "staff" if uid[:2] in ("s0", "s1", "s2", "s3", "s4") else (
            "supervisor" if uid.startswith("sup") else "clerk")  # fmt: skip
        d.add("users", id=uid, name=f"{rng.choice(SURNAMES)}{uid}", password_hash="x",
              roles=[role], department="客户服务部", active=True, created_at=now)  # fmt: skip
    for i in range(1, CASES + 1):
        cid = f"C{i:05d}"
        regulation = "report" if i % 33 == 5 else "revisit"
        case_id = f"{regulation}-{cid}"
        heavy = case_id == HEAVY
        name = f"{CITIES[i % len(CITIES)]}{TRADES[(i * 7) % len(TRADES)]}"
        if i % 4 == 1:
            name += "有限公司"
        r = rng.random()
        status = "open" if (r < 0.75 or heavy) else ("closed" if r < 0.95 else "done")
        started = now - timedelta(minutes=i * 61 + rng.randint(0, 50))
        if heavy:
            started = now - timedelta(days=10 * 365)
        owner = "staff" if i % 30 == 0 else STAFF[i % len(STAFF)]
        supervisor = SUPERVISORS[i % len(SUPERVISORS)]
        contact = f"{rng.choice(SURNAMES)}工"
        klass = rng.choice(["regular", "regular", "large", "key"])
        inp = {"customer_id": cid, "customer_name": name, "customer_class": klass,
               "go_live": (started.date() - timedelta(days=rng.randint(0, 30))).isoformat(),
               "owner": owner, "supervisor": supervisor, "department": "客户服务部",
               "contacts": [{"name": contact, "title": "设备负责人",
                             "phone": f"138{rng.randint(10**7, 10**8 - 1)}", "email": None}]}  # fmt: skip
        if regulation == "revisit":
            title = f"客户回访：{name}（{cid}）"
        else:
            title = f"客户回访月度统计 {cid}"
            inp = {"title": title, "regulation": "revisit", "period": "month"}
        closed_at = started + timedelta(days=rng.randint(30, 300)) if status != "open" else None
        d.add("cases", id=case_id, number=None, regulation=regulation, title=title,
              customer_id=cid, status=status, provisional=False, version=20, started_by=owner,
              started_at=started, updated_at=closed_at or now, closed_at=closed_at,
              input=_j(inp), policy=policy if regulation == "revisit" else "{}",
              summary=_j({"customer_id": cid, "visits_done": rng.randint(0, 4)}), attention=None)  # fmt: skip
        c = CaseRows(d, rng, case_id, regulation, cid, name, owner, supervisor, klass)
        c.event(started, "case_started", owner, None, title=title)
        if regulation != "revisit":
            c.record("report", "客户回访月度统计", started, {"period": "month", "cases": 120}, [])
            c.timeline()
            continue
        c.event(started, "plan_started", owner, "R1 4.1", customer_class=klass)
        c.task("plan", "done", started, started + timedelta(days=3))
        c.record("revisit_plan", "《客户回访计划》", started + timedelta(hours=3),
                 {"purposes": ["product_use", "relationship"], "methods": ["phone"],
                  "content": "了解产品使用情况，维护客户关系。", "customer_name": name},
                 [(owner, "staff", "staff_login")])  # fmt: skip
        when = started + timedelta(days=30)
        for _ in range(33 if heavy else 1):
            for kind in CYCLE:
                c.task(kind, "done", when, when + timedelta(days=3))
                when += timedelta(hours=20)
            signers = [(owner, "staff", "staff_login")]
            if rng.random() < 0.5:
                signers.append((contact, "customer", "drawing"))
            c.record("revisit_record", "《客户回访记录表》", when,
                     visit_record(name, contact, rng), signers)  # fmt: skip
            if heavy:
                for k in range(17):  # reminders of a long case
                    c.event(when, "reminder", None, "R1 4.3", task=f"{case_id}/t{c.tasks}", n=k)
                when += timedelta(days=100)
            else:
                c.record("revisit_report", "《客户回访报告》", when + timedelta(days=1),
                         {"summary": "客户整体满意。", "evaluation": "良好"},
                         [(owner, "staff", "staff_login")])  # fmt: skip
        if status == "open":
            for _ in range(3 if heavy else 1):
                kind = rng.choice(["appointment", "visit", "visit", "report", "materials",
                                   "review", "archive"])  # fmt: skip
                due = now + timedelta(minutes=rng.randint(-10 * 1440, 30 * 1440))
                c.task(kind, "open", now - timedelta(days=rng.randint(0, 5)), due)
                if rng.random() < 0.5:
                    kind = rng.choice(["appointment", "visit", "review", "archive"])
                    due = now + timedelta(minutes=rng.randint(-5 * 1440, 30 * 1440))
                    c.task(kind, "open", now - timedelta(days=rng.randint(0, 5)), due)
        if heavy:
            while len(c.events) < 1000:
                c.event(now - timedelta(days=1), "message_sent", None, None, to=contact,
                        n=len(c.events))  # fmt: skip
        c.timeline(1000 if heavy else None)
    return d


async def fill(url: str, data: Data) -> dict[str, int]:
    import asyncpg

    from starter.devstack import admin_url

    conn = await asyncpg.connect(admin_url(url, _dbname(url)))
    try:
        for table, cols in Data.TABLES.items():  # jsonb values are JSON text
            await conn.copy_records_to_table(table, records=data.rows[table], columns=list(cols))
        await conn.execute("ANALYZE")
        counts = {}
        for table in Data.TABLES:
            counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        return counts
    finally:
        await conn.close()


def _dbname(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).database or ""


# ---- the measurement ----------------------------------------------------------------------------


class SqlTimer:
    """Times every statement of the engine while `on` (SQLAlchemy cursor events)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.on = False
        self.log: list[tuple[float, str, Any]] = []
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:  # fmt: skip
            conn.info["zhidu_t0"] = time.perf_counter()

        @event.listens_for(sync, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:  # fmt: skip
            if self.on:
                ms = (time.perf_counter() - conn.info.pop("zhidu_t0", time.perf_counter())) * 1000
                self.log.append((ms, statement, params))


def elide(text: str, head: int = 420, tail: int = 260) -> str:
    return text if len(text) <= head + tail else f"{text[:head]} … {text[-tail:]}"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


async def measure(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    import httpx
    from sqlalchemy import text

    from settings import Settings
    from starter import sessions, users
    from starter.app import create_app, settle_memory
    from starter.auth import SESSION_COOKIE
    from store.db import make_engine, make_session_factory

    workdir = Path(tempfile.mkdtemp(prefix="zhidu-webbench-"))
    engine = make_engine(url)
    sf = make_session_factory(engine)
    timer = SqlTimer(engine)
    try:
        settings = Settings.model_validate(
            {"database_url": url, "data_dir": workdir, "session_secret": secrets.token_urlsafe(32),
             "signing_key_path": workdir / "signing_key.pem", "notify_channels": "console"}
        )  # fmt: skip
        await users.ensure_demo_users(sf)
        token = await sessions.create_session(sf, settings, "staff")
        # The pages read PostgreSQL only: no Temporal client (ASGITransport runs no lifespan,
        # so what the lifespan does at the end of start-up is done here: settle_memory).
        app = create_app(settings, client=None, session_factory=sf)
        settle_memory()
        async with sf() as s:
            record_id = await s.scalar(
                text(
                    "SELECT r.id FROM records r JOIN signatures g ON g.record_id = r.id "
                    "WHERE r.case_id = :c AND r.kind = 'revisit_record' ORDER BY r.id LIMIT 1"
                ),
                {"c": HEAVY},
            )
            my_open = await s.scalar(
                text("SELECT count(*) FROM tasks WHERE status = 'open' AND role = 'staff' "
                     "AND assignee = 'staff'")
            )  # fmt: skip
            heavy_events = await s.scalar(
                text("SELECT count(*) FROM events WHERE case_id = :c"), {"c": HEAVY}
            )
        log(f"user staff has {my_open} open tasks; {HEAVY} has {heavy_events} events")
        pages = [
            ("/work", "/work"),
            ("/cases", "/cases"),
            ("/cases filtered", "/cases?status=open&role=clerk&overdue=1"),
            ("/cases search", "/cases?customer=%E7%89%A9%E4%B8%9A"),  # 物业
            ("/cases page 50", "/cases?page=50"),
            ("/cases/{id}", f"/cases/{HEAVY}"),
            ("/cases/{typical}", f"/cases/{TYPICAL}"),
            ("/records/{id}", f"/records/{record_id}"),
        ]
        results = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver",
            cookies={SESSION_COOKIE: token},
        ) as http:  # fmt: skip
            for label, path in pages:
                for _ in range(args.warmup):
                    r = await http.get(path)
                    if r.status_code != 200:
                        raise RuntimeError(f"{path}: HTTP {r.status_code}: {r.text[:300]}")
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    r = await http.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200, (path, r.status_code)
                timer.log.clear()
                timer.on = True
                t0 = time.perf_counter()
                r = await http.get(path)
                total = (time.perf_counter() - t0) * 1000
                timer.on = False
                sql = sorted(timer.log, key=lambda x: -x[0])
                row = {
                    "page": label,
                    "path": path,
                    "median": statistics.median(times),
                    "p95": pct(times, 95),
                    "bytes": len(r.content),
                    "profiled_ms": total,
                    "sql_ms": sum(x[0] for x in sql),
                    "statements": len(sql),
                    "slowest": sql[0] if sql else None,
                }
                row["ok"] = row["p95"] <= args.budget
                results.append(row)
                log(f"{label}: median {row['median']:.1f} ms, p95 {row['p95']:.1f} ms")
            for row in results:
                if row["ok"] or row["slowest"] is None:
                    continue
                if row["sql_ms"] < row["profiled_ms"] / 2:  # the time is spent in Python
                    row["profile"] = await profile(http, row["path"])
                ms, statement, params = row["slowest"]
                async with engine.connect() as conn:
                    plan = await conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
                    )
                    row["explain"] = [p[0] for p in plan.all()]
        return results
    finally:
        await engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


async def profile(http: Any, path: str, top: int = 8) -> list[str]:
    """Where one request's Python time goes (cProfile): the project's and Jinja's functions by
    cumulative time, then the costliest functions by own time."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    await http.get(path)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    root = str(ROOT)

    def where(key: tuple[str, int, str]) -> str:
        file, line, func = key
        short = file.replace(root + "/", "").split("site-packages/")[-1]
        return f"{func} ({short}:{line})"

    ours = [(v[3], v[1], k) for k, v in stats.items()
            if ("/starter/" in k[0] or "/store/" in k[0] or k[0].startswith("<template"))
            and k[2] not in ("<module>",)]  # fmt: skip
    own = sorted(((v[2], v[1], k) for k, v in stats.items()), reverse=True)[:top]
    lines = ["cumulative, project code and templates:"]
    lines += [f"  {ms * 1000:7.1f} ms {n:>7} calls  {where(k)}"
              for ms, n, k in sorted(ours, reverse=True)[:top]]  # fmt: skip
    lines.append("own time, any function:")
    lines += [f"  {ms * 1000:7.1f} ms {n:>7} calls  {where(k)}" for ms, n, k in own]
    return lines


def report(results: list[dict[str, Any]], budget: float, counts: dict[str, int]) -> str:
    lines = [
        "rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()),
        f"{'page':<17} {'median ms':>9} {'p95 ms':>8} {'SQL ms':>7} {'stmts':>5} {'KB':>5}  "
        f"budget {budget:.0f} ms (p95)",
    ]
    for r in results:
        lines.append(
            f"{r['page']:<17} {r['median']:>9.1f} {r['p95']:>8.1f} {r['sql_ms']:>7.1f} "
            f"{r['statements']:>5} {r['bytes'] / 1024:>5.0f}  {'PASS' if r['ok'] else 'FAIL'}"
        )
    for r in results:
        if r["ok"] or not r.get("slowest"):
            continue
        ms, statement, _ = r["slowest"]
        lines += [
            "",
            f"{r['page']} ({r['path']}): {r['profiled_ms']:.0f} ms in all, "
            f"{r['sql_ms']:.0f} ms in {r['statements']} statements; the slowest "
            f"({ms:.1f} ms):",
            "  " + elide(" ".join(statement.split())),
            *("  | " + line for line in r.get("explain", [])),
        ]
        if r.get("profile"):
            lines += [f"{r['page']}: the SQL is {r['sql_ms']:.0f} of {r['profiled_ms']:.0f} ms; "
                      "one request under cProfile (times inflated by the profiler):",
                      *("  " + line for line in r["profile"])]  # fmt: skip
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from starter.devstack import drop_database, ensure_database
    from store.migrate import upgrade

    url = scratch_database_url("zhidu_webbench", args.database_url)
    created = False
    try:
        created = await ensure_database(url)
        await upgrade(url)
        now = datetime.now(UTC)
        t0 = time.monotonic()
        data = build(now)
        log(f"built {sum(len(v) for v in data.rows.values()):,} rows in "
            f"{time.monotonic() - t0:.1f} s; loading")  # fmt: skip
        t0 = time.monotonic()
        counts = await fill(url, data)
        log(f"loaded and analysed in {time.monotonic() - t0:.1f} s: {counts}")
        del data
        results = await measure(url, args)
        print(report(results, args.budget, counts))
        return 0 if all(r["ok"] for r in results) else 1
    finally:
        if created:
            await drop_database(url)
            log(f"dropped database {make_url(url).database}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--database-url", help="a PostgreSQL server (default DATABASE_URL, "
                        "else postgresql://postgres@127.0.0.1:5432)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget", type=float, default=BUDGET_MS, help="ms, against the p95")
    parser.add_argument("--no-gc", action="store_true",
                        help="measure with Python's garbage collector off (tells its pauses "
                        "from the pages' own time)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.no_gc:
        gc.disable()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
