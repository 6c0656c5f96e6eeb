"""The HTTP API end to end: real PostgreSQL, a Temporal dev server, a worker running the test
regulation (tests/fake_regulation.py), httpx against the ASGI app."""

from __future__ import annotations

import sys
import types
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import BaseModel
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import build_activities
from settings import Settings
from starter import users
from starter.app import create_app
from store.db import SessionFactory
from store.models import ApiToken, Case, Event, Task, User
from tests.fake_regulation import FAKE_REGISTRY, FakeWorkflow
from tests.helpers import eventually
from worker import AssertionVerifier, workflow_runner

# The conftest fixtures used here: local_env (Temporal dev server with the search attributes),
# session_factory, clean_db, settings_factory.


@asynccontextmanager
async def fake_worker(
    client: Client, session_factory: SessionFactory, settings: Settings
) -> AsyncIterator[str]:
    queue = f"api-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[FakeWorkflow],
        activities=build_activities(session_factory, settings, client),
        workflow_runner=workflow_runner(strict=True),
        interceptors=[AssertionVerifier(settings.assertion_keys())],
    ):
        yield queue


@pytest_asyncio.fixture(loop_scope="session")
async def api(
    local_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    settings_factory: Any,
    clean_db: None,
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    async with fake_worker(local_env.client, session_factory, settings_factory()) as queue:
        settings = settings_factory(
            temporal_task_queue=queue,
            temporal_address=local_env.client.service_client.config.target_host,
        )
        app = create_app(
            settings,
            client=local_env.client,
            session_factory=session_factory,
            registry=FAKE_REGISTRY,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, settings


async def add_user(
    sf: SessionFactory, uid: str, roles: list[str], password: str = "secret-1"
) -> None:
    await users.create_user(sf, uid, f"测试用户 {uid}", password, roles)


async def bearer(sf: SessionFactory, uid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await users.issue_token(sf, uid, 'test')}"}


async def stored_case(http: httpx.AsyncClient, case_id: str, headers: dict[str, str]) -> Any:
    """GET the case once its first step (with its first task) is in the database."""
    return await eventually(
        lambda: http.get(f"/api/cases/{case_id}", headers=headers),
        lambda resp: resp.status_code == 200 and bool(resp.json()["tasks"]),
    )


def cid() -> str:
    return f"C{uuid.uuid4().hex[:10]}"


async def not_started(client: Client, case_id: str) -> bool:
    try:
        await client.get_workflow_handle(case_id).describe()
    except RPCError as exc:
        return exc.status == RPCStatusCode.NOT_FOUND
    return False


# ---- auth ----------------------------------------------------------------------------------------


async def test_login_cookie_and_password_hash(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "alice", ["staff"], "alice-pass-1")
    async with session_factory() as s:
        stored = (await s.get(User, "alice")).password_hash  # type: ignore[union-attr]
    assert stored.startswith("$argon2id$") and "alice-pass-1" not in stored

    assert (await http.get("/api/me")).status_code == 401
    bad = await http.post("/api/login", json={"login": "alice", "password": "wrong"})
    assert bad.status_code == 401
    assert (
        await http.post("/api/login", json={"login": "nobody", "password": "x"})
    ).status_code == 401

    ok = await http.post("/api/login", json={"login": "alice", "password": "alice-pass-1"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["roles"] == ["staff"]
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    me = await http.get("/api/me")
    assert me.status_code == 200 and me.json()["id"] == "alice"

    # A tampered cookie is no session.
    value = http.cookies["zhidu_session"]
    http.cookies.set("zhidu_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert (await http.get("/api/me")).status_code == 401

    assert (await http.post("/api/logout")).status_code == 204
    http.cookies.clear()
    assert (await http.get("/api/me")).status_code == 401

    # The form login the web pages use.
    form = await http.post("/api/login", data={"login": "alice", "password": "alice-pass-1"})
    assert form.status_code == 200
    assert (await http.get("/api/me")).status_code == 200


async def test_tokens_hashed_and_revocable(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "bob", ["staff"])
    await add_user(session_factory, "carol", ["clerk"])
    await add_user(session_factory, "root", ["admin"])
    headers = await bearer(session_factory, "bob")

    created = await http.post("/api/tokens", json={"name": "erp"}, headers=headers)
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["id"]
    assert token.startswith("zd_")
    async with session_factory() as s:
        hashes = list(await s.scalars(select(ApiToken.token_hash)))
    assert token not in hashes and all(len(h) == 64 for h in hashes)

    mine = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/api/me", headers=mine)).json()["id"] == "bob"
    assert (
        await http.get("/api/me", headers={"Authorization": "Bearer zd_nope"})
    ).status_code == 401

    # Someone else cannot revoke it (and does not learn it exists); its owner can.
    carol = await bearer(session_factory, "carol")
    assert (await http.delete(f"/api/tokens/{token_id}", headers=carol)).status_code == 404
    assert (await http.get("/api/me", headers=mine)).status_code == 200
    assert (await http.delete(f"/api/tokens/{token_id}", headers=headers)).status_code == 204
    assert (await http.get("/api/me", headers=mine)).status_code == 401

    # An administrator may revoke anyone's token.
    other = await http.post("/api/tokens", json={"name": "x"}, headers=headers)
    root = await bearer(session_factory, "root")
    assert (await http.delete(f"/api/tokens/{other.json()['id']}", headers=root)).status_code == 204
    bad_body = await http.post("/api/tokens", json={"name": ""}, headers=headers)
    assert bad_body.status_code == 422


# ---- cases ---------------------------------------------------------------------------------------


async def test_regulations_list(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "dan", ["staff"])
    r = await http.get("/api/regulations", headers=await bearer(session_factory, "dan"))
    assert r.status_code == 200
    (reg,) = r.json()
    assert reg["code"] == "fake" and reg["title_zh"] == "测试制度"
    assert "customer_id" in reg["input_schema"]["properties"]
    assert reg["policy_defaults"]["task_due"]["hours"] == 24
    actions = {a["name"]: a for a in reg["actions"]}
    assert set(actions) == {"complete_task", "extend_deadline", "pause_task", "resume_task", "note"}
    assert actions["note"]["kind"] == "signal" and actions["note"]["roles"] == ["supervisor"]
    assert "actor" not in actions["complete_task"]["input_schema"]["properties"]
    assert "actor" not in actions["complete_task"]["input_schema"].get("required", [])


async def test_start_state_and_duplicate(api, session_factory, local_env) -> None:
    http, settings = api
    await add_user(session_factory, "erin", ["staff"])
    h = await bearer(session_factory, "erin")
    customer = cid()
    body = {"customer_id": customer, "customer_name": "华东机械"}
    r = await http.post("/api/regulations/fake/cases", json=body, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    case_id = f"fake-{customer}"
    assert out["case_id"] == case_id and out["run_id"]
    assert out["console_url"] == (
        f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{case_id}"
    )

    desc = await local_env.client.get_workflow_handle(case_id).describe()
    attrs = {k.name: v for k, v in desc.typed_search_attributes if k.name != "BuildIds"}
    # Temporal's own TemporalChangeVersion names the patches the run took (worker.py).
    assert attrs == {
        "Regulation": "fake",
        "CustomerId": customer,
        "CaseStatus": "open",
        "TemporalChangeVersion": ["zhidu-signed-assertions"],
    }

    view = await eventually(
        lambda: http.get(f"/api/cases/{case_id}", headers=h),
        lambda resp: resp.status_code == 200 and bool(resp.json()["tasks"]),
    )
    view = view.json()
    assert view["title"] == "测试：华东机械" and view["status"] == "open"
    assert view["tasks"][0]["id"] == f"{case_id}/t1" and view["tasks"][0]["role"] == "staff"
    assert set(view["tasks"][0]["outcome_schemas"]) == {"done", "unreachable"}
    assert view["events"][0]["actor"] == "erin"
    assert view["console_url"].endswith(case_id)

    dup = await http.post("/api/regulations/fake/cases", json=body, headers=h)
    assert dup.status_code == 409
    assert dup.json() == {
        "detail": f"case {case_id} already exists (status running); a returning customer gets "
        "a new customer id",
        "field": "id",
    }

    # Closed, the id is still taken: the case's database rows are keyed by it.
    done = await http.post(f"/api/cases/{case_id}/tasks/t1/complete", json={}, headers=h)
    assert done.status_code == 200, done.text
    await local_env.client.get_workflow_handle(case_id).result()
    again = await http.post("/api/regulations/fake/cases", json=body, headers=h)
    assert again.status_code == 409, again.text
    assert "already exists (status completed)" in again.json()["detail"]
    desc = await local_env.client.get_workflow_handle(case_id).describe()
    assert desc.run_id == out["run_id"]  # no second run


async def test_people_named_must_be_active_users_with_the_role(
    api, session_factory, local_env
) -> None:
    http, _ = api
    await add_user(session_factory, "pia", ["staff"])
    await add_user(session_factory, "quinn", ["supervisor"])
    await add_user(session_factory, "ray", ["staff"])
    async with session_factory() as s:
        ray = await s.get(User, "ray")
        assert ray is not None
        ray.active = False
        await s.commit()
    staff, sup = await bearer(session_factory, "pia"), await bearer(session_factory, "quinn")
    customer = cid()
    body = {"customer_id": customer, "customer_name": "华东机械"}

    for owner, role_note in [("ghost", "unknown"), ("quinn", "wrong role"), ("ray", "inactive")]:
        r = await http.post(
            "/api/regulations/fake/cases", json={**body, "owner": owner}, headers=staff
        )
        assert r.status_code == 422, (role_note, r.text)
        assert r.json() == {
            "detail": f'no active user "{owner}" with role staff',
            "field": "owner",
        }
        assert await not_started(local_env.client, f"fake-{customer}")

    r = await http.post("/api/regulations/fake/cases", json={**body, "owner": "pia"}, headers=staff)
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    before = (await stored_case(http, case_id, staff)).json()

    # An action's people too: nothing is sent when one is wrong.
    r = await http.post(
        f"/api/cases/{case_id}/actions/note", json={"text": "x", "reviewer": "pia"}, headers=sup
    )
    assert r.status_code == 422 and r.json()["field"] == "reviewer"
    assert r.json()["detail"] == 'no active user "pia" with role supervisor'
    assert (await http.get(f"/api/cases/{case_id}", headers=staff)).json() == before
    r = await http.post(
        f"/api/cases/{case_id}/actions/note", json={"text": "x", "reviewer": "quinn"}, headers=sup
    )
    assert r.status_code == 200, r.text

    regs = (await http.get("/api/regulations", headers=staff)).json()
    assert regs[0]["people"] == {"owner": "staff"}
    note = next(a for a in regs[0]["actions"] if a["name"] == "note")
    assert note["people"] == {"reviewer": "supervisor"}


async def test_update_without_worker_times_out(
    api, session_factory, local_env, monkeypatch
) -> None:
    from starter import cases
    from tests.fake_regulation import FakeInput, FakePolicy
    from workflows.model import CaseStart

    http, _ = api
    await add_user(session_factory, "sol", ["staff"])
    h = await bearer(session_factory, "sol")
    case_id = f"fake-{cid()}"
    # A case on a task queue no worker polls.
    handle = await local_env.client.start_workflow(
        "test.fake",
        CaseStart(
            input=FakeInput(customer_id="X", customer_name="x").model_dump(mode="json"),
            policy=FakePolicy().model_dump(mode="json"),
            started_by="sol",
        ),
        id=case_id,
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
    )
    monkeypatch.setattr(cases, "UPDATE_TIMEOUT", timedelta(seconds=1))
    try:
        r = await http.post(f"/api/cases/{case_id}/tasks/t1/complete", json={}, headers=h)
        assert r.status_code == 504, r.text
        assert r.json()["detail"].startswith(f"no worker answered complete_task on {case_id}")
    finally:
        await handle.terminate("test over")


async def test_bad_input_names_field_and_starts_nothing(api, session_factory, local_env) -> None:
    http, _ = api
    await add_user(session_factory, "fay", ["staff"])
    await add_user(session_factory, "gus", ["clerk"])
    h = await bearer(session_factory, "fay")
    customer = cid()

    r = await http.post(
        "/api/regulations/fake/cases",
        json={"customer_id": customer + "!", "customer_name": "x"},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["field"] == "customer_id"
    assert await not_started(local_env.client, f"fake-{customer}!")

    r = await http.post("/api/regulations/fake/cases", json={"customer_id": customer}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "customer_name"
    assert await not_started(local_env.client, f"fake-{customer}")

    # Not a JSON object: 422 naming the body, in the one error shape, not echoing the input.
    r = await http.post("/api/regulations/fake/cases", json=[1, 2], headers=h)
    assert r.status_code == 422 and r.json()["field"] == "body"
    assert set(r.json()) == {"detail", "field"} and "[1, 2]" not in r.text

    # A role that may not start it.
    good = {"customer_id": customer, "customer_name": "x"}
    r = await http.post(
        "/api/regulations/fake/cases", json=good, headers=await bearer(session_factory, "gus")
    )
    assert r.status_code == 403
    assert await not_started(local_env.client, f"fake-{customer}")

    r = await http.post("/api/regulations/nope/cases", json=good, headers=h)
    assert r.status_code == 404 and r.json()["field"] == "code"
    assert (await http.post("/api/regulations/fake/cases", json=good)).status_code == 401
    assert await not_started(local_env.client, f"fake-{customer}")


async def test_unknown_case_is_404(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "hal", ["staff"])
    h = await bearer(session_factory, "hal")
    assert (await http.get("/api/cases/fake-missing", headers=h)).status_code == 404
    r = await http.post(
        "/api/cases/fake-missing/actions/complete_task",
        json={"task_id": "fake-missing/t1", "outcome": "done"},
        headers=h,
    )
    assert r.status_code == 404 and r.json()["field"] == "case_id"
    assert (await http.get("/api/cases/fake-missing/timeline", headers=h)).status_code == 404


async def test_act_forbidden_changes_nothing_then_done(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "ivy", ["staff"])
    await add_user(session_factory, "jon", ["clerk"])
    await add_user(session_factory, "kim", ["supervisor"])
    staff, clerk = await bearer(session_factory, "ivy"), await bearer(session_factory, "jon")
    sup = await bearer(session_factory, "kim")
    customer = cid()
    r = await http.post(
        "/api/regulations/fake/cases",
        json={"customer_id": customer, "customer_name": "y"},
        headers=staff,
    )
    case_id = r.json()["case_id"]
    before = (await stored_case(http, case_id, staff)).json()

    # The validator refuses the clerk even though the client claims to be staff.
    r = await http.post(
        f"/api/cases/{case_id}/actions/complete_task",
        json={
            "task_id": f"{case_id}/t1",
            "outcome": "done",
            "actor": {"id": "ivy", "roles": ["staff"]},
        },
        headers=clerk,
    )
    assert r.status_code == 403, r.text
    assert "jon may not complete task" in r.json()["detail"]
    assert (await http.get(f"/api/cases/{case_id}", headers=staff)).json() == before

    # Signal action limited to supervisors by the registry.
    r = await http.post(f"/api/cases/{case_id}/actions/note", json={"text": "hi"}, headers=staff)
    assert r.status_code == 403
    assert (await http.get(f"/api/cases/{case_id}", headers=staff)).json() == before

    # Payload validation names the field; the workflow's own refusal maps to 422 too.
    r = await http.post(
        f"/api/cases/{case_id}/actions/complete_task", json={"outcome": "done"}, headers=staff
    )
    assert r.status_code == 422 and r.json()["field"] == "task_id"
    r = await http.post(
        f"/api/cases/{case_id}/tasks/t1/complete", json={"outcome": "maybe"}, headers=staff
    )
    assert r.status_code == 422 and "outcome must be one of" in r.json()["detail"]
    r = await http.post(f"/api/cases/{case_id}/actions/nope", json={}, headers=staff)
    assert r.status_code == 404 and r.json()["field"] == "action"
    r = await http.post(
        f"/api/cases/{case_id}/tasks/t9/complete", json={"outcome": "done"}, headers=staff
    )
    assert r.status_code == 404

    r = await http.post(f"/api/cases/{case_id}/actions/note", json={"text": "ok"}, headers=sup)
    assert r.status_code == 200 and r.json()["ok"] is True

    # The short task id alias; the actor is the signed-in user.
    r = await http.post(
        f"/api/cases/{case_id}/tasks/t1/complete",
        json={"outcome": "unreachable", "data": {"note": "三次未接通"}},
        headers=staff,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and r.json()["closed_by"] == "ivy"

    r = await http.post(f"/api/cases/{case_id}/tasks/{case_id}/t1/complete", json={}, headers=staff)
    assert r.status_code == 409  # the task is done and the case has closed


async def test_my_tasks_and_case_reads(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "lea", ["staff"])
    await add_user(session_factory, "max", ["clerk"])
    now = datetime.now(UTC)
    async with session_factory() as s:
        s.add(
            Case(id="fake-D1", regulation="fake", title="测试", status="open", input={}, policy={})
        )
        for i, (role, assignee, status, due) in enumerate(
            [
                ("staff", None, "open", now + timedelta(hours=5)),
                ("staff", None, "open", now + timedelta(hours=1)),
                ("staff", "max", "open", now),  # lea: assigned to max; max: not staff
                ("clerk", "lea", "open", None),  # named, but lea does not hold the role clerk
                ("staff", None, "done", now),
                ("staff", "lea", "open", now + timedelta(hours=3)),  # lea's role and name
                ("clerk", None, "open", now + timedelta(hours=2)),  # any clerk
            ],
            start=1,
        ):
            s.add(
                Task(
                    id=f"fake-D1/t{i}",
                    case_id="fake-D1",
                    regulation="fake",
                    role=role,
                    assignee=assignee,
                    title=f"任务 {i}",
                    clause="T 1",
                    kind="call",
                    status=status,
                    due_at=due,
                    created_at=now,
                )
            )
        s.add(Event(case_id="fake-D1", seq=2, at=now, kind="b", detail={}))
        s.add(Event(case_id="fake-D1", seq=1, at=now, kind="a", detail={"x": 1}))
        await s.commit()
    lea = await bearer(session_factory, "lea")
    r = await http.get("/api/tasks/mine", headers=lea)
    assert [t["id"] for t in r.json()] == ["fake-D1/t2", "fake-D1/t6", "fake-D1/t1"]
    max_ = await bearer(session_factory, "max")
    assert [t["id"] for t in (await http.get("/api/tasks/mine", headers=max_)).json()] == [
        "fake-D1/t7"
    ]

    cases = (await http.get("/api/cases", params={"regulation": "fake"}, headers=lea)).json()
    assert [c["id"] for c in cases] == ["fake-D1"]
    assert (await http.get("/api/cases", params={"status": "closed"}, headers=lea)).json() == []
    tl = (await http.get("/api/cases/fake-D1/timeline", headers=lea)).json()
    assert [e["kind"] for e in tl] == ["a", "b"] and tl[0]["detail"] == {"x": 1}
    assert (await http.get("/api/cases/fake-D1/records", headers=lea)).json() == []
    assert (await http.get("/api/cases/fake-D1/ledger", headers=lea)).json() == []
    assert (await http.get("/api/tasks/mine")).status_code == 401


def test_may_act() -> None:
    from workflows.authority import may_act

    assert may_act("staff", None, "ann", ["staff"])
    assert may_act("staff", "ann", "ann", ["clerk", "staff"])
    assert not may_act("staff", "bob", "ann", ["staff"])  # named someone else
    assert not may_act("clerk", "ann", "ann", ["staff"])  # named, but without the role
    assert not may_act("staff", None, "ann", [])


def test_one_table_per_fact() -> None:
    """Roles, search attribute keys and the task id helper each live in one place."""
    import worker
    from activities import starts
    from starter import api, cases
    from workflows import search
    from workflows.regulations import ROLE_BOOK

    assert users.ROLE_BOOK is ROLE_BOOK
    assert ROLE_BOOK.names["clerk"] == ("销售/客服文员", "Clerk")
    assert not hasattr(api, "_full_task_id")
    assert cases.full_task_id("c-1", "t3") == "c-1/t3"
    assert cases.full_task_id("c-1", "c-1/t3") == "c-1/t3"
    assert not any(name.startswith("SA_") for name in vars(cases))
    assert starts.REGULATION is search.REGULATION  # search attributes are set in starts
    assert worker.SEARCH_ATTRIBUTES is search.SEARCH_ATTRIBUTES


# ---- policy file, signature verification ------------------------------------------------------


def test_policy_file_overlay(tmp_path, settings_factory) -> None:
    from activities.errors import ConfigError
    from activities.policy import load_policy
    from tests.fake_regulation import FAKE, FakePolicy

    settings = settings_factory()
    assert load_policy(FAKE, settings) == FakePolicy()
    path = tmp_path / "policy.json"
    settings = settings_factory(policy_file=path)
    path.write_text('{"fake": {"fine_yuan": 250}, "other": {"x": 1}}', encoding="utf-8")
    policy = load_policy(FAKE, settings)
    assert isinstance(policy, FakePolicy)
    assert policy.fine_yuan == 250 and policy.task_due.hours == 24
    for content, needle in [
        ('{"fake": {"fine_yuan": -1}}', "fake.fine_yuan"),
        ('{"fake": {"fine": 1}}', "no policy field(s) fine"),
        ("{oops", "not valid JSON"),
        ('{"fake": 3}', "must be an object"),
    ]:
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_policy(FAKE, settings)
        assert needle in str(err.value) and str(path) in str(err.value)


class _FakeVerify(BaseModel):
    ok: bool
    reason: str | None = None
    signer: str | None = None
    signed_at: datetime | None = None


def fake_signing_module(calls: list[tuple[str, str]]) -> types.ModuleType:
    """A stand-in for activities.signing (Sealer, verify_signature)."""
    mod = types.ModuleType("activities.signing")

    class Sealer:
        public_key_b64 = "PUBKEY"

        @classmethod
        def load_or_create(cls, path: Any) -> Sealer:
            return cls()

    async def verify_signature(sf: Any, signature_id: str, key: str) -> _FakeVerify:
        calls.append((signature_id, key))
        if signature_id.endswith("/bad"):
            return _FakeVerify(ok=False, reason="record changed after signing")
        return _FakeVerify(ok=True, signer="张三", signed_at=datetime(2026, 1, 2, tzinfo=UTC))

    mod.Sealer = Sealer  # type: ignore[attr-defined]
    mod.verify_signature = verify_signature  # type: ignore[attr-defined]
    return mod


async def test_verify_signature_endpoint(api, session_factory, monkeypatch) -> None:
    http, _ = api
    calls: list[tuple[str, str]] = []
    monkeypatch.setitem(sys.modules, "activities.signing", fake_signing_module(calls))
    await add_user(session_factory, "nia", ["clerk"])
    h = await bearer(session_factory, "nia")
    r = await http.get("/api/signatures/revisit-C1/visit_record/1/sig/1/verify", headers=h)
    assert r.status_code == 200
    assert r.json()["ok"] is True and r.json()["signer"] == "张三"
    r = await http.get("/api/signatures/revisit-C1/visit_record/1/bad/verify", headers=h)
    assert r.json() == {
        "ok": False,
        "reason": "record changed after signing",
        "signer": None,
        "signed_at": None,
    }
    assert calls == [
        ("revisit-C1/visit_record/1/sig/1", "PUBKEY"),
        ("revisit-C1/visit_record/1/bad", "PUBKEY"),
    ]
    assert (await http.get("/api/signatures/x/verify")).status_code == 401


async def test_verify_unknown_signature_real_sealer(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "olga", ["clerk"])
    r = await http.get(
        "/api/signatures/fake-X/r/1/sig/9/verify", headers=await bearer(session_factory, "olga")
    )
    assert r.status_code == 200 and r.json()["ok"] is False
