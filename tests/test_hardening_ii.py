"""Hardening II, tried as an attacker and a careless client would: a case cannot be started
with a schedule's readable assertion nor name people who do not hold their roles; deep, broken
or endless input is a 4xx naming the field; a database refusing connections and a frozen
Temporal are 503 with Retry-After; parallel sign-ins cannot beat the throttle and nobody can
lock another out; the seal covers every column; a password change ends the other sessions;
an assertion is good once."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from temporalio.client import (
    Client,
    OutboundInterceptor,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.signing import Sealer, record_columns, signature_columns, verify_signature
from bench.local import free_port
from starter import users
from starter.app import create_app
from starter.devstack import drop_database, ensure_database
from store import models
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from tests.fake_regulation import FAKE_REGISTRY
from tests.helpers import (
    case_worker,
    eventually,
    library_calendar,
    rows,
    state,
)
from tests.test_api import add_user, bearer, cid, fake_worker, stored_case
from tests.test_api import api as api  # noqa: F401 - the fixture
from tests.test_hardening import shape
from worker import AssertionSigner, header, register_search_attributes
from workflows import assertions
from workflows.model import CaseStart, ExtendDeadlineInput
from workflows.registry import RegulationEntry, ScheduleSpec
from workflows.regulations.report import ENTRY as REPORT
from workflows.regulations.revisit.forms import Contact, RevisitInput, RevisitPolicy

pytestmark = pytest.mark.asyncio(loop_scope="session")

KEY = os.environ["ZHIDU_ASSERTION_KEY"].encode("utf-8")


class _Header(OutboundInterceptor):
    """Sends the given assertion with every start and update (what a Temporal client that read
    one can do)."""

    token: str | None = None

    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        if _Header.token is not None:
            input.headers = {**input.headers, assertions.HEADER: header(_Header.token)}
        return await super().start_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        if _Header.token is not None:
            input.headers = {**input.headers, assertions.HEADER: header(_Header.token)}
        return await super().start_workflow_update(input)


class _WithHeader:
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Header(next)


async def attacker(env: Any) -> Client:
    return await Client.connect(
        env.client.service_client.config.target_host,
        data_converter=pydantic_data_converter,
        interceptors=[_WithHeader()],
    )


def forged_revisit(customer: str) -> CaseStart:
    inp = RevisitInput(
        customer_id=customer,
        customer_name="冒名",
        customer_class="key",
        go_live=date(2026, 11, 1),
        owner="nobody-such-user",
        supervisor="mallory",
        contacts=[Contact(name="王工", phone="13800000000")],
    )
    return CaseStart(
        input=inp.model_dump(mode="json"),
        policy=RevisitPolicy().model_dump(mode="json"),
        started_by="admin",
    )


async def nothing_stored(session_factory: Any, case_id: str) -> None:
    assert not await rows(session_factory, models.Case, id=case_id)
    for model in (models.Task, models.Event, models.Notification):
        assert not await rows(session_factory, model, case_id=case_id), model.__tablename__


# ---- 1. a schedule's standing assertion, and the people a start names -----------------------


async def test_a_schedules_readable_assertion_starts_nothing_but_what_it_starts(
    local_env, session_factory, clean_db, settings_factory
):
    """Read from DescribeSchedule by any Temporal client, the assertion once started an R1 case
    in a supervisor's name. Now it is bound to the schedule's workflow type and arguments."""
    from starter.schedules import ensure_schedules

    env = local_env
    sid = f"report-forge-{uuid.uuid4().hex[:6]}"
    duty = ScheduleSpec(
        sid, "测试统计", "zhidu.report",
        {"title": "测试统计", "regulation": "revisit", "period": "day", "recipients": ["role:clerk"]},
        every_seconds=86400,
    )  # fmt: skip
    registry = {"report": RegulationEntry(**{**REPORT.__dict__, "schedules": (duty,)})}
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        settings = settings_factory(temporal_task_queue=queue)
        await ensure_schedules(env.client, settings, registry)
        handle = env.client.get_schedule_handle(sid)
        try:
            mallory = await attacker(env)
            desc = await mallory.get_schedule_handle(sid).describe()
            payload = desc.schedule.action.headers[assertions.HEADER]  # type: ignore[attr-defined]
            _Header.token = pydantic_data_converter.payload_converter.from_payload(payload, str)
            # The exact attack: an R1 case, an id that begins with the schedule's.
            case_id = f"{sid}-revisit"
            forged = await mallory.start_workflow(
                "zhidu.revisit", forged_revisit("X1"), id=case_id, task_queue=queue
            )
            with pytest.raises(WorkflowFailureError) as info:
                await forged.result()
            assert "schedule" in str(info.value.cause), info.value.cause
            await nothing_stored(session_factory, case_id)
            # The schedule's own workflow type, other arguments: refused too.
            report_arg = desc.schedule.action.args[0]  # type: ignore[attr-defined]
            other = pydantic_data_converter.payload_converter.from_payload(report_arg, CaseStart)
            other.input["recipients"] = ["role:admin", "mallory"]
            changed = await mallory.start_workflow(
                "zhidu.report", other, id=f"{sid}-changed", task_queue=queue
            )
            with pytest.raises(WorkflowFailureError) as info:
                await changed.result()
            assert "differs from what the schedule" in str(info.value.cause)
            await nothing_stored(session_factory, f"{sid}-changed")
        finally:
            _Header.token = None
            await handle.delete()


async def test_a_signed_start_naming_people_without_their_roles_stores_nothing(
    local_env, session_factory, clean_db, settings_factory
):
    """Whatever reached Temporal (here a start signed with the key, bypassing the starter's
    check), the worker checks the people a start names before its first step is stored."""
    env = local_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        for customer, start, reason in (
            ("P1", forged_revisit("P1"), "no active user 'nobody-such-user'"),
            ("P2", CaseStart(**{**forged_revisit("P2").model_dump(), "input": {
                **forged_revisit("P2").input, "owner": "staff", "supervisor": "clerk"}}),
             "supervisor: no active user 'clerk' with the role supervisor"),
            ("P3", CaseStart(**{**forged_revisit("P3").model_dump(), "input": {
                **forged_revisit("P3").input, "owner": "staff", "supervisor": "supervisor"}}),
             "started_by: 'admin' may not start revisit"),
        ):  # fmt: skip
            start.calendar = library_calendar(await env.get_current_time())
            handle = await env.client.start_workflow(
                "zhidu.revisit", start, id=f"revisit-{customer}-{uuid.uuid4().hex[:4]}",
                task_queue=queue,
            )  # fmt: skip
            with pytest.raises(WorkflowFailureError) as info:
                await handle.result()
            assert reason in str(info.value.cause), (customer, info.value.cause)
            await nothing_stored(session_factory, handle.id)


# ---- 2. deep, broken and endless input --------------------------------------------------------


def nested(depth: int, leaf: Any = "x") -> Any:
    value: Any = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_deep_broken_and_endless_input_is_a_4xx_naming_the_field(api, session_factory):
    http, _ = api
    await add_user(session_factory, "deep", ["staff"])
    h = await bearer(session_factory, "deep")
    body = b'{"login": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    r = await http.post("/api/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and shape(r)["field"] == "body"

    r = await http.post(
        "/api/regulations/fake/cases", json={"customer_id": cid(), "customer_name": "深"},
        headers=h,
    )  # fmt: skip
    case_id = r.json()["case_id"]
    await stored_case(http, case_id, h)
    complete = f"/api/cases/{case_id}/tasks/t1/complete"
    # A lone surrogate (valid JSON, not valid text).
    r = await http.post(
        complete, content=b'{"outcome": "done", "data": {"note": "a\\udc80b"}}',
        headers={**h, "content-type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert shape(r)["field"] == "data.note" and "Unicode" in r.json()["detail"]
    # An unknown key nested deep in the task's data, at every depth that used to fail.
    for depth in (17, 198, 199, 250, 500, 900):
        r = await http.post(complete, json={"outcome": "done", "data": {"note": nested(depth)}},
                            headers=h)  # fmt: skip
        assert r.status_code == 422, (depth, r.status_code, r.text)
        assert shape(r)["field"].startswith(("data.note", "body")), (depth, r.text)

    # A body of 10 MB, said or streamed in chunks: 413 both ways.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 100_000

    r = await http.post(
        complete, content=chunks(), headers={**h, "content-type": "application/json"}
    )
    assert r.status_code == 413 and shape(r)["field"] == "body"
    r = await http.post(complete, content=b" " * 10_000_000,
                        headers={**h, "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and shape(r)["field"] == "body"
    case = (await http.get(f"/api/cases/{case_id}", headers=h)).json()
    assert case["tasks"][0]["status"] == "open"  # the case untouched


# ---- 3. a database that refuses connections, a frozen Temporal --------------------------------


@pytest.fixture
async def scratch_db(database_url: str) -> AsyncIterator[str]:
    url = make_url(database_url).set(database=f"zhidu_outage_{secrets.token_hex(3)}")
    rendered = url.render_as_string(hide_password=False)
    await ensure_database(rendered)
    await upgrade(rendered)
    try:
        yield rendered
    finally:
        await admin_sql(rendered, "ALTER DATABASE {db} ALLOW_CONNECTIONS true")
        await drop_database(rendered)


async def admin_sql(url: str, statement: str) -> None:
    """Run `statement` ({db}: the database of `url`) on that server's `postgres` database."""
    target = make_url(url)
    conn = await asyncpg.connect(
        host=target.host, port=target.port, user=target.username, password=target.password,
        database="postgres",
    )  # fmt: skip
    try:
        await conn.execute(statement.format(db=f'"{target.database}"', name=target.database))
    finally:
        await conn.close()


