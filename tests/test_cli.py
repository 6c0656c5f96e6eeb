"""The `zhidu` CLI in-process: `main(argv, exit=sys.exit)` in a thread (it runs its own event
loop, database engine and Temporal client), against the Temporal dev server and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import sys
import types
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import build_activities
from activities.workcalendar import LoadedYear
from settings import Settings
from starter import users
from starter.cli import main
from store.models import ApiToken, Task, User
from tests.fake_regulation import FAKE_REGISTRY, FakeWorkflow
from worker import AssertionVerifier, workflow_runner
from workflows.model import CalendarData, CaseView


@pytest_asyncio.fixture(loop_scope="session")
async def cli_settings(
    local_env: WorkflowEnvironment, settings_factory: Any, clean_db: Any, session_factory: Any
) -> AsyncIterator[Settings]:
    queue = f"cli-{uuid.uuid4().hex[:8]}"
    settings = settings_factory(
        temporal_task_queue=queue,
        temporal_address=local_env.client.service_client.config.target_host,
    )
    async with Worker(
        local_env.client,
        task_queue=queue,
        workflows=[FakeWorkflow],
        activities=build_activities(session_factory, settings, local_env.client),
        workflow_runner=workflow_runner(strict=True),
        interceptors=[AssertionVerifier(settings.assertion_keys())],
    ):
        yield settings


async def zhidu(
    capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str
) -> tuple[int, str, str]:
    """Run `zhidu argv...`; return (exit code, stdout, stderr)."""

    def run() -> int:
        try:
            main(list(argv), exit=sys.exit, settings=settings, registry=FAKE_REGISTRY)
        except SystemExit as exc:
            return int(exc.code or 0)
        raise AssertionError("main() returned without calling exit")

    capsys.readouterr()
    code = await asyncio.to_thread(run)
    out, err = capsys.readouterr()
    return code, out, err


async def test_users_demo_add_token_revoke(capsys, cli_settings, session_factory) -> None:
    code, out, err = await zhidu(capsys, cli_settings, "users", "demo")
    assert code == 0, err
    assert "staff-demo" in out and "president_office,quality_specialist" in out
    async with session_factory() as s:
        staff = await s.get(User, "staff")
        assert staff is not None and staff.name == "张晓明"  # a person's name; roles apart
        assert "staff-demo" not in staff.password_hash
    assert await users.authenticate(session_factory, "staff", "staff-demo") is not None
    # Idempotent.
    assert (await zhidu(capsys, cli_settings, "users", "demo"))[0] == 0

    code, out, err = await zhidu(
        capsys, cli_settings, "users", "add", "wang", "--name", "王五", "--role", "staff,clerk",
        "--password", "wang-pass-1",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await zhidu(
        capsys, cli_settings, "users", "add", "wang", "--name", "x", "--role", "staff",
        "--password", "wang-pass-1",
    )  # fmt: skip
    assert code == 1 and err == "zhidu: user wang already exists\n"
    code, out, err = await zhidu(
        capsys, cli_settings, "users", "add", "li", "--name", "x", "--role", "boss",
        "--password", "li-pass-12",
    )  # fmt: skip
    assert (
        code == 2 and err.count("\n") == 1 and err.startswith("zhidu: roles: unknown role 'boss'")
    )

    code, out, err = await zhidu(capsys, cli_settings, "users", "list")
    assert code == 0 and "wang" in out and "staff,clerk" in out

    code, out, err = await zhidu(capsys, cli_settings, "users", "token", "wang", "--name", "erp")
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("zd_")
    assert (await users.user_for_token(session_factory, token)).id == "wang"  # type: ignore[union-attr]
    code, out, err = await zhidu(capsys, cli_settings, "users", "revoke", token)
    assert code == 0, err
    assert await users.user_for_token(session_factory, token) is None
    async with session_factory() as s:
        row = await s.get(ApiToken, 1)
        assert row is not None and row.revoked_at is not None


async def test_start_show_act(capsys, cli_settings, session_factory, local_env) -> None:
    await users.ensure_demo_users(session_factory)
    customer = f"C{uuid.uuid4().hex[:8]}"
    case_id = f"fake-{customer}"
    inp = json.dumps({"customer_id": customer, "customer_name": "西南电力"}, ensure_ascii=False)

    code, out, err = await zhidu(
        capsys, cli_settings, "start", "fake", "--as", "staff", "--input", inp
    )
    assert code == 0, err
    assert f"started {case_id}" in out and f"/workflows/{case_id}" in out

    code, out, err = await zhidu(capsys, cli_settings, "show", case_id)
    assert code == 0, err
    assert "  t1  " in out and "电话回访" in out and "[T 1.1]" in out
    assert "销售/客服人员" in out and "结果可选：完成（done）、" in out and "unreachable" in out
    assert "task_opened" not in out and "新任务《" in out  # the timeline in sentences
    assert f"Temporal 控制台：{cli_settings.temporal_ui_url}" in out

    code, out, err = await zhidu(capsys, cli_settings, "show", case_id, "--json")
    assert code == 0
    view = json.loads(out)
    assert view["tasks"][0]["status"] == "open" and view["console_url"].endswith(case_id)

    data = json.dumps({"task_id": f"{case_id}/t1", "outcome": "done"})
    code, out, err = await zhidu(
        capsys, cli_settings, "act", case_id, "complete_task", "--as", "clerk", "--data", data
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("zhidu: clerk may not complete task")

    code, out, err = await zhidu(
        capsys, cli_settings, "act", case_id, "complete_task", "--as", "staff", "--data", data,
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["status"] == "done" and json.loads(out)["closed_by"] == "staff"

    code, out, err = await zhidu(
        capsys, cli_settings, "start", "fake", "--as", "staff", "--input", inp
    )
    # The case finished after its only task; its id is still taken (its rows are keyed by it).
    assert code == 1 and out == ""
    assert err == (
        f"zhidu: case {case_id} already exists (status completed); a returning customer gets a "
        "new customer id\n"
    )

    # The people a case names must be active users with the role.
    other = json.dumps({"customer_id": f"{customer}x", "customer_name": "x", "owner": "clerk"})
    code, out, err = await zhidu(
        capsys, cli_settings, "start", "fake", "--as", "staff", "--input", other
    )
    assert code == 2 and err == 'zhidu: owner: no active user "clerk" with role staff\n'


async def test_errors_are_one_line(capsys, cli_settings, session_factory, local_env) -> None:
    await users.ensure_demo_users(session_factory)

    code, out, err = await zhidu(
        capsys, cli_settings, "start", "fake", "--as", "staff", "--input", "{bad json"
    )
    assert code == 2 and out == ""
    assert err.startswith("zhidu: --input is not valid JSON") and err.count("\n") == 1

    code, _, err = await zhidu(
        capsys, cli_settings, "start", "fake", "--as", "staff", "--input", '{"customer_id": "X!"}'
    )
    assert code == 2 and err.count("\n") == 1 and err.startswith("zhidu: customer_id: ")
    try:
        await local_env.client.get_workflow_handle("fake-X!").describe()
        raise AssertionError("a refused start must start nothing")
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND

    code, _, err = await zhidu(
        capsys, cli_settings, "start", "fake", "--as", "ghost", "--input", "{}"
    )
    assert code == 1 and err == "zhidu: no user ghost (see `zhidu users list`)\n"

    code, _, err = await zhidu(capsys, cli_settings, "start", "fake", "--input", "{}")
    assert code == 2 and err.count("\n") == 1 and "--as" in err

    code, _, err = await zhidu(capsys, cli_settings, "show", "fake-nothing")
    assert code == 1 and err == "zhidu: no case fake-nothing\n"

    code, _, err = await zhidu(
        capsys,
        cli_settings,
        "act",
        "fake-x",
        "complete_task",
        "--as",
        "staff",
        "--data",
        "@/nonexistent.json",
    )
    assert code == 2 and err.startswith("zhidu: --data: cannot read") and err.count("\n") == 1

    code, _, err = await zhidu(capsys, cli_settings, "bogus")
    assert code == 2 and err.count("\n") == 1


async def test_verify(capsys, cli_settings, monkeypatch) -> None:
    from tests.test_api import fake_signing_module

    calls: list[tuple[str, str]] = []
    monkeypatch.setitem(sys.modules, "activities.signing", fake_signing_module(calls))
    code, out, err = await zhidu(capsys, cli_settings, "verify", "revisit-C1/r/1/sig/1")
    assert code == 0, err
    assert json.loads(out)["ok"] is True and calls == [("revisit-C1/r/1/sig/1", "PUBKEY")]
    code, out, err = await zhidu(capsys, cli_settings, "verify", "revisit-C1/r/1/bad")
    assert code == 1 and json.loads(out)["reason"] == "record changed after signing"


async def test_calendar_load_signals_provisional_cases(
    capsys, cli_settings, session_factory, local_env, monkeypatch, tmp_path
) -> None:
    await users.ensure_demo_users(session_factory)
    loaded: list[tuple[str, str]] = []

    async def load_year(sf: Any, path: Any, loaded_by: str) -> LoadedYear:
        loaded.append((str(path), loaded_by))
        return LoadedYear(year=2027, days=3)

    # Two running cases; only the one with a provisional open task is told.
    ids = []
    for _ in range(2):
        customer = f"C{uuid.uuid4().hex[:8]}"
        inp = json.dumps({"customer_id": customer, "customer_name": "x"})
        code, _, err = await zhidu(
            capsys, cli_settings, "start", "fake", "--as", "staff", "--input", inp
        )
        assert code == 0, err
        ids.append(f"fake-{customer}")
    now = datetime.now(UTC)
    async with session_factory() as s:
        for case_id, provisional in zip(ids, (True, False), strict=True):
            s.add(
                Task(
                    id=f"{case_id}/t99", case_id=case_id, regulation="fake", role="staff",
                    title="t", clause="T", kind="call", status="open", due_at=now,
                    provisional=provisional, created_at=now,
                )
            )  # fmt: skip
        await s.commit()

    mod = types.ModuleType("activities.workcalendar")

    async def calendar_data(sf: Any, years: list[int]) -> CalendarData:
        return CalendarData()

    mod.load_year = load_year  # type: ignore[attr-defined]
    mod.calendar_data = calendar_data  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "activities.workcalendar", mod)
    file = tmp_path / "2027.json"
    file.write_text("{}", encoding="utf-8")

    code, _, err = await zhidu(capsys, cli_settings, "calendar", "load", str(file), "--as", "staff")
    assert code == 1 and "only 系统管理员 (admin)" in err and loaded == []

    code, out, err = await zhidu(
        capsys, cli_settings, "calendar", "load", str(file), "--as", "admin"
    )
    assert code == 0, err
    assert loaded == [(str(file), "admin")]
    assert "loaded calendar year 2027: 3 days" in out and "1 case(s)" in out

    async def kinds(case_id: str) -> list[str]:
        view = await local_env.client.get_workflow_handle(case_id).query(
            "state", result_type=CaseView
        )
        return [e.kind for e in view.events]

    for _ in range(50):
        if "calendar_updated" in await kinds(ids[0]):
            break
        await asyncio.sleep(0.1)
    assert "calendar_updated" in await kinds(ids[0])
    assert "calendar_updated" not in await kinds(ids[1])

    code, _, err = await zhidu(
        capsys, cli_settings, "calendar", "load", "/nope.json", "--as", "admin"
    )
    assert code == 2 and err == "zhidu: no calendar file /nope.json\n"


def test_web_refuses_the_public_session_secret(capsys, settings_factory, monkeypatch) -> None:
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw))

    def web(settings: Settings) -> tuple[int, str]:
        capsys.readouterr()
        try:
            main(["web", "--port", "8123"], exit=sys.exit, settings=settings)
        except SystemExit as exc:
            return int(exc.code or 0), capsys.readouterr().err
        return 0, capsys.readouterr().err

    code, err = web(settings_factory())
    assert code == 1 and served == []
    assert err.count("\n") == 1 and "set ZHIDU_SESSION_SECRET" in err
    code, err = web(settings_factory(session_secret="s3cret-for-this-test-only"))
    assert code == 0 and served == [{"host": "127.0.0.1", "port": 8123, "log_config": None}], err
