"""What a careless client or an attacker sends is refused with a 4xx in the one error shape,
changes nothing, and never becomes a 5xx; a service that does not answer is a 503 with
Retry-After; sessions end on the server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from settings import Settings
from starter import users
from starter.app import create_app
from starter.auth import SESSION_COOKIE
from starter.cases import act
from store.db import make_engine, make_session_factory
from store.models import Case, User, WebSession
from tests.test_api import add_user, bearer, cid, stored_case
from tests.test_api import api as api  # noqa: F401 - the fixture

pytestmark = pytest.mark.asyncio(loop_scope="session")


def shape(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"detail", "field"}, body
    return body  # type: ignore[no-any-return]


async def test_nul_and_out_of_range_input_is_a_422_and_changes_nothing(
    api, session_factory
) -> None:
    http, _ = api
    await add_user(session_factory, "nul", ["staff", "supervisor"])
    h = await bearer(session_factory, "nul")
    customer = cid()

    r = await http.post("/api/login", json={"login": "nul\x00", "password": "x"})
    assert r.status_code == 422 and shape(r)["field"] == "login"
    r = await http.post(
        "/api/regulations/fake/cases",
        json={"customer_id": customer, "customer_name": "坏\x00名"},
        headers=h,
    )
    assert r.status_code == 422 and shape(r)["field"] == "customer_name"
    assert not (await http.get("/api/cases", headers=h)).json()
    r = await http.get("/api/cases", params={"status": "open\x00"}, headers=h)
    assert r.status_code == 422 and shape(r)["field"] == "query"
    for path in ("/api/cases/x%00y", "/api/cases/x%00y/timeline", "/api/cases/x%00y/records",
                 "/api/signatures/a%00b/verify"):  # fmt: skip
        r = await http.get(path, headers=h)
        assert r.status_code == 422 and shape(r)["field"] == "path", path
    r = await http.post("/api/tokens", json={"name": "t\x00"}, headers=h)
    assert r.status_code == 422 and shape(r)["field"] == "name"
    r = await http.delete("/api/tokens/9223372036854775808", headers=h)
    assert r.status_code == 422 and shape(r)["field"] == "token_id"
    r = await http.delete("/api/tokens/9223372036854775807", headers=h)
    assert r.status_code == 404

    r = await http.post(
        "/api/regulations/fake/cases",
        json={"customer_id": customer, "customer_name": "好"},
        headers=h,
    )
    assert r.status_code == 201
    case_id = r.json()["case_id"]
    await stored_case(http, case_id, h)
    r = await http.post(
        f"/api/cases/{case_id}/tasks/t1/extend",
        json={"new_due": "9999-12-31T23:59:59-14:00", "reason": "超长"},
        headers=h,
    )
    assert r.status_code == 422 and shape(r)["field"] == "new_due"
    r = await http.post(
        f"/api/cases/{case_id}/tasks/t1/complete",
        json={"outcome": "done", "data": {"note": "计划\x00内容"}},
        headers=h,
    )
    assert r.status_code == 422 and "control characters" in shape(r)["detail"]
    task = (await http.get(f"/api/cases/{case_id}", headers=h)).json()["tasks"][0]
    assert task["status"] == "open"  # nothing changed


async def test_large_bodies_are_refused_and_errors_never_echo_the_input(
    api, session_factory
) -> None:
    http, _ = api
    await add_user(session_factory, "big", ["staff"])
    h = await bearer(session_factory, "big")
    r = await http.post(
        "/api/regulations/fake/cases", content=b'{"x": "' + b"a" * 2_000_000 + b'"}',
        headers={**h, "content-type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 413 and shape(r)["field"] == "body"
    secret = "客户手机 13800000000"
    r = await http.post(
        "/api/regulations/fake/cases",
        json={"customer_id": "bad id!", "customer_name": secret},
        headers=h,
    )
    assert r.status_code == 422 and secret not in r.text and "13800000000" not in r.text


async def test_a_malformed_cookie_header_is_a_400_not_a_crash(api, session_factory) -> None:
    """Found by the API fuzzing: a Cookie header Python's http.cookies cannot parse (a `$name`
    attribute, bytes that are not UTF-8) crashed the CSRF check (500). It is refused with 400
    and the field, on the API and on the pages, and signs nobody out."""
    http, _ = api
    for header in (b"zhidu_session=abc; $zq!'x=1", b"a=b; $=1", "a=\u00e9".encode("latin-1")):
        r = await http.post("/api/logout", headers={"cookie": header})
        assert r.status_code == 400 and shape(r)["field"] == "cookie", r.text
        page = await http.get("/work", headers={"cookie": header})
        assert page.status_code == 400 and "Cookie" in page.text
    assert (await http.get("/login")).status_code == 200  # a plain request still passes


async def test_start_and_read_routes_do_not_collide(api, session_factory) -> None:
    http, _ = api
    r = await http.options("/api/cases/fake-x")
    assert r.status_code in (405, 401) and "post" not in r.headers.get("allow", "").lower()
    spec = (await http.get("/openapi.json")).json()
    assert "post" in spec["paths"]["/api/regulations/{code}/cases"]
    assert set(spec["paths"]["/api/cases/{case_id}"]) == {"get"}
    # Every route documents its refusals in the one shape.
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            codes = set(op["responses"])
            assert {"413", "503"} <= codes, (method, path)
            for code in codes - {"200", "201", "204"}:
                schema = op["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)


async def test_timestamps_are_china_time(api, session_factory) -> None:
    http, _ = api
    await add_user(session_factory, "tz", ["staff"])
    h = await bearer(session_factory, "tz")
    r = await http.post(
        "/api/regulations/fake/cases",
        json={"customer_id": cid(), "customer_name": "时区"},
        headers=h,
    )
    view = (await stored_case(http, r.json()["case_id"], h)).json()
    assert view["started_at"].endswith("+08:00") and view["tasks"][0]["due_at"].endswith("+08:00")
    assert all(e["at"].endswith("+08:00") for e in view["events"])
    # A workflow's answer (a completed task) too: no UTC "Z" stamps next to +08:00 ones.
    done = await http.post(f"/api/cases/{view['case_id']}/tasks/t1/complete", json={}, headers=h)
    assert done.status_code == 200, done.text
    stamps = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]+)"', done.text)
    assert len(stamps) >= 3 and all(t.endswith("+08:00") for t in stamps), stamps


async def test_sessions_end_on_the_server(api, session_factory) -> None:
    http, _ = api
    await users.create_user(session_factory, "sess", "会话", "sess-pass-123", ["staff"])
    login = {"login": "sess", "password": "sess-pass-123"}
    assert (await http.post("/api/login", json=login)).status_code == 200
    cookie = http.cookies[SESSION_COOKIE]
    assert (await http.get("/api/me")).status_code == 200
    assert (await http.post("/api/logout")).status_code == 204
    http.cookies.set(SESSION_COOKIE, cookie)  # the old cookie, replayed after logout
    r = await http.get("/api/me")
    assert r.status_code == 401 and shape(r)["detail"].startswith("not signed in")

    # Idle too long, or signed in too long ago: the session is over.
    http.cookies.clear()
    await http.post("/api/login", json=login)
    async with session_factory() as s:
        await s.execute(
            update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=3))
        )
        await s.commit()
    assert (await http.get("/api/me")).status_code == 401
    http.cookies.clear()
    await http.post("/api/login", json=login)
    async with session_factory() as s:
        await s.execute(
            update(WebSession)
            .where(WebSession.revoked_at.is_(None))
            .values(expires_at=datetime.now(UTC))
        )
        await s.commit()
    assert (await http.get("/api/me")).status_code == 401
    http.cookies.clear()


async def test_password_hashes_and_login_throttle(api, session_factory) -> None:
    http, _ = api
    await users.create_user(session_factory, "old", "旧哈希", "old-pass-123", ["staff"])
    legacy = (
        "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA$"
        + users.base64.urlsafe_b64encode(
            users.hashlib.scrypt(b"old-pass-123", salt=b"saltsaltsaltsalt", n=16384, r=8, p=1, dklen=32)
        ).decode().rstrip("=")
    )  # fmt: skip
    async with session_factory() as s:
        await s.execute(update(User).where(User.id == "old").values(password_hash=legacy))
        await s.commit()
    assert (
        await http.post("/api/login", json={"login": "old", "password": "old-pass-123"})
    ).status_code == 200
    async with session_factory() as s:
        stored = await s.scalar(select(User.password_hash).where(User.id == "old"))
    assert stored is not None and stored.startswith("$argon2id$")  # rehashed at sign-in
    http.cookies.clear()
    for _ in range(5):
        r = await http.post("/api/login", json={"login": "old", "password": "wrong"})
        assert r.status_code == 401
    r = await http.post("/api/login", json={"login": "old", "password": "old-pass-123"})
    assert r.status_code == 429 and shape(r)["field"] == "login"


async def test_database_down_is_503_and_an_applied_action_still_answers(
    api, session_factory, settings_factory, local_env
) -> None:
    http, settings = api
    dead = make_session_factory(make_engine("postgresql://postgres@127.0.0.1:9/nowhere"))
    down = create_app(settings, client=local_env.client, session_factory=dead)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=down), base_url="http://t"
    ) as h2:
        r = await h2.get("/api/tasks/mine", headers={"Authorization": "Bearer zd_x"})
    assert r.status_code == 503 and r.headers["retry-after"] and shape(r)
    # The workflow applied the completion; the database then went away: the caller still gets
    # the workflow's answer, not a 500 (and not a 409 on retry).
    await add_user(session_factory, "down", ["staff"])
    h = await bearer(session_factory, "down")
    r = await http.post(
        "/api/regulations/fake/cases", json={"customer_id": cid(), "customer_name": "断"}, headers=h
    )
    case_id = r.json()["case_id"]
    await stored_case(http, case_id, h)
    user = await users.get_user(session_factory, "down")
    assert user is not None
    result = await act(
        local_env.client, case_id, "complete_task", {"task_id": "t1", "outcome": "done"}, user,
        registry=down.state.zhidu.registry or __import__("tests.fake_regulation", fromlist=["x"]).FAKE_REGISTRY,
        session_factory=dead, settings=settings,
    )  # fmt: skip
    assert result["status"] == "done"
    async with session_factory() as s:
        assert await s.get(Case, case_id) is not None
    _ = Settings


async def test_healthz_names_the_service_that_does_not_answer(
    api, session_factory, local_env
) -> None:
    http, settings = api
    r = await http.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "temporal": "ok"}
    from temporalio.client import Client

    dead_db = make_session_factory(make_engine("postgresql://postgres@127.0.0.1:9/nowhere"))
    nowhere = await Client.connect("127.0.0.1:9", lazy=True)
    for client, factory, expected in (
        (local_env.client, dead_db, {"database": "unavailable", "temporal": "ok"}),
        (nowhere, session_factory, {"database": "ok", "temporal": "unavailable"}),
    ):
        app = create_app(settings, client=client, session_factory=factory)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as h2:
            r = await h2.get("/healthz")
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json() == {"status": "unavailable", **expected}


async def test_unavailable_is_found_through_wrapped_causes() -> None:
    """What the fault drill saw: asyncpg's lost connection wrapped in a plain DBAPIError, and
    Temporal restarting reported as UNKNOWN with a transport message; both mean "retry"."""
    from sqlalchemy.exc import DBAPIError, IntegrityError
    from temporalio.service import RPCError, RPCStatusCode

    from store.db import is_unavailable

    class ConnectionDoesNotExistError(Exception):  # asyncpg's name
        pass

    lost = DBAPIError("SELECT 1", None, ConnectionDoesNotExistError("closed mid-operation"))
    assert is_unavailable(lost)
    try:
        try:
            raise OSError(111, "Connection refused")
        except OSError as inner:
            raise RuntimeError("while reading") from inner
    except RuntimeError as outer:
        assert is_unavailable(outer)
    restarting = RPCError("tcp connect error: Connection refused", RPCStatusCode.UNKNOWN, b"")
    assert is_unavailable(restarting)
    # A refusal of the data or a server's real error is not "unavailable".
    assert not is_unavailable(IntegrityError("INSERT", None, ValueError("duplicate key")))
    assert not is_unavailable(RPCError("bad request", RPCStatusCode.INVALID_ARGUMENT, b""))
    assert not is_unavailable(RPCError("panic", RPCStatusCode.UNKNOWN, b""))
    assert not is_unavailable(ValueError("bad"))


async def test_api_docs_work_offline(api) -> None:
    """/docs loads Swagger UI 5 from this server (fastapi-offline's files), never from a CDN."""
    http, _ = api
    page = await http.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    js = await http.get("/static/swagger/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