async def test_a_database_refusing_connections_is_503_everywhere(
    scratch_db, local_env, settings_factory
):
    engine = make_engine(scratch_db)
    factory = make_session_factory(engine)
    try:
        await users.create_user(factory, "outage", "断电", "outage-pass-1", ["staff"])
        token = await users.issue_token(factory, "outage", "t")
        settings = settings_factory(database_url=scratch_db)
        app = create_app(settings, client=local_env.client, session_factory=factory,
                         registry=FAKE_REGISTRY)  # fmt: skip
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as http:  # fmt: skip
            h = {"Authorization": f"Bearer {token}"}
            assert (await http.get("/api/me", headers=h)).status_code == 200
            login = await http.post(
                "/api/login", json={"login": "outage", "password": "outage-pass-1"}
            )
            cookie = login.cookies.get("zhidu_session")
            await admin_sql(scratch_db, "ALTER DATABASE {db} ALLOW_CONNECTIONS false")
            await admin_sql(
                scratch_db,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            )
            for method, path, kw in (
                ("GET", "/api/cases", {}), ("GET", "/api/cases/fake-x", {}), ("GET", "/api/me", {}),
                ("POST", "/api/login", {"json": {"login": "outage", "password": "outage-pass-1"}}),
                ("POST", "/api/cases/fake-x/tasks/t1/complete", {"json": {"outcome": "done"}}),
                ("POST", "/api/regulations/fake/cases",
                 {"json": {"customer_id": cid(), "customer_name": "断"}}),
            ):  # fmt: skip
                r = await http.request(method, path, headers=h, **kw)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["retry-after"] and shape(r), path
            http.cookies.set("zhidu_session", cookie or "x")
            page = await http.get("/work")
            assert page.status_code == 503 and page.headers["retry-after"]
            assert "服务暂不可用" in page.text and "Traceback" not in page.text
    finally:
        await engine.dispose()


