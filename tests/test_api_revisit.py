"""The HTTP API with the real R1 regulation, worker and activities on the Temporal dev server:
a case started, its tasks listed, completed and extended by the people the regulation names,
with what the API answers agreeing with what the database then shows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio

from starter import users
from starter.app import create_app
from tests.helpers import case_worker

START = {
    "customer_id": "C1024",
    "customer_name": "华南物业",
    "customer_class": "key",
    "go_live": "2026-10-20",
    "owner": "staff",
    "supervisor": "boss",
    "contacts": [{"name": "王工", "phone": "13800000000"}],
}


@pytest_asyncio.fixture(loop_scope="session")
async def http(local_env, session_factory, settings_factory, clean_db) -> AsyncIterator[Any]:
    settings = settings_factory(
        temporal_task_queue=f"api-r1-{uuid.uuid4().hex[:6]}",
        temporal_address=local_env.client.service_client.config.target_host,
    )
    async with case_worker(
        local_env.client, session_factory, settings, settings.temporal_task_queue
    ):
        app = create_app(settings, client=local_env.client, session_factory=session_factory)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    await local_env.client.get_workflow_handle("revisit-C1024").terminate("test over")


async def login(http: Any, session_factory: Any, uid: str, roles: list[str]) -> dict[str, str]:
    if await users.get_user(session_factory, uid) is None:  # the worker made the demo users
        await users.create_user(session_factory, uid, f"用户 {uid}", f"{uid}-pass-1", roles)
    token = await users.issue_token(session_factory, uid, "test")
    return {"Authorization": f"Bearer {token}"}


async def test_people_work_an_r1_case_through_the_api(http, session_factory) -> None:
    staff = await login(http, session_factory, "staff", ["staff"])
    boss = await login(http, session_factory, "boss", ["supervisor"])

    regs = (await http.get("/api/regulations", headers=staff)).json()
    r1 = next(r for r in regs if r["code"] == "revisit")
    assert r1["title_zh"] == "公司客户回访管理规定"
    assert r1["policy_defaults"]["materials_due"]["days"] == 3

    started = await http.post("/api/regulations/revisit/cases", json=START, headers=staff)
    assert started.status_code == 201, started.text
    assert started.json()["case_id"] == "revisit-C1024"
    again = await http.post("/api/regulations/revisit/cases", json=START, headers=staff)
    assert again.status_code == 409

    mine: list[dict[str, Any]] = []
    for _ in range(50):
        mine = (await http.get("/api/tasks/mine", headers=staff)).json()
        if len(mine) == 3:
            break
    kinds = {t["kind"]: t for t in mine}
    # Go-live a month ago: the first phone revisit is due today, appointment booked or not.
    assert set(kinds) == {"plan", "appointment", "visit"}
    assert kinds["plan"]["clause"] == "R1 4.2(1)"  # which clause put it on the desk

    plan_done = await http.post(
        f"/api/cases/revisit-C1024/tasks/{kinds['plan']['id']}/complete",
        json={
            "outcome": "done",
            "data": {"purposes": ["product_use"], "methods": ["phone"], "content": "首次电话回访"},
        },
        headers=staff,
    )
    assert plan_done.status_code == 200, plan_done.text
    # Read-your-writes: the very next read of the database agrees.
    after = (await http.get("/api/tasks/mine", headers=staff)).json()
    assert sorted(t["kind"] for t in after) == ["appointment", "visit"]
    records = (await http.get("/api/cases/revisit-C1024/records", headers=staff)).json()
    assert [r["kind"] for r in records] == ["revisit_plan"]
    assert records[0]["signatures"] == [] and records[0]["title"] == "《客户回访计划》"

    appt = kinds["appointment"]
    due = datetime.fromisoformat(appt["due_at"])
    refused = await http.post(
        f"/api/cases/revisit-C1024/tasks/{appt['id']}/extend",
        json={"new_due": (due + timedelta(days=2)).isoformat(), "reason": "客户出差"},
        headers=staff,
    )
    assert refused.status_code == 403, refused.text
    assert "部门主管" in refused.json()["detail"]
    moved = await http.post(
        f"/api/cases/revisit-C1024/tasks/{appt['id']}/extend",
        json={"new_due": (due + timedelta(days=2)).isoformat(), "reason": "客户出差"},
        headers=boss,
    )
    assert moved.status_code == 200, moved.text
    stored = (await http.get("/api/tasks/mine", headers=staff)).json()
    stored_appt = next(t for t in stored if t["kind"] == "appointment")
    assert datetime.fromisoformat(stored_appt["due_at"]) == due + timedelta(days=2)
    timeline = (await http.get("/api/cases/revisit-C1024/timeline", headers=boss)).json()
    assert any(e["kind"] == "deadline_extended" and e["actor"] == "boss" for e in timeline)

    state = (await http.get("/api/cases/revisit-C1024", headers=boss)).json()
    assert state["status"] == "open" and state["console_url"].endswith("/workflows/revisit-C1024")
