"""Fault drill: R1 cases with a policy in seconds, worked through the HTTP API while the worker is
killed three times, the Temporal dev server is restarted, PostgreSQL is stopped for 30 s, then
refuses connections for 20 s (ALLOW_CONNECTIONS false) and the Temporal server is frozen
(SIGSTOP) for 20 s; then every step the workflows sent to `zhidu.record_step` is compared with
the database, the cases are checked for being stuck and every run of every case is replayed.

Run from the project root:

    .venv/bin/python -m bench.fault_drill            # 30 cases, ~4-5 min
    .venv/bin/python -m bench.fault_drill --quick    # 10 cases, shorter pauses, PostgreSQL down 10 s
    .venv/bin/python -m bench.fault_drill --keep     # keep the temporary directory (logs, data)

Everything runs in a temporary directory: an embedded PostgreSQL of its own (never a shared
server: the drill stops it), a Temporal dev server whose history is a sqlite file there (so a
restart keeps every case), `zhidu worker` and `zhidu web` as subprocesses with their logs there.
Progress goes to stderr, the summary block to stdout. Exit status 0 only when nothing was lost,
duplicated, stuck or failed to replay and no request was answered with a 5xx other than 503
(a service that does not answer); 1 otherwise; 2 when the drill itself could not run.

Nobody sends a `state` query to a case here: a query answered at a killed worker's sticky queue
is the Temporal core defect of tests/test_sdk_stale_query.py. Cases are read from the API and
the database only. See bench/README.md ("fault_drill.py") for what is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from bench.local import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
USERS = ("staff", "supervisor", "clerk", "division", "president", "rd", "finance")
USER_WEIGHTS = (6, 3, 2, 1, 1, 1, 1)
# A 1x1 PNG: what a customer's signature drawn on the screen looks like to the API.
DRAWING = "data:image/png;base64," + base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode("ascii")


@dataclass(frozen=True)
class Sizes:
    cases: int
    warmup: float  # traffic before the first fault
    pause: tuple[float, float]  # between faults
    worker_down: tuple[float, float]  # a killed worker stays dead this long
    temporal_down: float  # seconds between stopping and starting the dev server
    pg_down: float  # PostgreSQL outage
    refusing: float  # the database refuses connections (ALLOW_CONNECTIONS false) this long
    frozen: float  # the Temporal server is stopped (SIGSTOP) this long
    settle: float  # no traffic, everything running, before the checks
    agents: int  # concurrent API clients


FULL = Sizes(30, 20, (10, 20), (3, 6), 5, 30, 20, 20, 60, 6)
QUICK = Sizes(10, 10, (5, 8), (2, 4), 3, 10, 8, 8, 40, 4)
KILLS = 3
# A case is stuck when, after settling, its newest run has a pending activity past this attempt,
# or an open task that should have lapsed this long ago is still open in the database.
MAX_ATTEMPT = 3
LAPSE_GRACE = timedelta(seconds=20)
# Event details that name what they are about: the same one twice is a duplicate. Others (e.g.
# "visit_missed" {kind, status}) may legitimately repeat within one workflow task.
IDENTIFYING = {"task_id", "unit", "record_id", "signature_id", "approval", "run"}
TASK_IN_KEY = re.compile(r"/(t\d+)(?:/|:|$)")


def seconds(n: float) -> dict[str, float]:
    return {"seconds": n}


# Like tests/test_crash_replay.py's POLICY; the grid a little slower (30 cases, not 8, share the
# same go-live anchor, so their visits open together).
POLICY: dict[str, Any] = {
    "revisit": {
        "first_phone_after": seconds(6),
        "routine_phone_every": seconds(60),
        "onsite_every": {"regular": None, "large": seconds(90), "key": seconds(45)},
        "plan_due": seconds(8),
        "appointment_lead": seconds(3),
        "late_appointment_within": seconds(4),
        "visit_window": seconds(6),
        "report_due": seconds(6),
        "materials_due": seconds(7),
        "review_due": seconds(6),
        "archive_due": seconds(6),
        "approval_due": seconds(6),
        "rd_feedback_due": seconds(6),
        "supervisory_revisit_due": seconds(8),
        "reminder_before": seconds(2),
        "lapse_after": seconds(5),
        "continue_as_new_after_events": 150,
    }
}

T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def log_tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---- the stack ----------------------------------------------------------------------------------


class Stack:
    """The processes the drill owns: embedded PostgreSQL, Temporal dev server, worker, web app.
    `close()` stops whatever is still running (synchronous, safe to call twice)."""

    def __init__(self, tmp: Path) -> None:
        from settings import Settings

        self.tmp = tmp
        self.temporal_port, self.http_port, self.web_port = free_port(), free_port(), free_port()
        self.ui_port = free_port()
        self.assertion_key = secrets.token_urlsafe(32)
        self.session_secret = secrets.token_urlsafe(32)
        self.policy_file = tmp / "policy.json"
        self.policy_file.write_text(json.dumps(POLICY, indent=1), encoding="utf-8")
        self.database_url = ""
        self.settings = Settings.model_validate(
            {
                "temporal_address": f"127.0.0.1:{self.temporal_port}",
                "temporal_namespace": "default",
                "temporal_task_queue": "zhidu",
                "temporal_port": self.temporal_port,
                "temporal_ui_port": self.ui_port,
                "data_dir": tmp,
                "assertion_key": self.assertion_key,
                "session_secret": self.session_secret,
                "policy_file": self.policy_file,
                "signing_key_path": tmp / "signing_key.pem",
            }
        )
        self.temporal: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.web: subprocess.Popen[bytes] | None = None
        self.pg_running = False
        # Exits nobody asked for (a crash of the worker or the web app): (name, status, log tail)
        self.unexpected_exits: list[tuple[str, int | None, str]] = []

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # -- PostgreSQL

    def start_pg(self) -> str:
        from starter.devstack import embedded_postgres_server, server_database_url

        server = embedded_postgres_server(self.tmp)
        self.pg_running = True
        return server_database_url(server, "zhidu")

    def stop_pg(self) -> None:
        """Stop the embedded server of tmp/pg (this process's handle, else pg_ctl, else kill)."""
        import warnings

        from starter.devstack import stop_embedded_postgres

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import PostmasterInfo
        with contextlib.suppress(Exception):
            stop_embedded_postgres(self.tmp)
        pgdata = self.tmp.resolve() / "pg"
        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.is_dir() else None
        if info is not None and info.is_running():
            with contextlib.suppress(Exception):
                from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

                user = "embedded_postgres" if os.geteuid() == 0 else None
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
            info = PostmasterInfo.read_from_pgdata(pgdata)
            if info is not None and info.is_running() and info.process is not None:
                with contextlib.suppress(Exception):
                    info.process.kill()
        self.pg_running = False

    # -- Temporal

    def temporal_command(self) -> list[str]:
        from starter.devstack import temporal_command

        return temporal_command(self.settings, self.tmp) + [
            "--headless",
            "--http-port",
            str(self.http_port),
        ]

    async def start_temporal(self) -> None:
        from starter.devstack import port_in_use, wait_for_temporal

        for _ in range(100):  # the previous server's port must be free again
            if not port_in_use("127.0.0.1", self.temporal_port):
                break
            await asyncio.sleep(0.1)
        log_path = self.tmp / "temporal.log"
        self.temporal = self._popen_temporal(log_path)
        await wait_for_temporal(self.settings, self.temporal, log_path)

    def _popen_temporal(self, log_path: Path) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log_file:
            return subprocess.Popen(
                self.temporal_command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop_temporal(self) -> None:
        from starter.devstack import stop_process

        if self.temporal is not None:
            stop_process(self.temporal)

    # -- worker and web app

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ZHIDU_", "TEMPORAL_", "SMTP_")) and k != "DATABASE_URL"
        }
        env.update(
            DATABASE_URL=self.database_url,
            TEMPORAL_ADDRESS=self.settings.temporal_address,
            TEMPORAL_NAMESPACE="default",
            TEMPORAL_TASK_QUEUE="zhidu",
            TEMPORAL_UI_URL=f"http://127.0.0.1:{self.ui_port}",
            ZHIDU_DATA_DIR=str(self.tmp),
            ZHIDU_ASSERTION_KEY=self.assertion_key,
            ZHIDU_SESSION_SECRET=self.session_secret,
            ZHIDU_POLICY_FILE=str(self.policy_file),
            ZHIDU_SIGNING_KEY=str(self.tmp / "signing_key.pem"),
            ZHIDU_NOTIFY_CHANNELS="console",
            ZHIDU_WEB_HOST="127.0.0.1",
            ZHIDU_WEB_PORT=str(self.web_port),
            PYTHONUNBUFFERED="1",
        )
        return env

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        args = ["worker"] if name == "worker" else ["web", "--host", "127.0.0.1", "--port"]
        if name == "web":
            args.append(str(self.web_port))
        with open(self.tmp / f"{name}.log", "ab") as log_file:
            log_file.write(f"\n===== {datetime.now(UTC).isoformat()} start {name}\n".encode())
            log_file.flush()
            proc = subprocess.Popen(
                [str(VENV_BIN / "zhidu"), *args],
                cwd=PROJECT_ROOT,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if name == "worker":
            self.worker = proc
        else:
            self.web = proc
        return proc

    def check_children(self) -> None:
        """Record and restart a worker or web app that exited on its own."""
        for name in ("worker", "web"):
            proc = getattr(self, name)
            if proc is not None and proc.poll() is not None:
                tail = log_tail(self.tmp / f"{name}.log")
                self.unexpected_exits.append((name, proc.returncode, tail))
                say(f"!! {name} exited on its own (status {proc.returncode}); restarting it")
                self.spawn(name)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()

    def stop_worker(self) -> None:
        self._stop(self.worker, 30.0)

    def close(self) -> None:
        for proc in (self.web, self.worker):
            with contextlib.suppress(Exception):
                self._stop(proc)
        with contextlib.suppress(Exception):
            self.stop_temporal()
        with contextlib.suppress(Exception):
            self.stop_pg()


# ---- traffic through the API --------------------------------------------------------------------


@dataclass
class Traffic:
    stack: Stack
    seed: int
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    status: Counter[str] = field(default_factory=Counter)
    by_route: Counter[tuple[str, str]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # first 5xx answers (not 503)
    error_kinds: Counter[str] = field(default_factory=Counter)
    inflight: set[str] = field(default_factory=set)
    actions: Counter[str] = field(default_factory=Counter)  # accepted actions by kind
    double_submits: int = 0
    double_accepted: list[str] = field(default_factory=list)  # both of a double submit took
    clients: dict[str, Any] = field(default_factory=dict)

    async def open(self, tokens: dict[str, str]) -> None:
        """Every user signs in through POST /api/login (password, session cookie); the traffic
        then authenticates with the user's bearer token, as an integration would (a cookie
        session would need the CSRF double-submit token of the web pages on every POST)."""
        import httpx

        timeout = httpx.Timeout(45.0, connect=5.0)
        for user in USERS:
            self.clients[user] = httpx.AsyncClient(base_url=self.stack.web_url, timeout=timeout)
            for _attempt in range(30):
                if await self.login(user):
                    break
                await asyncio.sleep(1)
            else:
                raise RuntimeError(f"could not sign in as {user}")
            status, me = await self.call(user, "GET", "/api/me", "me")
            if status != 200 or me.get("id") != user:
                raise RuntimeError(f"signed in as {user}, but GET /api/me says {status} {me}")
            await self.clients[user].aclose()
            self.clients[user] = httpx.AsyncClient(
                base_url=self.stack.web_url,
                timeout=timeout,
                headers={"Authorization": f"Bearer {tokens[user]}"},
            )

    async def close(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.aclose()

    async def login(self, user: str) -> bool:
        status, _ = await self.call(
            user, "POST", "/api/login", "login", {"login": user, "password": f"{user}-demo"}
        )
        return status == 200

    async def call(
        self, user: str, method: str, path: str, route: str, body: Any = None
    ) -> tuple[int | str, Any]:
        import httpx

        client = self.clients[user]
        try:
            resp = await client.request(method, path, json=body)
        except httpx.TimeoutException:
            status: int | str = "timeout"
            payload: Any = None
        except httpx.TransportError as exc:
            status, payload = "conn-error", str(exc)
        else:
            status = resp.status_code
            try:
                payload = resp.json()
            except ValueError:
                payload = resp.text
        self.status[str(status)] += 1
        self.by_route[(route, str(status))] += 1
        if status == 403:  # the drill acts with authority: a refusal is worth a look
            detail = payload.get("detail") if isinstance(payload, dict) else payload
            say(f"403 {method} {path}: {str(detail)[:240]}")
        if isinstance(status, int) and status >= 500 and status != 503:
            detail = payload.get("detail") if isinstance(payload, dict) else payload
            key = f"{status} {route}: {str(detail)[:60]}"
            if key not in self.error_kinds and len(self.server_errors) < 12:
                self.server_errors.append(f"{status} {method} {path}: {str(detail)[:240]}")
            self.error_kinds[key] += 1
        return status, payload

    # -- what each task needs

    def completion(
        self, task: dict[str, Any], rng: random.Random
    ) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        kind, tid = task["kind"], task["id"]
        outcomes = (task.get("meta") or {}).get("outcomes") or ["done"]
        r = rng.random()
        if kind == "plan":
            return "done", {"purposes": ["product_use"], "methods": ["phone"],
                            "content": f"回访计划 {tid}"}, []  # fmt: skip
        if kind == "appointment":
            if r < 0.1:
                return "declined", {"note": f"客户婉拒 {tid}"}, []
            at = datetime.now(UTC) + timedelta(seconds=rng.uniform(1, 4))
            return "agreed", {"appointment_at": at.isoformat(), "place": "客户现场"}, []
        if kind in ("visit", "supervisory_visit"):
            if r < 0.08:
                return "unreachable", {"note": f"联系不上 {tid}"}, []
            onsite = bool((task.get("data") or {}).get("onsite"))
            data: dict[str, Any] = {
                "contact_person": "王工",
                "method": "onsite" if onsite else "phone",
                "usage": f"设备使用正常 {tid}",
                "service_rating": rng.randint(3, 5),
                "questions": [f"如何导出报表？({tid})"],
            }
            if kind == "visit":
                if r < 0.14:
                    data["problems"] = [{"text": f"偶发卡顿 {tid}", "route": "rd_feedback"}]
                elif r < 0.18:
                    data["problems"] = [{"text": f"需要立项 {tid}", "route": "president_office"}]
                elif r < 0.21 and not onsite:
                    data["problems"] = [{"text": f"电话无法解决 {tid}", "route": "onsite"}]
                elif r < 0.24 and not onsite:
                    data["suggestions"] = [f"建议增加批量导入 {tid}"]
                    data["valuable_suggestion"] = True
            sigs = (
                [{"signer_name": "王工", "method": "drawing", "evidence": DRAWING}]
                if onsite
                else []
            )
            return "done", data, sigs
        if kind == "report":
            return "done", {"summary": f"回访报告 {tid}", "evaluation": "良好"}, []
        if kind == "materials":
            data = {"note": f"资料齐全 {tid}"}
            if r < 0.15:
                data["expenses"] = [{"item": "交通费", "amount_yuan": "120", "receipt_no": tid}]
            return "done", data, []
        if kind == "review":
            data = {"guidance": f"继续保持 {tid}"}
            if r < 0.08:
                return "commend", data, []
            if r < 0.16:
                return "criticise", {"guidance": f"记录不够详细 {tid}"}, []
            if r < 0.20:
                return "fine_request", {"guidance": f"记录失实 {tid}",
                                        "severity": "falsification"}, []  # fmt: skip
            if r < 0.25:
                data.update(charge_to="staff", charge_yuan="200")
            return "accept", data, []
        if kind == "archive":
            return "done", {"complete": r > 0.1, "note": f"已归档 {tid}"}, []
        if "approve" in outcomes:
            if "reject" in outcomes and r < 0.1:
                return "reject", {"reason": f"票据不全 {tid}"}, []
            return "approve", {"note": f"同意 {tid}"}, []
        return outcomes[0], {"note": f"已处理 {tid}"}, []

    async def complete(self, user: str, task: dict[str, Any], rng: random.Random) -> None:
        outcome, data, sigs = self.completion(task, rng)
        case_id, short = task["case_id"], task["id"].rsplit("/", 1)[-1]
        body = {"outcome": outcome, "data": data, "signatures": sigs}
        path = f"/api/cases/{case_id}/tasks/{short}/complete"
        if rng.random() < 0.04:  # the same completion twice at once: one must be refused
            self.double_submits += 1
            results = list(
                await asyncio.gather(
                    self.call(user, "POST", path, "complete", body),
                    self.call(user, "POST", path, "complete", body),
                )
            )
            if all(status == 200 for status, _ in results):
                self.double_accepted.append(task["id"])
        else:
            results = [await self.call(user, "POST", path, "complete", body)]
        if any(status == 200 for status, _ in results):
            self.actions[f"complete {task['kind']}"] += 1

    async def extend(self, task: dict[str, Any], rng: random.Random) -> None:
        due = datetime.fromisoformat(task["due_at"]) if task.get("due_at") else datetime.now(UTC)
        new_due = max(due, datetime.now(UTC)) + timedelta(seconds=rng.uniform(3, 8))
        case_id, short = task["case_id"], task["id"].rsplit("/", 1)[-1]
        status, _ = await self.call(
            "supervisor", "POST", f"/api/cases/{case_id}/tasks/{short}/extend", "extend",
            {"new_due": new_due.isoformat(), "reason": f"客户出差，延期回访（{short}）"},
        )  # fmt: skip
        if status == 200:
            self.actions[f"extend {task['kind']}"] += 1

    async def complaint(self, case_id: str, n: int) -> None:
        status, _ = await self.call(
            "staff", "POST", f"/api/cases/{case_id}/actions/complaint_handled", "action",
            {"complaint_ref": f"TS-{n}", "summary": "客户投诉已处理完毕",
             "regional_manager": "staff", "department_manager": "supervisor"},
        )  # fmt: skip
        if status == 200:
            self.actions["complaint_handled"] += 1

    async def agent(self, n: int, case_ids: list[str]) -> None:
        rng = random.Random(self.seed * 1000 + n)
        while not self.stop.is_set():
            try:
                await self.one(rng, case_ids)
            except Exception as exc:  # the drill's own bug: keep going, but say so
                say(f"agent {n}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(1)
            await asyncio.sleep(rng.uniform(0.1, 0.4))

    async def one(self, rng: random.Random, case_ids: list[str]) -> None:
        if rng.random() < 0.015:
            await self.complaint(rng.choice(case_ids), rng.randrange(10_000))
            return
        user = rng.choices(USERS, USER_WEIGHTS)[0]
        status, tasks = await self.call(user, "GET", "/api/tasks/mine", "tasks/mine")
        if status != 200 or not isinstance(tasks, list):
            await asyncio.sleep(1)
            return
        choices = [t for t in tasks if t["id"] not in self.inflight]
        if not choices:
            await asyncio.sleep(0.5)
            return
        task = rng.choice(choices)
        self.inflight.add(task["id"])
        try:
            limits = (task.get("meta") or {}).get("extend_limits") or {}
            if "supervisor" in limits and rng.random() < 0.12:
                await self.extend(task, rng)
            else:
                await self.complete(user, task, rng)
        finally:
            self.inflight.discard(task["id"])


# ---- checks -------------------------------------------------------------------------------------


@dataclass
class Findings:
    cases: int = 0
    runs: int = 0
    steps: int = 0
    steps_completed: int = 0
    events_compared: int = 0
    rows_compared: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    stuck: dict[str, list[str]] = field(default_factory=dict)
    replay_failures: list[str] = field(default_factory=list)
    wft_failed: Counter[str] = field(default_factory=Counter)
    wft_timed_out: int = 0
    activity_failures: int = 0
    attention: list[str] = field(default_factory=list)


def last_wft_outcome(events: list[Any]) -> int | None:
    from temporalio.api.enums.v1 import EventType

    ends = (
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    )
    for ev in reversed(events):
        if ev.event_type in ends:
            return int(ev.event_type)
    return None


def wft_failure(events: list[Any]) -> str:
    """The last failed workflow task's message and the innermost frame of its cause."""
    from temporalio.api.enums.v1 import EventType

    for ev in reversed(events):
        if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = ev.workflow_task_failed_event_attributes.failure
            where = ""
            inner = failure
            while inner.HasField("cause"):
                inner = inner.cause
            frames = [ln.strip() for ln in inner.stack_trace.splitlines()]
            last = [i for i, ln in enumerate(frames) if ln.startswith("File ")]
            if last:
                i = last[-1]
                code = frames[i + 1] if i + 1 < len(frames) else ""
                where = f" at {frames[i].removeprefix('File ')}: {code}"
            kind = (
                inner.application_failure_info.type
                if inner.HasField("application_failure_info")
                else ""
            )
            return f"{failure.message} [{kind}]{where} (event {ev.event_id})"
    return ""


async def check_stuck(client: Any, stack: Stack, case_ids: list[str], f: Findings) -> None:
    """After settling, with the worker running: newest runs that do not make progress."""
    import asyncpg
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import WorkflowExecutionStatus

    for cid in case_ids:
        why: list[str] = []
        handle = client.get_workflow_handle(cid)
        desc = await handle.describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            why.append(f"status {desc.status.name if desc.status else '?'}")
        raw = desc.raw_description
        for pa in raw.pending_activities:
            if pa.attempt > MAX_ATTEMPT:
                failure = pa.last_failure.message[:160] if pa.HasField("last_failure") else ""
                why.append(f"activity {pa.activity_type.name} attempt {pa.attempt}: {failure}")
        if (
            raw.HasField("pending_workflow_task")
            and raw.pending_workflow_task.attempt > MAX_ATTEMPT
        ):
            why.append(f"workflow task attempt {raw.pending_workflow_task.attempt}")
        hist = await handle.fetch_history()
        if last_wft_outcome(hist.events) == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            why.append(f"last workflow task failed: {wft_failure(hist.events)}")
        if why:
            f.stuck[cid] = why
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, case_id, kind, lapse_at FROM tasks WHERE status = 'open' "
            "AND paused_at IS NULL AND lapse_at < $1 AND case_id = ANY($2::text[])",
            datetime.now(UTC) - LAPSE_GRACE,
            case_ids,
        )
        for r in rows:
            late = (datetime.now(UTC) - r["lapse_at"]).total_seconds()
            f.stuck.setdefault(r["case_id"], []).append(
                f"task {r['id']} ({r['kind']}) still open {late:.0f} s after its lapse time"
            )
        for r in await conn.fetch(
            "SELECT id, attention FROM cases WHERE attention IS NOT NULL AND id = ANY($1::text[])",
            case_ids,
        ):
            f.attention.append(f"{r['id']}: {r['attention'][:160]}")
    finally:
        await conn.close()


@dataclass
class Expected:
    """What the histories say the database must hold for one case."""

    events: dict[int, tuple[str, bool]] = field(default_factory=dict)  # seq -> (kind, completed)
    ids: dict[str, dict[str, bool]] = field(
        default_factory=lambda: {k: {} for k in ("records", "signatures", "ledger", "notes")}
    )
    task_version: dict[str, int] = field(default_factory=dict)  # completed steps only
    case_version: int = 0


def read_history(cid: str, runs: list[Any], exp: Expected, f: Findings) -> None:
    from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause

    for hist in runs:
        scheduled: dict[int, dict[str, Any]] = {}
        completed: set[int] = set()
        for ev in hist.events:
            et = ev.event_type
            if et == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attrs = ev.activity_task_scheduled_event_attributes
                if attrs.activity_type.name == "zhidu.record_step":
                    scheduled[ev.event_id] = json.loads(attrs.input.payloads[0].data)
            elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                completed.add(ev.activity_task_completed_event_attributes.scheduled_event_id)
            elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
                f.activity_failures += 1
            elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = ev.workflow_task_failed_event_attributes.cause
                name = WorkflowTaskFailedCause.Name(cause).removeprefix(
                    "WORKFLOW_TASK_FAILED_CAUSE_"
                )
                f.wft_failed[name] += 1
            elif et == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                f.wft_timed_out += 1
        f.steps += len(scheduled)
        for event_id, step in scheduled.items():
            done = event_id in completed
            f.steps_completed += done
            for e in step.get("events", []):
                seq, kind = int(e["seq"]), e["kind"]
                if seq in exp.events:
                    f.duplicated.append(f"{cid}: event seq {seq} sent by two steps of the history")
                    continue
                exp.events[seq] = (kind, done)
            for key, name, attr in (
                ("records", "records", "id"),
                ("signatures", "signatures", "id"),
                ("ledger", "ledger", "id"),
                ("notifications", "notes", "key"),
            ):
                for item in step.get(key, []):
                    ident = item[attr]
                    if key == "notifications":
                        ident = f"{ident}:console"
                    exp.ids[name][ident] = exp.ids[name].get(ident, False) or done
            if done:
                for t in step.get("tasks", []):
                    exp.task_version[t["id"]] = max(exp.task_version.get(t["id"], 0), t["version"])
                exp.case_version = max(exp.case_version, int(step["case"]["version"]))


def task_of(ident: str) -> str | None:
    """The task a notification key or ledger id belongs to (`.../t12/...`), if any."""
    match = TASK_IN_KEY.search(ident)
    return match.group(1) if match else None


def note_of(key: str) -> str:
    """A reminder's key without the task version (`…/t3/remind/0/2` -> `…/t3/remind/0`): one
    reminder per due (extension count), whichever version of the task sent it."""
    parts = key.removesuffix(":console").split("/")
    if len(parts) >= 3 and parts[-3] == "remind" and parts[-1].isdigit():
        return "/".join(parts[:-1])
    return key


async def compare_with_db(stack: Stack, expected: dict[str, Expected], f: Findings) -> None:
    import asyncpg

    ids = list(expected)
    conn = await asyncpg.connect(stack.database_url)
    try:
        events = await conn.fetch(
            "SELECT case_id, seq, kind, at, detail::text AS detail FROM events "
            "WHERE case_id = ANY($1::text[])",
            ids,
        )
        tables = {
            "records": await conn.fetch(
                "SELECT id, case_id, kind, created_at, data::text AS data FROM records "
                "WHERE case_id = ANY($1::text[])", ids),
            "signatures": await conn.fetch(
                "SELECT id, case_id, record_id, signer, role, method FROM signatures "
                "WHERE case_id = ANY($1::text[])", ids),
            "ledger": await conn.fetch(
                "SELECT id, case_id, clause, party, kind, rule, amount_yuan, at FROM ledger "
                "WHERE case_id = ANY($1::text[])", ids),
            "notes": await conn.fetch(
                "SELECT key AS id, case_id, channel, recipient, subject, body FROM notifications "
                "WHERE case_id = ANY($1::text[])", ids),
        }  # fmt: skip
        tasks = await conn.fetch(
            "SELECT id, version FROM tasks WHERE case_id = ANY($1::text[])", ids
        )
        cases = await conn.fetch("SELECT id, version FROM cases WHERE id = ANY($1::text[])", ids)
    finally:
        await conn.close()

    # events: by (case, seq), and the same content under two seqs
    by_seq: dict[tuple[str, int], list[Any]] = defaultdict(list)
    by_content: dict[tuple[str, str, str, Any], list[int]] = defaultdict(list)
    for row in events:
        by_seq[(row["case_id"], row["seq"])].append(row)
        by_content[(row["case_id"], row["kind"], row["detail"], row["at"])].append(row["seq"])
    for (cid, seq), rows in by_seq.items():
        if len(rows) > 1:
            f.duplicated.append(f"{cid}: {len(rows)} event rows with seq {seq}")
    ledger_events: Counter[tuple[Any, ...]] = Counter()
    for (cid, kind, detail, at), seqs in by_content.items():
        fields = json.loads(detail)
        if kind == "ledger":  # names no entry: as many as ledger rows of that booking
            ledger_events[(cid, fields.get("rule"), fields.get("party"), fields.get("kind"),
                           str(fields.get("amount_yuan")), at)] += len(seqs)  # fmt: skip
        elif len(seqs) > 1 and IDENTIFYING & set(fields):
            f.duplicated.append(f"{cid}: event {kind} at {at.isoformat()} stored as seqs {seqs}")
    for cid, exp in expected.items():
        for seq, (kind, done) in exp.events.items():
            rows = by_seq.get((cid, seq), [])
            if done:
                f.events_compared += 1
                if not rows:
                    f.lost.append(f"{cid}: event {seq} {kind} (its step completed) not stored")
                elif rows[0]["kind"] != kind:
                    f.lost.append(f"{cid}: event {seq} is {rows[0]['kind']} in the db, {kind} sent")
        for (rcid, seq), rows in by_seq.items():
            if rcid == cid and seq not in exp.events:
                f.unmatched.append(f"{cid}: event row {seq} {rows[0]['kind']} sent by no step")

    # records, signatures, ledger, notifications: by natural key and by content
    # The same thing stored twice under two keys. Notification texts and ledger rules name
    # times to the minute only, so two tasks may share them: those are grouped per task.
    content_keys = {
        "records": ("case_id", "kind", "created_at", "data"),
        "signatures": ("record_id", "signer", "role", "method"),
        "ledger": ("case_id", "task", "clause", "party", "kind"),
        "notes": ("case_id", "note", "channel", "recipient", "subject", "body"),
    }
    for name, rows in tables.items():
        seen: Counter[str] = Counter(r["id"] for r in rows)
        for ident, n in seen.items():
            if n > 1:
                f.duplicated.append(f"{name}: {n} rows with key {ident}")
        groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
        for r in rows:
            row = {**dict(r), "task": task_of(r["id"]), "note": note_of(r["id"])}
            if name == "ledger" and row["task"] is None:  # not a task's: its rule and time
                row["task"] = (row["rule"], row["at"])
            groups[tuple(row[k] for k in content_keys[name])].append(r["id"])
        for key_ids in groups.values():
            if len(key_ids) > 1:
                f.duplicated.append(f"{name}: same content under keys {sorted(key_ids)}")
        stored = set(seen)
        for cid, exp in expected.items():
            for ident, done in exp.ids[name].items():
                if done:
                    f.rows_compared += 1
                    if ident not in stored:
                        f.lost.append(f"{cid}: {name} row {ident} (its step completed) not stored")
        sent = {i for exp in expected.values() for i in exp.ids[name]}
        for ident in stored - sent:
            f.unmatched.append(f"{name}: row {ident} sent by no step")

    booked = Counter(
        (r["case_id"], r["rule"], r["party"], r["kind"], str(r["amount_yuan"]), r["at"])
        for r in tables["ledger"]
    )
    for key, n in ledger_events.items():
        if n > booked.get(key, 0):
            f.duplicated.append(f"{key[0]}: {n} ledger events at {key[-1].isoformat()} "
                                f"({key[1]}), {booked.get(key, 0)} ledger rows")  # fmt: skip

    task_rows = {r["id"]: r["version"] for r in tasks}
    for cid, exp in expected.items():
        for tid, version in exp.task_version.items():
            f.rows_compared += 1
            if tid not in task_rows:
                f.lost.append(f"{cid}: task {tid} (its step completed) not stored")
            elif task_rows[tid] < version:
                f.lost.append(f"{cid}: task {tid} at version {task_rows[tid]}, {version} stored")
    case_rows = {r["id"]: r["version"] for r in cases}
    for cid, exp in expected.items():
        if exp.case_version and case_rows.get(cid, -1) < exp.case_version:
            f.lost.append(
                f"{cid}: case row at version {case_rows.get(cid)}, {exp.case_version} sent"
            )


async def replay_all(histories: list[tuple[str, Any]], keys: list[bytes], f: Findings) -> None:
    """Every run of every case as the worker runs it (worker.replayer: the production sandbox
    and the assertion verifier with the drill's key)."""
    from worker import replayer as worker_replayer

    replayer = worker_replayer(keys)
    for label, hist in histories:
        result = await replayer.replay_workflow(hist, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            f.replay_failures.append(f"{label}: {str(result.replay_failure)[:300]}")


# ---- the drill ----------------------------------------------------------------------------------


@dataclass
class Drill:
    sizes: Sizes
    quick: bool
    seed: int
    stack: Stack
    case_ids: list[str] = field(default_factory=list)
    kills: int = 0
    temporal_restarts: int = 0
    pg_outage: float = 0.0
    refused_for: float = 0.0
    frozen_for: float = 0.0
    faults: list[str] = field(default_factory=list)
    traffic: Traffic | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # user -> bearer token

    def mark(self, what: str) -> None:
        self.faults.append(f"{what}@{time.monotonic() - T0:.0f}s")

    async def pause(self, rng: random.Random) -> None:
        await self.watch(rng.uniform(*self.sizes.pause))

    async def watch(self, duration: float) -> None:
        """Sleep, restarting a worker or web app that died on its own meanwhile."""
        end = time.monotonic() + duration
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(2.0, left))
            self.stack.check_children()

    async def setup(self) -> None:
        from activities.signing import Sealer
        from starter.devstack import ensure_database
        from starter.users import ensure_demo_users, issue_token
        from store.db import make_engine, make_session_factory
        from store.migrate import upgrade

        st = self.stack
        say(f"temporary directory {st.tmp}")
        st.database_url = await asyncio.to_thread(st.start_pg)
        await ensure_database(st.database_url)
        await upgrade(st.database_url)
        engine = make_engine(st.database_url)
        try:
            factory = make_session_factory(engine)
            await ensure_demo_users(factory)
            for user in USERS:
                self.tokens[user] = await issue_token(factory, user, "fault drill")
        finally:
            await engine.dispose()
        Sealer.load_or_create(st.tmp / "signing_key.pem")  # one key, made before both use it
        say(f"PostgreSQL up ({st.database_url}); migrated; demo users")
        await st.start_temporal()
        say(f"Temporal dev server on 127.0.0.1:{st.temporal_port} (history {st.tmp}/temporal.db)")
        st.spawn("worker")
        st.spawn("web")
        await self.wait_for_web()
        say(f"worker pid {st.worker.pid if st.worker else '?'}, web app on {st.web_url}")

    async def wait_for_web(self) -> None:
        import httpx

        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.stack.web is not None and self.stack.web.poll() is not None:
                    raise RuntimeError(
                        "zhidu web exited during start-up:\n" + log_tail(self.stack.tmp / "web.log")
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.stack.web_url}/openapi.json")).status_code == 200:
                        return
                await asyncio.sleep(0.5)
        raise RuntimeError("zhidu web did not answer within 90 s")

    async def start_cases(self, traffic: Traffic) -> None:
        from workflows.model import CHINA_TZ

        now = datetime.now(CHINA_TZ)
        # The visit grid is anchored at 09:00 China time of go-live: today, unless it is earlier
        # than that (then the first visits would be hours away).
        go_live = now.date() if now.time() > dtime(9, 1) else now.date() - timedelta(days=1)
        classes = ("regular", "large", "key")
        for i in range(self.sizes.cases):
            body = {
                "customer_id": f"FD{i:02d}",
                "customer_name": f"演练客户{i:02d}",
                "customer_class": classes[i % 3],
                "go_live": go_live.isoformat(),
                "owner": "staff",
                "supervisor": "supervisor",
                "contacts": [{"name": "王工", "phone": f"138{i:08d}"}],
            }
            for _ in range(10):
                status, payload = await traffic.call(
                    "staff", "POST", "/api/regulations/revisit/cases", "start", body
                )
                if status == 201:
                    self.case_ids.append(payload["case_id"])
                    break
                await asyncio.sleep(1)
            else:
                raise RuntimeError(f"could not start case {i}: {status} {payload}")
        say(f"{len(self.case_ids)} cases started (go-live {go_live})")

    async def kill_worker(self, rng: random.Random) -> None:
        st = self.stack
        assert st.worker is not None
        pid = st.worker.pid
        st.worker.send_signal(signal.SIGKILL)
        await asyncio.to_thread(st.worker.wait)
        self.kills += 1
        self.mark("kill")
        down = rng.uniform(*self.sizes.worker_down)
        say(f"kill {self.kills}/{KILLS}: worker pid {pid} killed (-9); restarting in {down:.1f} s")
        await asyncio.sleep(down)
        st.spawn("worker")
        say(f"worker restarted (pid {st.worker.pid if st.worker else '?'})")

    async def restart_temporal(self) -> None:
        st = self.stack
        t0 = time.monotonic()
        await asyncio.to_thread(st.stop_temporal)
        self.mark("temporal")
        say("Temporal dev server stopped")
        await asyncio.sleep(self.sizes.temporal_down)
        await st.start_temporal()
        self.temporal_restarts += 1
        say(f"Temporal dev server restarted (down {time.monotonic() - t0:.1f} s)")

    async def postgres_outage(self) -> None:
        st = self.stack
        old_url = st.database_url
        await asyncio.to_thread(st.stop_pg)
        t0 = time.monotonic()
        self.mark("postgres")
        say(f"PostgreSQL stopped for {self.sizes.pg_down:.0f} s")
        await self.watch(self.sizes.pg_down)
        url = await asyncio.to_thread(st.start_pg)
        self.pg_outage = time.monotonic() - t0
        if url != old_url:
            say(f"!! PostgreSQL came back at another address: {url} (was {old_url})")
        say(f"PostgreSQL started again (down {self.pg_outage:.1f} s)")

    async def database_refuses(self) -> None:
        """The database stays up but refuses connections (ALLOW_CONNECTIONS false, its
        backends ended): asyncpg's "not currently accepting connections" must read as
        "does not answer" (503), never a 500."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from store.db import make_engine

        url = make_url(self.stack.database_url)
        name = url.database
        admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
        alter = 'ALTER DATABASE "{}" ALLOW_CONNECTIONS {}'

        async def sql(*statements: str) -> None:
            async with admin.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                for statement in statements:
                    await conn.execute(text(statement))

        try:
            t0 = time.monotonic()
            await sql(
                alter.format(name, "false"),
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            )
            self.mark("db-refusing")
            say(f"the database refuses connections for {self.sizes.refusing:.0f} s")
            await self.watch(self.sizes.refusing)
            await sql(alter.format(name, "true"))
            self.refused_for = time.monotonic() - t0
            say(f"the database accepts connections again ({self.refused_for:.1f} s)")
        finally:
            await admin.dispose()

    async def freeze_temporal(self) -> None:
        """The Temporal server hangs (SIGSTOP): calls time out ("Timeout expired") and must be
        answered 503, not 502 or 500; then it goes on (SIGCONT)."""
        st = self.stack
        assert st.temporal is not None
        t0 = time.monotonic()
        st.temporal.send_signal(signal.SIGSTOP)
        self.mark("temporal-frozen")
        say(f"Temporal dev server frozen (SIGSTOP) for {self.sizes.frozen:.0f} s")
        try:
            await self.watch(self.sizes.frozen)
        finally:
            st.temporal.send_signal(signal.SIGCONT)
        self.frozen_for = time.monotonic() - t0
        say(f"Temporal dev server goes on (SIGCONT; frozen {self.frozen_for:.1f} s)")

    async def run(self) -> int:
        rng = random.Random(self.seed)
        await self.setup()
        traffic = self.traffic = Traffic(self.stack, self.seed)
        await traffic.open(self.tokens)
        await self.start_cases(traffic)
        agents = [
            asyncio.create_task(traffic.agent(n, self.case_ids)) for n in range(self.sizes.agents)
        ]
        say(f"traffic: {self.sizes.agents} API clients")
        await self.watch(self.sizes.warmup)
        await self.kill_worker(rng)
        await self.pause(rng)
        await self.kill_worker(rng)
        await self.pause(rng)
        await self.restart_temporal()
        await self.pause(rng)
        await self.kill_worker(rng)
        await self.pause(rng)
        await self.postgres_outage()
        await self.pause(rng)
        await self.database_refuses()
        await self.pause(rng)
        await self.freeze_temporal()
        await self.pause(rng)
        traffic.stop.set()
        say("traffic stopping")
        _, late = await asyncio.wait(agents, timeout=50)
        for task in late:
            task.cancel()
        await traffic.close()
        say(f"settling {self.sizes.settle:.0f} s (no traffic)")
        await self.watch(self.sizes.settle)
        return await self.verify()

    async def verify(self) -> int:
        from starter.cases import case_histories
        from worker import connect

        f = Findings(cases=len(self.case_ids))
        client = await connect(self.stack.settings)
        say("checking for stuck cases")
        await check_stuck(client, self.stack, self.case_ids, f)
        await asyncio.to_thread(self.stack.stop_worker)  # nothing moves while we compare
        await asyncio.to_thread(self.stack._stop, self.stack.web)
        say("worker and web app stopped; reading every run of every case")
        expected: dict[str, Expected] = {}
        histories: list[tuple[str, Any]] = []
        for cid in self.case_ids:
            runs = await case_histories(client, cid)
            f.runs += len(runs)
            exp = expected[cid] = Expected()
            read_history(cid, runs, exp, f)
            histories += [(f"{cid} run {i + 1}/{len(runs)} ({h.run_id})", h)
                          for i, h in enumerate(runs)]  # fmt: skip
        await compare_with_db(self.stack, expected, f)
        say(f"replaying {len(histories)} histories")
        await replay_all(histories, self.stack.settings.assertion_keys(), f)
        return self.report(f)

    def report(self, f: Findings) -> int:
        t = self.traffic
        server_errors = sum(t.error_kinds.values()) if t else 0  # 5xx but 503
        ok = not (
            f.lost or f.duplicated or f.unmatched or f.stuck or f.replay_failures or server_errors
        )
        statuses = (
            " ".join(f"{k}×{v}" for k, v in sorted(t.status.items(), key=lambda kv: kv[0]))
            if t
            else ""
        )
        fivexx = (
            Counter(
                {f"{route} {s}": n for (route, s), n in t.by_route.items() if s.startswith("5")}
            )
            if t
            else Counter()
        )
        wft_failed = sum(f.wft_failed.values())
        lines = [
            f"fault drill ({'quick' if self.quick else 'full'}, seed {self.seed}): "
            f"{time.monotonic() - T0:.0f} s",
            f"  cases                {f.cases}",
            f"  kills                {self.kills}",
            f"  temporal restarts    {self.temporal_restarts}",
            f"  postgres outage      {self.pg_outage:.1f} s",
            f"  db refusing          {self.refused_for:.1f} s (ALLOW_CONNECTIONS false)",
            f"  temporal frozen      {self.frozen_for:.1f} s (SIGSTOP)",
            f"  faults               {' '.join(self.faults)}",
            f"  api requests         {sum(t.status.values()) if t else 0}: {statuses}",
            f"  api 5xx by route     {', '.join(f'{k}×{v}' for k, v in sorted(fivexx.items())) or 'none'}",
            f"  actions accepted     {sum(t.actions.values()) if t else 0} "
            f"({t.double_submits if t else 0} double submits, "
            f"{len(t.double_accepted) if t else 0} accepted twice)",
            f"  runs                 {f.runs} ({f.steps} record_step steps, "
            f"{f.steps_completed} completed)",
            f"  workflow tasks       {f.wft_timed_out} timed out, {wft_failed} failed"
            + (f" {dict(f.wft_failed)}" if wft_failed else "")
            + f"; {f.activity_failures} activities failed",
            f"  events compared      {f.events_compared} (+{f.rows_compared} records, "
            f"signatures, ledger, notification and task rows)",
            f"  lost                 {len(f.lost)}",
            f"  duplicated           {len(f.duplicated)}",
            f"  unmatched db rows    {len(f.unmatched)}",
            f"  stuck                {len(f.stuck)}",
            f"  replay failures      {len(f.replay_failures)}",
            f"  worker/web crashes   {len(self.stack.unexpected_exits)}",
            f"  cases needing attention {len(f.attention)}",
            f"RESULT: {'PASS' if ok else 'FAIL'}",
        ]
        details: list[str] = []
        for title, items in (
            ("lost", f.lost),
            ("duplicated", f.duplicated),
            ("unmatched", f.unmatched),
            ("stuck", [f"{c}: {'; '.join(w)}" for c, w in f.stuck.items()]),
            ("replay failures", f.replay_failures),
            ("attention", f.attention),
            ("double submits accepted twice", t.double_accepted if t else []),
            ("api 5xx answers (not 503), first of each kind", t.server_errors if t else []),
            ("api 5xx kinds (not 503)", [f"{n}× {k}" for k, n in t.error_kinds.most_common()]
             if t else []),
            ("unexpected exits", [f"{n} status {s}:\n{tail}"
                                  for n, s, tail in self.stack.unexpected_exits]),
        ):  # fmt: skip
            if items:
                details.append(f"{title}:")
                details += [f"  {item}" for item in items[:15]]
                if len(items) > 15:
                    details.append(f"  … {len(items) - 15} more")
        if details:
            print("\n".join(details), file=sys.stderr, flush=True)
        print("\n".join(lines), flush=True)
        return 0 if ok else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fault_drill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="10 cases, shorter pauses, PG down 10 s"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args(argv)
    os.chdir(PROJECT_ROOT)
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    tmp = Path(tempfile.mkdtemp(prefix="zhidu-drill-"))
    code = 2
    stack: Stack | None = None
    try:
        stack = Stack(tmp)
        drill = Drill(QUICK if args.quick else FULL, args.quick, seed, stack)

        async def guarded() -> int:
            task = asyncio.current_task()
            assert task is not None
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
                loop.add_signal_handler(sig, task.cancel)
            return await drill.run()

        code = asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("interrupted")
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 2
    finally:
        # Ctrl-C again must not leave processes behind: ignore it while cleaning up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack is not None:
            say("stopping web app, worker, Temporal and PostgreSQL")
            stack.close()
        if args.keep or code in (1, 2):
            say(f"kept {tmp} (logs: worker.log, web.log, temporal.log, pg/log)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