async def test_a_frozen_temporal_is_503_with_retry_after(
    session_factory, clean_db, settings_factory
):
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "temporal"), "server", "start-dev",
        "--port", str(port), "--ui-port", str(free_port()), "--headless", "--log-level", "error",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = None
        for _ in range(120):
            try:
                client = await Client.connect(
                    f"127.0.0.1:{port}", data_converter=pydantic_data_converter,
                    interceptors=[AssertionSigner(KEY)],
                )  # fmt: skip
                await client.get_workflow_handle("probe").describe()
            except Exception as exc:
                if "not found" in str(exc).lower():
                    break
                await asyncio.sleep(0.25)
        assert client is not None
        await register_search_attributes(client, client.namespace)
        await add_user(session_factory, "cold", ["staff"])
        h = await bearer(session_factory, "cold")
        async with fake_worker(client, session_factory, settings_factory()) as queue:
            settings = settings_factory(temporal_task_queue=queue)
            app = create_app(settings, client=client, session_factory=session_factory,
                             registry=FAKE_REGISTRY)  # fmt: skip
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://t") as http:  # fmt: skip
                r = await http.post(
                    "/api/regulations/fake/cases",
                    json={"customer_id": cid(), "customer_name": "冻"},
                    headers=h,
                )
                case_id = r.json()["case_id"]
                await stored_case(http, case_id, h)
                server.send_signal(signal.SIGSTOP)
                try:
                    for path, body in (
                        (f"/api/cases/{case_id}/tasks/t1/complete", {"outcome": "done"}),
                        ("/api/regulations/fake/cases", {"customer_id": cid(), "customer_name": "冻"}),
                        ("/api/regulations/fake/cases", {"customer_id": cid(), "customer_name": "冻"}),
                    ):  # fmt: skip
                        r = await http.post(path, json=body, headers=h)
                        assert r.status_code == 503, (path, r.status_code, r.text)
                        assert r.headers["retry-after"] and shape(r)
                finally:
                    server.send_signal(signal.SIGCONT)
                await client.get_workflow_handle(case_id).terminate("test over")
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)


# ---- 4. the sign-in throttle ----------------------------------------------------------------


def from_address(api_app: Any, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app, client=(address, 40000)),
        base_url="http://testserver",
    )


async def test_parallel_sign_ins_cannot_beat_the_throttle_and_nobody_locks_anyone_out(
    api, session_factory
):
    http, _ = api
    app = http._transport.app  # type: ignore[attr-defined]
    await users.create_user(session_factory, "tina", "蒂娜", "tina-right-pass", ["staff"],
                            email="Tina@Example.com")  # fmt: skip
    attempts = [{"login": "tina", "password": f"wrong-{i}"} for i in range(49)]
    attempts.insert(20, {"login": "tina", "password": "tina-right-pass"})
    async with from_address(app, "10.0.0.1") as a:
        began = time.monotonic()
        answers = await asyncio.gather(*(a.post("/api/login", json=b) for b in attempts))
        took = time.monotonic() - began
        codes = [r.status_code for r in answers]
        # 5 attempts are judged at once, then one more after 1 s, 2 s, 4 s ... (the right one
        # may or may not be among them): never the 49 × 401 of a count taken after the check.
        # When the right one is judged it clears its own account-and-address count (by design:
        # the person who knows the password is never locked out), and the attempts still
        # waiting start a new series of the same shape: every ordering of the gather allows it.
        judged = codes.count(401) + codes.count(200)
        series = 2 if 200 in codes else 1
        assert judged <= series * (5 + 1 + math.log2(took + 1)), (took, codes)
        assert codes.count(429) == 50 - judged, codes
        assert all(r.headers.get("retry-after") for r in answers if r.status_code == 429)
    async with from_address(app, "10.0.0.2") as b:
        # The id and the e-mail (any case) are one account: the count goes on by e-mail.
        for i in range(5):
            assert (
                await b.post("/api/login", json={"login": "tina@example.COM", "password": f"w{i}"})
            ).status_code == 401
        r = await b.post("/api/login", json={"login": "TINA", "password": "tina-right-pass"})
        assert r.status_code == 429, r.text
        wait = int(r.headers["retry-after"])
        assert wait <= 2  # slowed down, not locked out for 15 minutes
        await asyncio.sleep(wait)
        r = await b.post("/api/login", json={"login": "tina", "password": "tina-right-pass"})
        assert r.status_code == 200, r.text
    async with from_address(app, "10.0.0.3") as c:
        # Someone else's guesses from other addresses do not hold the holder up.
        r = await c.post("/api/login", json={"login": "tina", "password": "tina-right-pass"})
        assert r.status_code == 200, r.text


# ---- 5. the seal covers every column ----------------------------------------------------------


T0 = datetime(2026, 5, 6, 8, 30, 15, tzinfo=UTC)


def changed(value: Any) -> Any:
    if isinstance(value, datetime):
        return value + timedelta(seconds=1)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, dict):
        return {**value, "changed": True}
    if not value:
        return "x"
    return value[:-1] + ("1" if value[-1] == "0" else "0")  # same length: fits its column


async def _signed_record(db: Any, sealer: Sealer) -> str:
    from activities.store_step import CaseStore
    from workflows.model import CaseWrite, RecordWrite, SignatureWrite, StepChanges

    case = CaseWrite(id="c1", regulation="revisit", title="t", customer_id="C1", status="open")
    record = RecordWrite(id="c1/revisit_record/1", kind="revisit_record", title="《客户回访记录表》",
                         category="key", data={"rating": 4}, created_by="staff", created_at=T0)  # fmt: skip
    sig = SignatureWrite(id=f"{record.id}/sig/1", record_id=record.id, signer="王工",
                         role="customer", method="drawing", signed_at=T0, evidence_sha256="cd" * 32)  # fmt: skip
    await CaseStore(db, sealer, channels=["console"]).record_step(
        StepChanges(case=case, records=[record], signatures=[sig])
    )
    return sig.id


@pytest.mark.parametrize("table", ["records", "signatures"])
async def test_a_change_to_any_column_of_a_signed_record_or_its_signature_is_seen(clean_db, table):
    """Every column, derived from the model: a column added later is covered (or this fails)."""
    model = models.Record if table == "records" else models.Signature
    columns = [c.name for c in model.__table__.columns]
    covered = set(record_columns()) | {"sha256"} if table == "records" else set(signature_columns())
    assert set(columns) - covered <= {"seal", "public_key"}
    for column in columns:
        await clean_db_rows(clean_db)
        sealer = Sealer.generate()
        sig_id = await _signed_record(clean_db, sealer)
        record_id = "c1/revisit_record/1"
        key = record_id if table == "records" else sig_id
        try:
            async with clean_db() as s, s.begin():
                row = await s.get(model, key)
                setattr(row, column, changed(getattr(row, column)))
        except Exception as exc:  # the database refuses it (a key others refer to)
            assert column in ("id", "record_id"), (column, exc)
            continue
        result = await verify_signature(clean_db, sig_id, sealer.public_key_b64)
        assert not result.ok, (table, column, result.reason)


async def clean_db_rows(db: Any) -> None:
    async with db() as s, s.begin():
        await s.execute(text("DELETE FROM signatures"))
        await s.execute(text("DELETE FROM records"))


# ---- 6. passwords, documented statuses, single-use assertions ---------------------------------


async def test_a_password_change_ends_the_other_sessions(api, session_factory):
    http, _ = api
    await add_user(session_factory, "pat", ["staff"], "pat-old-password")
    await add_user(session_factory, "chief", ["admin"], "chief-password-1")
    creds = {"login": "pat", "password": "pat-old-password"}
    async with httpx.AsyncClient(transport=http._transport, base_url="http://testserver") as other:  # type: ignore[attr-defined]
        assert (await other.post("/api/login", json=creds)).status_code == 200
        assert (await http.post("/api/login", json=creds)).status_code == 200
        await http.get("/work")  # a page sets the CSRF cookie a script sends back as a header
        csrf = {"x-csrftoken": http.cookies.get("csrftoken") or ""}
        r = await http.post("/api/me/password", headers=csrf,
                            json={"current_password": "nope", "new_password": "pat-new-password-1"})  # fmt: skip
        assert r.status_code == 403 and shape(r)["field"] == "current_password"
        r = await http.post("/api/me/password", headers=csrf,
                            json={"current_password": "pat-old-password", "new_password": "short"})  # fmt: skip
        assert r.status_code == 422 and shape(r)["field"] == "new_password"
        r = await http.post("/api/me/password", headers=csrf,
                            json={"current_password": "pat-old-password",
                                  "new_password": "pat-new-password-1"})  # fmt: skip
        assert r.status_code == 204, r.text
        assert (await http.get("/api/me")).status_code == 200  # this session stays
        assert (await other.get("/api/me")).status_code == 401  # the other one ended
        # An administrator sets it: every session of pat ends.
        boss = await bearer(session_factory, "chief")
        pat = await bearer(session_factory, "pat")
        r = await http.post("/api/users/pat/password", headers=pat,
                            json={"new_password": "pat-third-password"})  # fmt: skip
        assert r.status_code == 403
        r = await http.post("/api/users/pat/password", headers=boss,
                            json={"new_password": "pat-third-password"})  # fmt: skip
        assert r.status_code == 204
        assert (await http.get("/api/me")).status_code == 401
        assert (
            await http.post("/api/login", json={"login": "pat", "password": "pat-third-password"})
        ).status_code == 200


async def test_the_statuses_the_fuzzing_found_are_documented(api):
    http, _ = api
    spec = (await http.get("/openapi.json")).json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert "400" in op["responses"], (method, path)
    verify = spec["paths"]["/api/signatures/{signature_id}/verify"]["get"]["responses"]
    assert "404" in verify
    assert (await http.get("/api/signatures/kt%0Ax/verify")).status_code in (401, 404, 422)


async def test_an_assertion_is_good_once(local_env, session_factory, clean_db, settings_factory):
    """The same signed extension sent again (another update id) within its 5 minutes is refused
    by the signature check, not only by the business rule."""
    from tests.test_assertions import HEAD, start

    env = local_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        case = await start(env, queue, f"AN{uuid.uuid4().hex[:5]}")
        view = await eventually(lambda: state(case), lambda v: bool(v.tasks))
        fix = view.tasks[0]
        arg = ExtendDeadlineInput(
            task_id=fix.id, actor=HEAD, new_due=fix.due_at + timedelta(days=1), reason="等配件"
        )
        _Header.token = assertions.sign(KEY, case.id, "extend_deadline", [arg],
                                        datetime.now(UTC).timestamp())  # fmt: skip
        try:
            mallory = await attacker(env)
            handle = mallory.get_workflow_handle(case.id)
            await handle.execute_update("extend_deadline", arg)
            with pytest.raises(WorkflowUpdateFailedError) as info:
                await handle.execute_update("extend_deadline", arg)
            assert "already used" in str(info.value.cause), info.value.cause
        finally:
            _Header.token = None
