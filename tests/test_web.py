"""The web pages end to end: the real app (API + pages + CSRF middleware), the real database,
the Temporal dev server and a worker running every regulation (R1 and the building-blocks test
regulation), httpx posting forms the way a browser does (with the CSRF token of each page)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import update

from starter import users
from starter.app import create_app
from starter.auth import SESSION_COOKIE
from store.models import Task, WebSession
from tests.helpers import TEST_REGISTRY, case_worker, eventually, sent_code
from workflows.model import CHINA_TZ
from workflows.regulations import roles_of

pytestmark = pytest.mark.asyncio(loop_scope="session")

XSS = '<script>alert("x")</script>'


@pytest_asyncio.fixture(loop_scope="session")
async def web(
    local_env, session_factory, settings_factory, clean_db
) -> AsyncIterator[dict[str, Any]]:
    settings = settings_factory(
        temporal_task_queue=f"web-{uuid.uuid4().hex[:6]}",
        temporal_address=local_env.client.service_client.config.target_host,
        console_shows_codes=True,
        session_secret="web-test-session-secret-not-the-default",
    )
    started: list[str] = []
    async with case_worker(
        local_env.client, session_factory, settings, settings.temporal_task_queue
    ):
        app = create_app(
            settings,
            client=local_env.client,
            session_factory=session_factory,
            registry=TEST_REGISTRY,
        )
        yield {"app": app, "settings": settings, "started": started, "client": local_env.client}
    for case_id in started:
        try:
            await local_env.client.get_workflow_handle(case_id).terminate("test over")
        except Exception:
            pass


def browser(web: dict[str, Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web["app"]), base_url="http://testserver"
    )


def token_of(page: httpx.Response) -> str:
    m = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert m, page.text[:2000]
    return m.group(1)


async def add_user(sf: Any, uid: str, roles: list[str], **kw: Any) -> None:
    await users.create_user(
        sf, uid, f"用户 {uid}", f"{uid}-pass-1", roles, **kw, book=roles_of(TEST_REGISTRY)
    )


async def sign_in(http: httpx.AsyncClient, uid: str, nxt: str = "/work") -> httpx.Response:
    page = await http.get("/login", params={"next": nxt})
    assert page.status_code == 200
    r = await http.post(
        "/login",
        data={"login": uid, "password": f"{uid}-pass-1", "next": nxt, "csrftoken": token_of(page)},
    )
    assert r.status_code == 303, r.text
    return r


async def test_login_work_and_logout(web, session_factory) -> None:
    await add_user(session_factory, "alice", ["staff", "clerk"])
    async with browser(web) as http:
        r = await http.get("/work")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/work"
        page = await http.get("/login")
        assert 'id="login-form"' in page.text and "csrftoken" in http.cookies
        # No token: refused as a page a person understands.
        bad = await http.post("/login", data={"login": "alice", "password": "alice-pass-1"})
        assert bad.status_code == 403 and "页面已过期" in bad.text
        wrong = await http.post(
            "/login",
            data={"login": "alice", "password": "nope", "csrftoken": token_of(page)},
        )
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
        await sign_in(http, "alice")
        cookie = http.cookies.get(SESSION_COOKIE)
        assert cookie
        work = await http.get("/work")
        assert work.status_code == 200, work.text
        assert (
            "用户 alice" in work.text
            and "销售/客服人员" in work.text
            and "销售/客服文员" in work.text
        )
        assert work.headers["content-security-policy"].startswith("default-src 'self'")
        out = await http.post("/logout", data={"csrftoken": token_of(work)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        http.cookies.set(SESSION_COOKIE, cookie)  # replayed after logout: no session
        assert (await http.get("/work")).status_code == 303


def revisit_form(customer: str, **over: str) -> dict[str, str]:
    go_live = (datetime.now(CHINA_TZ).date() - timedelta(days=35)).isoformat()
    return {
        "customer_id": customer,
        "customer_name": "华南物业",
        "customer_class": "key",
        "go_live": go_live,
        "owner": "staff1",
        "supervisor": "boss1",
        "department": "客户服务部",
        "contacts.0.name": "王工",
        "contacts.0.title": "设备负责人",
        "contacts.0.phone": "13800000000",
        "contacts.1.name": "",
        **over,
    }


def field_block(page: str, name: str, scope: str = "") -> str:
    """The markup of one generated field (its label, input and error); `scope` is the form's
    part of the ids (`<task>-<outcome>` on a case page)."""
    dom = "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", f"{scope}-{name}" if scope else name)
    m = re.search(rf'<div class="field[^"]*" id="{re.escape(dom)}-field".*?</div>', page, re.S)
    assert m, f"no field {name}"
    return m.group(0)


async def start_revisit(web, http: httpx.AsyncClient, customer: str) -> str:
    form = await http.get("/start/revisit")
    r = await http.post(
        "/start/revisit", data={**revisit_form(customer), "csrftoken": token_of(form)}
    )
    assert r.status_code == 303, r.text[:3000]
    case_id = f"revisit-{customer}"
    web["started"].append(case_id)
    assert r.headers["location"] == f"/cases/{case_id}?msg=started"
    return case_id


async def test_start_form_from_the_schema_with_errors_next_to_fields(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    await add_user(session_factory, "boss1", ["supervisor"], department="客户服务部")
    async with browser(web) as http:
        await sign_in(http, "staff1")
        pick = await http.get("/start")
        assert 'href="/start/revisit"' in pick.text and "公司客户回访管理规定" in pick.text
        page = await http.get("/start/revisit")
        assert page.status_code == 200
        text = page.text
        # Labels from the model's Chinese descriptions, a widget per type, required marked.
        assert "客户编号" in field_block(text, "customer_id")
        assert 'class="req"' in field_block(text, "customer_id")
        assert 'type="date"' in field_block(text, "go_live")
        klass = field_block(text, "customer_class")
        assert "<select" in klass and 'value="key"' in klass and "特大或重要客户" in klass
        assert "selected" in klass  # the default (regular) is chosen
        assert 'data-repeat="contacts"' in text and 'name="contacts.0.name"' in text
        assert 'name="contacts.__i__.name"' in text  # the row template for "add a row"
        assert 'class="req"' not in field_block(text, "supervisor")

        # A bad field: refused, the reason next to that field, the input kept.
        customer = f"W{uuid.uuid4().hex[:8]}"
        bad = await http.post(
            "/start/revisit",
            data={**revisit_form(customer, customer_id="bad id!"), "csrftoken": token_of(page)},
        )
        assert bad.status_code == 422
        block = field_block(bad.text, "customer_id")
        assert "field-error" in block and 'value="bad id!"' in block
        assert "格式不正确" in block and "pattern" not in block  # said in Chinese
        assert "请更正标出的 1 处：客户编号" in bad.text  # the banner names the field
        assert 'value="华南物业"' in field_block(bad.text, "customer_name")
        assert 'value="王工"' in field_block(bad.text, "contacts.0.name")
        assert 'value="13800000000"' in field_block(bad.text, "contacts.0.phone")
        assert 'id="form-error"' in bad.text

        # A nested field: the error sits at the contact's name.
        nameless = await http.post(
            "/start/revisit",
            data={**revisit_form(customer, **{"contacts.0.name": "", "contacts.0.title": "x"}),
                  "csrftoken": token_of(page)},
        )  # fmt: skip
        assert nameless.status_code == 422
        assert "field-error" in field_block(nameless.text, "contacts.0.name")
        # A person who is not a supervisor named as the supervisor.
        wrong = await http.post(
            "/start/revisit",
            data={**revisit_form(customer, supervisor="staff1"), "csrftoken": token_of(page)},
        )
        assert wrong.status_code == 422 and "field-error" in field_block(wrong.text, "supervisor")

        case_id = await start_revisit(web, http, customer)
        case = await http.get(f"/cases/{case_id}?msg=started")
        assert case.status_code == 200, case.text[:3000]
        assert "案件已发起" in case.text and "华南物业" in case.text
        assert 'id="console-link"' in case.text
        assert f"/namespaces/default/workflows/{case_id}" in case.text
        assert "在 Temporal 控制台中查看" in case.text
        assert 'id="complete-t1-done"' in case.text  # the plan task's form
        assert 'name="data.purposes"' in case.text and 'value="product_use"' in case.text
        assert 'id="timeline"' in case.text and "用户 staff1 发起案件" in case.text


async def task_ids(sf: Any, case_id: str, within: float = 10.0, count: int = 1) -> dict[str, str]:
    """kind -> short id of the case's open tasks, once at least `count` are stored."""

    async def fetch() -> list[Task]:
        async with sf() as s:
            from sqlalchemy import select

            stmt = select(Task).where(Task.case_id == case_id, Task.status == "open")
            return list((await s.scalars(stmt)).all())

    rows = await eventually(fetch, lambda rs: len(rs) >= count, within)
    return {t.kind: t.id.rsplit("/", 1)[1] for t in rows}


def assert_inert(page: httpx.Response) -> None:
    """No user-typed markup is live on the page: it is there, escaped."""
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(" in page.text, page.text[:3000]


async def test_complete_extend_and_refusals_through_pages(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    await add_user(session_factory, "boss1", ["supervisor"], department="客户服务部")
    customer = f"T{uuid.uuid4().hex[:8]}"
    async with browser(web) as staff, browser(web) as boss:
        await sign_in(staff, "staff1")
        await sign_in(boss, "boss1")
        case_id = await start_revisit(web, staff, customer)
        ids = await task_ids(session_factory, case_id, count=3)
        plan, appt = ids["plan"], ids["appointment"]
        page = await staff.get(f"/cases/{case_id}")
        assert f'id="complete-{plan}-done"' in page.text
        assert f'id="extend-{appt}"' not in page.text  # staff may not extend: no form
        assert "延期：需要 部门主管" in page.text

        # My work: the open tasks, soonest due first, counts per regulation.
        work = await staff.get("/work")
        rows = re.findall(r'<tr class="task-row due-(\w+)"[^>]*data-task-id="([^"]+)"', work.text)
        assert {t for _, t in rows} >= {f"{case_id}/{plan}", f"{case_id}/{appt}"}
        assert 'data-regulation="revisit"' in work.text and 'class="count">3<' in work.text
        assert "overdue" in {c for c, _ in rows} or "soon" in {c for c, _ in rows}
        filtered = await staff.get("/work", params={"regulation": "blocks"})
        assert 'class="task-row' not in filtered.text

        # Completing without a required field: refused next to it, the input kept.
        url = f"/cases/{case_id}/tasks/{plan}/complete"
        form = {"outcome": "done", "data.purposes": ["product_use", "relationship"],
                "data.methods": "phone", "data.content": "", "csrftoken": token_of(page)}  # fmt: skip
        bad = await staff.post(url, data=form)
        assert bad.status_code == 422, bad.text[:2000]
        assert "field-error" in field_block(bad.text, "data.content", f"{plan}-done")
        choices = field_block(bad.text, "data.purposes", f"{plan}-done")
        assert choices.count("checked") == 2

        # Without the CSRF token: refused, nothing done.
        no_token = await staff.post(url, data={k: v for k, v in form.items() if k != "csrftoken"})
        assert no_token.status_code == 403 and "页面已过期" in no_token.text

        done = await staff.post(url, data={**form, "data.content": f"首次电话回访 {XSS}"})
        assert done.status_code == 303, done.text[:3000]
        assert done.headers["location"] == f"/cases/{case_id}?msg=completed#tasks"
        after = await staff.get(f"/cases/{case_id}?msg=completed")
        assert "任务已完成" in after.text and f'id="complete-{plan}-done"' not in after.text
        assert "《客户回访计划》" in after.text and "<script>alert" not in after.text

        # Extending: staff is refused with the role named; the supervisor may.
        due = (datetime.now(CHINA_TZ) + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M")
        ext_url = f"/cases/{case_id}/tasks/{appt}/extend"
        refused = await staff.post(
            ext_url, data={"new_due": due, "reason": "客户出差", "csrftoken": token_of(after)}
        )
        assert refused.status_code == 403 and "部门主管" in refused.text
        assert 'id="task-error-' in refused.text
        boss_page = await boss.get(f"/cases/{case_id}")
        assert f'id="extend-{appt}"' in boss_page.text
        moved = await boss.post(
            ext_url, data={"new_due": due, "reason": "客户出差", "csrftoken": token_of(boss_page)}
        )
        assert moved.status_code == 303, moved.text[:3000]
        shown = await boss.get(f"/cases/{case_id}")
        assert "的截止时间" in shown.text and "理由：客户出差" in shown.text
        # A second extension to an earlier time: refused by the workflow, input kept.
        earlier = (datetime.now(CHINA_TZ) + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M")
        again = await boss.post(
            ext_url, data={"new_due": earlier, "reason": "再延", "csrftoken": token_of(shown)}
        )
        assert again.status_code == 422 and "须晚于当前截止时间" in again.text
        assert f'value="{earlier}"' in again.text

        # The record: a readable document, printable, exported as CSV and XLSX that parse back.
        rec_link = re.search(r'href="(/records/[^"]+)" class="record-link"', shown.text)
        assert rec_link
        record = await staff.get(html.unescape(rec_link.group(1)))
        assert record.status_code == 200 and 'id="print-button"' in record.text
        assert "回访目的" in record.text and "产品使用情况" in record.text
        assert_inert(record)
        csv_url = re.search(r'id="export-csv" href="([^"]+)"', record.text).group(1)  # type: ignore[union-attr]
        xlsx_url = re.search(r'id="export-xlsx" href="([^"]+)"', record.text).group(1)  # type: ignore[union-attr]
        got = await staff.get(html.unescape(csv_url))
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        rows_csv = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
        assert rows_csv[0] == ["《客户回访计划》"]
        table = {r[0]: r[1:] for r in rows_csv if len(r) >= 2}
        assert table["案件编号"] == [case_id]
        assert table["内容"] == [f"首次电话回访 {XSS}"]
        assert "产品使用情况" in table["回访目的"]  # words, as the page shows them
        got = await staff.get(html.unescape(xlsx_url))
        assert got.status_code == 200
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(got.content)).active
        cells = {r[0]: r[1] for r in sheet.iter_rows(min_row=2, values_only=True) if len(r) > 1}
        assert cells["内容"] == f"首次电话回访 {XSS}" and cells["案件编号"] == case_id


PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


async def start_blocks(web, http: httpx.AsyncClient, customer: str) -> str:
    form = await http.get("/start/blocks")
    assert 'name="units"' in form.text and 'value="intake" checked' in form.text
    r = await http.post(
        "/start/blocks",
        data={"customer_id": customer, "customer_name": "业主", "owner": "staff1",
              "units": ["intake", "fix"], "csrftoken": token_of(form)},
    )  # fmt: skip
    assert r.status_code == 303, r.text[:3000]
    web["started"].append(f"blocks-{customer}")
    return f"blocks-{customer}"


async def test_pause_resume_and_customer_signatures(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    await add_user(session_factory, "head1", ["center_head"])
    async with browser(web) as staff, browser(web) as head:
        await sign_in(staff, "staff1")
        await sign_in(head, "head1")

        # Pause / resume where the spec allows it (the center head, on the repair task).
        drawn = await start_blocks(web, staff, f"P{uuid.uuid4().hex[:8]}")
        ids = await task_ids(session_factory, drawn, count=2)
        fix, intake = ids["fix"], ids["intake"]
        page = await staff.get(f"/cases/{drawn}")
        assert f'id="pause-{fix}"' not in page.text  # staff may not pause
        hp = await head.get(f"/cases/{drawn}")
        assert f'id="pause-{fix}"' in hp.text and f'id="extend-{fix}"' in hp.text
        short = await head.post(
            f"/cases/{drawn}/tasks/{fix}/pause", data={"reason": "x", "csrftoken": token_of(hp)}
        )
        assert short.status_code == 422 and "理由：至少 2 个字符" in short.text  # too short
        paused = await head.post(
            f"/cases/{drawn}/tasks/{fix}/pause",
            data={"reason": "等待业主回复", "csrftoken": token_of(hp)},
        )
        assert paused.status_code == 303, paused.text[:3000]
        hp = await head.get(f"/cases/{drawn}?msg=paused")
        assert "计时已暂停" in hp.text and f'id="resume-{fix}"' in hp.text and "已暂停" in hp.text
        resumed = await head.post(
            f"/cases/{drawn}/tasks/{fix}/resume",
            data={"reason": "业主已回复", "csrftoken": token_of(hp)},
        )
        assert resumed.status_code == 303
        resumed_page = (await head.get(f"/cases/{drawn}")).text
        assert "恢复《" in resumed_page and "业主已回复" in resumed_page

        # A drawn signature: the pad's hidden input carries the PNG.
        assert f'id="sig-pad-{intake}-done"' in page.text
        assert f'id="sig-drawing-{intake}-done"' in page.text
        url = f"/cases/{drawn}/tasks/{intake}/complete"
        base = {"outcome": "done", "data.room": "A-101", "data.content": "漏水",
                "csrftoken": token_of(page)}  # fmt: skip
        unsigned = await staff.post(url, data=base)
        assert unsigned.status_code == 422 and "需要客户在" in unsigned.text
        signed = await staff.post(
            url, data={**base, "sig.signer_name": "业主李四", "sig.method": "drawing",
                       "sig.drawing": PNG},
        )  # fmt: skip
        assert signed.status_code == 303, signed.text[:3000]
        case_page = await staff.get(f"/cases/{drawn}")
        link = re.search(r'href="(/records/[^"]+)" class="record-link"', case_page.text)
        assert link
        record = await staff.get(html.unescape(link.group(1)))
        assert "业主李四" in record.text and "手写签名" in record.text
        sig_id = re.search(r'name="verify" value="([^"]+)"', record.text).group(1)  # type: ignore[union-attr]
        checked = await staff.get(
            html.unescape(link.group(1)), params={"verify": html.unescape(sig_id)}
        )
        assert 'id="verify-result"' in checked.text and "验证通过" in checked.text

        # A one-time code: sent from the page, a wrong code refused at the code field, then signed.
        by_code = await start_blocks(web, staff, f"Q{uuid.uuid4().hex[:8]}")
        intake2 = (await task_ids(session_factory, by_code, count=2))["intake"]
        page = await staff.get(f"/cases/{by_code}")
        assert (
            f'id="send-code-{intake2}-done"' in page.text
            and f'id="sig-code-{intake2}-done"' in page.text
        )
        sent = await staff.post(
            f"/cases/{by_code}/tasks/{intake2}/signature-code", data={"csrftoken": token_of(page)}
        )
        assert sent.status_code == 303, sent.text[:3000]
        page = await staff.get(sent.headers["location"])
        assert "验证码已发送" in page.text
        code = await sent_code(session_factory, by_code)
        assert code is not None
        url = f"/cases/{by_code}/tasks/{intake2}/complete"
        form = {"outcome": "done", "data.room": "B-2", "data.content": "门锁",
                "sig.signer_name": "业主王五", "sig.method": "otp", "csrftoken": token_of(page)}  # fmt: skip
        wrong = await staff.post(
            url, data={**form, "sig.code": "000000" if code != "000000" else "111111"}
        )
        assert wrong.status_code == 422 and "验证码错误（还可以再试" in wrong.text
        assert 'value="业主王五"' in wrong.text  # kept
        ok = await staff.post(url, data={**form, "sig.code": code})
        assert ok.status_code == 303, ok.text[:3000]


def text_inputs(page: str, form_id: str) -> list[str]:
    """The names of the free-text inputs (text, textarea) of one form, without row templates."""
    m = re.search(rf'<form[^>]*id="{re.escape(form_id)}".*?</form>', page, re.S)
    assert m, form_id
    body = re.sub(r"<template.*?</template>", "", m.group(0), flags=re.S)
    names = re.findall(r'<input type="text"[^>]*name="([^"]+)"', body)
    names += re.findall(r'<textarea[^>]*name="([^"]+)"', body)
    return [html.unescape(n) for n in names]


async def test_user_text_is_inert_everywhere(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    await add_user(session_factory, "boss1", ["supervisor"], department="客户服务部")
    async with browser(web) as http:
        await sign_in(http, "staff1")
        page = await http.get("/start/revisit")
        names = text_inputs(page.text, "start-form")
        assert {"customer_id", "customer_name", "department", "contacts.0.name"} <= set(names)
        assert 'class="person-picker"' in field_block(page.text, "owner")  # a choice, not typed
        # <script> in every text field: refused (the id's pattern), every value shown inert.
        everything = {n: XSS for n in names}
        refused = await http.post(
            "/start/revisit",
            data={**revisit_form("X1"), **everything, "csrftoken": token_of(page)},
        )
        assert refused.status_code == 422
        assert_inert(refused)
        assert refused.text.count("&lt;script&gt;alert(") >= len(names)

        # Accepted where free text is allowed: the case, my work and the case list show it inert.
        customer = f"X{uuid.uuid4().hex[:8]}"
        free = {n: XSS for n in names if n not in ("customer_id", "owner", "supervisor")}
        started = await http.post(
            "/start/revisit",
            data={**revisit_form(customer), **free, "csrftoken": token_of(page)},
        )
        assert started.status_code == 303, started.text[:3000]
        case_id = f"revisit-{customer}"
        web["started"].append(case_id)
        for url in (f"/cases/{case_id}", "/work", "/cases"):
            assert_inert(await http.get(url))

        # A task form: <script> in every text field of the visit record (and one row of
        # problems); refused for a missing rating, every value shown inert; then accepted.
        visit = (await task_ids(session_factory, case_id, count=3))["visit"]
        case_page = await http.get(f"/cases/{case_id}")
        form_id = f"complete-{visit}-done"
        names = text_inputs(case_page.text, form_id)
        assert {
            "data.contact_person",
            "data.usage",
            "data.questions",
            "data.problems.0.text",
        } <= set(names)
        posted = {n: XSS for n in names if not n.startswith("sig.")}
        url = f"/cases/{case_id}/tasks/{visit}/complete"
        base = {"outcome": "done", "data.method": "phone", "data.problems.0.route": "solved",
                "csrftoken": token_of(case_page)}  # fmt: skip
        bad = await http.post(url, data={**base, **posted})
        assert bad.status_code == 422 and "service_rating" in bad.text
        assert_inert(bad)
        assert "field-error" in field_block(bad.text, "data.service_rating", f"{visit}-done")
        good = await http.post(url, data={**base, **posted, "data.service_rating": "5"})
        assert good.status_code == 303, good.text[:3000]
        shown = await http.get(f"/cases/{case_id}")
        links = re.findall(r'href="(/records/[^"]+)" class="record-link"', shown.text)
        pages = [await http.get(html.unescape(link)) for link in links]
        record = next(p for p in pages if "《客户回访记录表》" in p.text)
        assert_inert(record)
        assert "销售/客服人员" in record.text  # the staff member's signature by sign-in


async def test_cases_list_filters_and_paging(web, session_factory) -> None:
    from store.models import Case

    await add_user(session_factory, "clerk1", ["clerk"])
    now = datetime.now(UTC)
    async with session_factory() as s:
        for i in range(30):
            cid = f"revisit-L{i:02d}"
            s.add(Case(id=cid, regulation="revisit", title=f"客户回访：列表{i:02d}（L{i:02d}）",
                       customer_id=f"L{i:02d}", status="open" if i % 2 else "closed",
                       started_at=now - timedelta(hours=i), input={"customer_name": f"列表{i:02d}"}))  # fmt: skip
            if i % 3 == 0:
                s.add(Task(id=f"{cid}/t1", case_id=cid, regulation="revisit", role="clerk",
                           title="存档", clause="R1 4.5(1)", kind="archive", status="open",
                           due_at=now - timedelta(hours=2) if i % 6 == 0 else now + timedelta(days=2),
                           created_at=now))  # fmt: skip
        await s.commit()
    async with browser(web) as http:
        await sign_in(http, "clerk1")
        first = await http.get("/cases")
        ids = re.findall(r'class="case-row[^"]*" data-case-id="([^"]+)"', first.text)
        assert ids[:2] == ["revisit-L00", "revisit-L01"] and len(ids) == 25
        assert "共 30 条" in first.text and 'id="next-page"' in first.text
        second = await http.get("/cases", params={"page": "2"})
        assert re.findall(r'data-case-id="([^"]+)"', second.text) == [
            f"revisit-L{i}" for i in range(25, 30)
        ]
        assert 'id="prev-page"' in second.text and 'id="next-page"' not in second.text

        def found(r: httpx.Response) -> set[str]:
            return set(re.findall(r'class="case-row[^"]*" data-case-id="([^"]+)"', r.text))

        assert found(await http.get("/cases", params={"status": "open"})) == {
            f"revisit-L{i:02d}" for i in range(30) if i % 2
        }
        assert found(await http.get("/cases", params={"customer": "L07"})) == {"revisit-L07"}
        assert found(await http.get("/cases", params={"customer": "列表1"})) == {
            f"revisit-L{i}" for i in range(10, 20)
        }
        assert found(await http.get("/cases", params={"role": "clerk"})) == {
            f"revisit-L{i:02d}" for i in range(0, 30, 3)
        }
        late = await http.get("/cases", params={"overdue": "1", "role": "clerk"})
        assert found(late) == {f"revisit-L{i:02d}" for i in range(0, 30, 6)}
        assert "due-overdue" in late.text and "已超期" in late.text
        assert found(await http.get("/cases", params={"regulation": "blocks"})) == set()
        assert (await http.get("/cases", params={"page": "x"})).status_code == 200


async def test_a_long_case_folds_its_older_history(web, session_factory) -> None:
    """A case of years (here 130 events, 60 closed tasks) shows its newest 100 events and 50
    closed tasks; "show all" (?all=1) shows every one."""
    from store.models import Case, Event

    await add_user(session_factory, "clerk2", ["clerk"])
    now = datetime.now(UTC)
    cid = f"revisit-F{uuid.uuid4().hex[:6]}"
    async with session_factory() as s:
        s.add(Case(id=cid, regulation="revisit", title="客户回访：折叠", customer_id="F1",
                   status="open", started_at=now - timedelta(days=3000), input={}))  # fmt: skip
        for i in range(130):
            s.add(Event(case_id=cid, seq=i + 1, at=now - timedelta(days=130 - i),
                        kind="task_completed", actor="staff1", clause="R1 4.3",
                        detail={"n": f"E{i + 1:03d}"}))  # fmt: skip
        for i in range(60):
            s.add(Task(id=f"{cid}/t{i + 1}", case_id=cid, regulation="revisit", role="staff",
                       title=f"回访 T{i + 1:02d}", clause="R1 4.3", kind="visit", status="done",
                       closed_at=now - timedelta(days=60 - i), created_at=now - timedelta(days=61 - i)))  # fmt: skip
        await s.commit()
    async with browser(web) as http:
        await sign_in(http, "clerk2")
        page = await http.get(f"/cases/{cid}")
        assert page.status_code == 200
        seqs = [int(x) for x in re.findall(r'class="event [^"]*" data-seq="(\d+)"', page.text)]
        assert seqs == list(range(130, 30, -1))  # the newest 100, newest first
        assert "较早的 30 项已折叠" in page.text and "较早的 10 项已折叠" in page.text
        closed = re.findall(r'class="closed-task" data-task-id="[^"]+/t(\d+)"', page.text)
        assert len(closed) == 50 and 't1"' not in "".join(closed)
        every = await http.get(f"/cases/{cid}", params={"all": "1"})
        seqs = [int(x) for x in re.findall(r'class="event [^"]*" data-seq="(\d+)"', every.text)]
        assert seqs == list(range(130, 0, -1)) and "已折叠" not in every.text
        assert len(re.findall(r'class="closed-task"', every.text)) == 60


async def test_admin_pages_and_refusals(web, session_factory, tmp_path) -> None:
    await add_user(session_factory, "staff1", ["staff"])
    await add_user(session_factory, "root", ["admin"])
    async with browser(web) as staff, browser(web) as admin:
        await sign_in(staff, "staff1")
        for url in ("/admin/users", "/admin/policy", "/admin/calendar", "/admin/schedules",
                    "/admin/notifications"):  # fmt: skip
            r = await staff.get(url)
            assert r.status_code == 403 and "系统管理员" in r.text and "admin" in r.text, url
            assert "Traceback" not in r.text
        await sign_in(admin, "root")
        users_page = await admin.get("/admin/users")
        assert users_page.status_code == 200 and 'data-user-id="staff1"' in users_page.text
        made = await admin.post(
            "/admin/users",
            data={"id": "new1", "name": XSS, "password": "new1-pass-1", "roles": ["clerk", "rd"],
                  "csrftoken": token_of(users_page)},
        )  # fmt: skip
        assert made.status_code == 303
        listed = await admin.get("/admin/users?msg=user_created")
        assert "用户已创建" in listed.text
        assert_inert(listed)
        dup = await admin.post(
            "/admin/users",
            data={"id": "new1", "name": "x", "password": "new1-pass-1",
                  "csrftoken": token_of(listed)},
        )  # fmt: skip
        assert dup.status_code == 409 and "用户 new1 已存在" in dup.text
        await admin.post(
            "/admin/users/new1/roles", data={"roles": ["finance"], "csrftoken": token_of(listed)}
        )
        assert (await users.get_user(session_factory, "new1")).roles == ["finance"]  # type: ignore[union-attr]
        await admin.post(
            "/admin/users/new1/active", data={"active": "0", "csrftoken": token_of(listed)}
        )
        assert (await users.get_user(session_factory, "new1")).active is False  # type: ignore[union-attr]
        bad_role = await admin.post(
            "/admin/users/new1/roles", data={"roles": ["nope"], "csrftoken": token_of(listed)}
        )
        assert bad_role.status_code == 422 and "未知角色" in bad_role.text

        policy = await admin.get("/admin/policy")
        assert 'id="policy-revisit"' in policy.text and 'data-field="materials_due"' in policy.text
        assert "3 天" in policy.text and "新政策仅适用于新案件" in policy.text

        # The calendar: upload, preview the year, then load it.
        cal_page = await admin.get("/admin/calendar")
        calendar = {"year": 2031, "holidays": [{"date": "2031-01-01", "name": "元旦"}],
                    "workdays": [{"date": "2031-01-04", "name": "元旦调休"}]}  # fmt: skip
        bad = await admin.post(
            "/admin/calendar/preview",
            data={"csrftoken": token_of(cal_page)},
            files={"file": ("bad.json", b'{"year": 2031}', "application/json")},
        )
        assert bad.status_code == 422 and "no holidays and no workdays" in bad.text
        # Multipart posts: the upload without its token, any other form as multipart: refused.
        no_token = await admin.post(
            "/admin/calendar/preview", files={"file": ("x.json", b"{}", "application/json")}
        )
        assert no_token.status_code == 403
        other = await admin.post(
            "/admin/users/staff1/roles", data={"roles": "admin", "csrftoken": token_of(cal_page)},
            files={"x": ("x.txt", b"x", "text/plain")},
        )  # fmt: skip
        assert other.status_code == 403
        assert (await users.get_user(session_factory, "staff1")).roles == ["staff"]  # type: ignore[union-attr]
        preview = await admin.post(
            "/admin/calendar/preview",
            data={"csrftoken": token_of(cal_page)},
            files={
                "file": ("calendar-2031.json", json.dumps(calendar).encode(), "application/json")
            },
        )
        assert preview.status_code == 200, preview.text[:2000]
        assert 'data-date="2031-01-01"' in preview.text
        assert re.search(r'class="day holiday" title="2031-01-01 元旦"', preview.text)
        assert re.search(r'class="day makeup" title="2031-01-04 元旦调休"', preview.text)
        content = html.unescape(
            re.search(
                r"<textarea name=\"content\" hidden>(.*?)</textarea>", preview.text, re.S
            ).group(1)
        )  # type: ignore[union-attr]
        loaded = await admin.post(
            "/admin/calendar/load",
            data={"content": content, "filename": "calendar-2031.json",
                  "csrftoken": token_of(preview)},
        )  # fmt: skip
        assert loaded.status_code == 200 and 'id="calendar-loaded"' in loaded.text
        assert "2031" in loaded.text
        not_admin = await staff.post(
            "/admin/calendar/load", data={"content": content, "csrftoken": token_of(users_page)}
        )
        assert not_admin.status_code == 403

        schedules = await admin.get("/admin/schedules")
        assert schedules.status_code == 200
        notify = await admin.get("/admin/notifications")
        assert 'id="test-console"' in notify.text
        tested = await admin.post(
            "/admin/notifications/test", data={"channel": "console", "csrftoken": token_of(notify)}
        )
        assert tested.status_code == 200 and "测试通知已发送" in tested.text
        missing = await admin.post(
            "/admin/notifications/test", data={"channel": "smtp", "csrftoken": token_of(notify)}
        )
        assert "测试通知发送失败" in missing.text and "not configured" in missing.text


async def test_sessions_errors_language_and_cookies(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"])
    async with browser(web) as http:
        r = await sign_in(http, "staff1")
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        # 404: a case that is not there, said plainly.
        missing = await http.get("/cases/revisit-NOPE")
        assert missing.status_code == 404 and "未找到案件 revisit-NOPE" in missing.text
        # The session ends (idle too long): to the login page, then back where they were.
        async with session_factory() as s:
            await s.execute(
                update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=5))
            )
            await s.commit()
        gone = await http.get("/cases?status=open")
        assert gone.status_code == 303
        assert gone.headers["location"] == "/login?next=/cases%3Fstatus%3Dopen"
        login = await http.get(gone.headers["location"])
        assert 'id="login-expired"' in login.text and 'value="/cases?status=open"' in login.text
        back = await sign_in(http, "staff1", nxt="/cases?status=open")
        assert back.headers["location"] == "/cases?status=open"
        # A form posted after the session ended: to the login page, back to the page it was on.
        async with session_factory() as s:
            await s.execute(update(WebSession).values(revoked_at=datetime.now(UTC)))
            await s.commit()
        page_token = http.cookies["csrftoken"]
        posted = await http.post(
            "/cases/revisit-X/tasks/t1/complete",
            data={"outcome": "done", "csrftoken": page_token},
            headers={"referer": "http://testserver/cases/revisit-X"},
        )
        assert posted.headers["location"] == "/login?next=/cases/revisit-X"
        # Never to another site after signing in.
        await sign_in(http, "staff1", nxt="//evil.example/x")
        assert (await http.get("/login?next=//evil.example/x")).headers["location"] == "/work"
        # English.
        switched = await http.get("/lang/en", params={"next": "/work"})
        assert switched.headers["location"] == "/work"
        work = await http.get("/work")
        assert "My open tasks" in work.text and 'lang="en"' in work.text
        await http.get("/lang/zh", params={"next": "/work"})
        assert "我的待办" in (await http.get("/work")).text


async def test_api_cookie_requests_need_the_csrf_token(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"])
    async with browser(web) as http:
        await sign_in(http, "staff1")
        body = {"customer_id": "bad id", "customer_name": "x"}
        refused = await http.post("/api/regulations/revisit/cases", json=body)
        assert refused.status_code == 403
        assert refused.json()["field"] == "csrftoken" and set(refused.json()) == {"detail", "field"}
        token = http.cookies["csrftoken"]
        checked = await http.post(
            "/api/regulations/revisit/cases", json=body, headers={"x-csrftoken": token}
        )
        assert checked.status_code == 422  # through to the API (which refuses the input)
        bearer = await users.issue_token(session_factory, "staff1", "t")
        async with browser(web) as api:
            r = await api.post(
                "/api/regulations/revisit/cases", json=body,
                headers={"Authorization": f"Bearer {bearer}"},
            )  # fmt: skip
            assert r.status_code == 422  # a bearer token needs no CSRF token


async def test_secure_cookie_flags(web, session_factory, settings_factory, local_env) -> None:
    await add_user(session_factory, "staff1", ["staff"])
    settings = web["settings"].model_copy(update={"secure_cookies": True})
    app = create_app(settings, client=local_env.client, session_factory=session_factory,
                     registry=TEST_REGISTRY)  # fmt: skip
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        page = await http.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()
        r = await http.post(
            "/login",
            data={"login": "staff1", "password": "staff1-pass-1", "csrftoken": token_of(page)},
        )
        cookie = r.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


async def test_login_says_expired_only_when_a_session_ended(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"])
    async with browser(web) as http:
        # A first visit to a page: asked to sign in, nothing has "expired".
        r = await http.get("/work")
        first = await http.get(r.headers["location"])
        assert 'id="login-needed"' in first.text and "请先登录" in first.text
        assert 'id="login-expired"' not in first.text and "登录已过期" not in first.text
        plain = await http.get("/login")
        assert 'id="login-needed"' not in plain.text and 'id="login-expired"' not in plain.text
        # Signed out (the cookie is gone): again only "please sign in".
        await sign_in(http, "staff1")
        work = await http.get("/work")
        await http.post("/logout", data={"csrftoken": token_of(work)})
        after = await http.get((await http.get("/work")).headers["location"])
        assert 'id="login-needed"' in after.text and "登录已过期" not in after.text
    async with browser(web) as http:
        # The browser still sends a session cookie that no longer holds: "expired", and the
        # stale cookie is dropped so it is said once.
        http.cookies.set(SESSION_COOKIE, "zs_no-such-session")
        gone = await http.get("/cases")
        assert gone.status_code == 303
        expired = await http.get(gone.headers["location"])
        assert 'id="login-expired"' in expired.text and "登录已过期" in expired.text
        assert 'id="login-needed"' not in expired.text
        dropped = expired.headers.get("set-cookie", "").lower()
        assert f"{SESSION_COOKIE}=" in dropped and "max-age=0" in dropped
        http.cookies.set(SESSION_COOKIE, "zs_no-such-session")
        await http.get("/lang/en", params={"next": "/work"})
        english = await http.get("/login", params={"next": "/work"})
        assert "Your session has ended" in english.text


class PageIds(HTMLParser):
    """Every element id of a page (outside <template>s), the `for` of its labels and the ids
    its aria attributes point at, each with the id of the form it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[tuple[str, str | None]] = []
        self.fors: list[tuple[str, str | None]] = []
        self.refs: list[str] = []
        self.form: str | None = None
        self.templates = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "template":
            self.templates += 1
        if self.templates:
            return
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.form = a.get("id") or "?"
        if a.get("id"):
            self.ids.append((a["id"], self.form))
        if tag == "label" and a.get("for"):
            self.fors.append((a["for"], self.form))
        for key in ("aria-describedby", "aria-labelledby"):
            self.refs += (a.get(key) or "").split()

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self.templates -= 1
        elif tag == "form" and not self.templates:
            self.form = None


def assert_ids_sound(page: str) -> PageIds:
    parsed = PageIds()
    parsed.feed(page)
    ids = [i for i, _ in parsed.ids]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    assert not dups, f"ids used more than once: {dups}"
    where = dict(parsed.ids)
    for target, form in parsed.fors:
        assert target in where, f"<label for={target!r}> points at nothing"
        assert where[target] == form, f"<label for={target!r}> points into another form"
    for target in parsed.refs:
        assert target in where, f"aria reference {target!r} points at nothing"
    return parsed


async def test_case_page_ids_are_unique_per_form(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    await add_user(session_factory, "boss1", ["supervisor"], department="客户服务部")
    async with browser(web) as http:
        await sign_in(http, "staff1")
        case_id = await start_revisit(web, http, f"I{uuid.uuid4().hex[:8]}")
        ids = await task_ids(session_factory, case_id, count=3)
        page = await http.get(f"/cases/{case_id}")
        # Several open task forms, several of them with a note field: still one id each.
        assert len(re.findall(r'<form method="post"[^>]*class="complete-form', page.text)) >= 4
        assert len(re.findall(r'name="data\.note"', page.text)) >= 2
        parsed = assert_ids_sound(page.text)
        notes = [i for i, _ in parsed.ids if i.endswith("-data-note")]
        assert len(notes) >= 2 and f"f-{ids['visit']}-unreachable-data-note" in notes
        # A refused form shows its errors (aria-describedby) with the ids still sound.
        visit = ids["visit"]
        bad = await http.post(
            f"/cases/{case_id}/tasks/{visit}/complete",
            data={"outcome": "done", "data.method": "phone", "csrftoken": token_of(page)},
        )
        assert bad.status_code == 422
        assert_ids_sound(bad.text)
        assert 'aria-describedby="f-' in bad.text


def record_table(page: str) -> dict[str, str]:
    """A record's fields: label -> the text shown (a nested table's cells joined by |)."""
    rows = re.findall(
        r'<tr data-field="[^"]+"><th scope="row">(.*?)</th><td[^>]*>(.*?)</td></tr>\n', page, re.S
    )
    assert rows, page[:2000]

    def text(cell: str) -> str:
        cell = re.sub(r"</t[dh]>\s*<t[dh][^>]*>", "|", cell)
        return html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()

    return {html.unescape(k): text(v) for k, v in rows}


async def test_record_reads_as_a_chinese_document(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    await add_user(session_factory, "boss1", ["supervisor"], department="客户服务部")
    async with browser(web) as http:
        await sign_in(http, "staff1")
        case_id = await start_revisit(web, http, f"R{uuid.uuid4().hex[:8]}")
        visit = (await task_ids(session_factory, case_id, count=3))["visit"]
        page = await http.get(f"/cases/{case_id}")
        done = await http.post(
            f"/cases/{case_id}/tasks/{visit}/complete",
            data={"outcome": "done", "data.contact_person": "王工", "data.method": "phone",
                  "data.usage": "运行正常", "data.service_rating": "4",
                  "data.questions": "报表能否导出？", "data.suggestions": "",
                  "data.problems.0.text": "打印偶尔卡纸", "data.problems.0.route": "solved",
                  "csrftoken": token_of(page)},
        )  # fmt: skip
        assert done.status_code == 303, done.text[:3000]
        shown = await http.get(f"/cases/{case_id}")
        link = re.search(
            r'href="(/records/[^"]+revisit_record[^"]*)" class="record-link"', shown.text
        )
        assert link, shown.text[:3000]
        record = await http.get(html.unescape(link.group(1)))
        rows = record_table(record.text)
        # Every field named in Chinese (the models' own descriptions first): no raw keys.
        raw = [k for k in rows if re.search(r"[A-Za-z]", k)]
        assert not raw, raw
        assert rows["回访类型"] == "首次电话回访"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", rows["回访时间"]), rows["回访时间"]
        assert rows["经办人员"] == "用户 staff1"  # a person by name
        assert "王工" in rows["客户联系人"] and "设备负责人" in rows["客户联系人"]  # a table
        assert rows["产品使用情况"] == "运行正常"
        assert rows["问题原文"] == "报表能否导出？"
        assert "意见与建议" not in rows  # nothing said, nothing shown
        assert rows["客户提出中肯意见或良好建议"] == "否"
        assert rows["方式"] == "电话" and rows["客户类别"] == "特大或重要客户"
        assert "打印偶尔卡纸" in rows["客户反映的问题"] and "当场解决" in rows["客户反映的问题"]
        # In the order of the paper form: the customer, the visit, the content, the rating.
        order = list(rows)
        assert order[:3] == ["客户编号", "客户名称", "客户类别"], order
        assert (
            order.index("回访类型") < order.index("产品使用情况") < order.index("服务评分（1–5）")
        )
        assert not {"true", "false"} & set(rows.values())
        assert not any(re.search(r"T\d{2}:\d{2}|\+00:00", v) for v in rows.values())
        # The export keeps the stored values under the same Chinese labels.
        csv_url = re.search(r'id="export-csv" href="([^"]+)"', record.text).group(1)  # type: ignore[union-attr]
        got = await http.get(html.unescape(csv_url))
        lines = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
        table = {r[0]: r[1] for r in lines if len(r) >= 2}
        # What the screen shows: words, not codes; China time to the minute; a number.
        assert table["回访类型"] == "首次电话回访" and table["客户提出中肯意见或良好建议"] == "否"
        assert table["服务评分（1–5）"] == "4" and table["经办人员"] == "用户 staff1"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", table["回访时间"])
        xlsx = await http.get(html.unescape(csv_url).replace("/export/csv/", "/export/xlsx/"))
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        cells = {r[0]: r[1] for r in sheet.iter_rows(values_only=True) if len(r) > 1 and r[0]}
        assert cells["服务评分（1–5）"] == 4 and cells["方式"] == "电话"
        # English: the same values in words.
        await http.get("/lang/en", params={"next": "/work"})
        english = record_table((await http.get(html.unescape(link.group(1)))).text)
        assert english["Visit kind"] == "First phone revisit"
        assert english["Valuable suggestion"] == "no"


async def test_record_values_in_words() -> None:
    from starter.web import records as pages

    assert pages.shown_value("onsite_problem", "zh") == "现场回访（电话无法解决的问题）"
    assert pages.shown_value(True, "zh") == "是" and pages.shown_value(False, "en") == "no"
    assert pages.shown_value("2026-11-28T07:40:18.123456+00:00", "zh") == "2026-11-28 15:40"
    six = {"months": 6, "days": 0, "hours": 0, "minutes": 0, "seconds": 0, "working_days": 0,
           "month_day": None, "before_month_end": None, "end_of_day": False}  # fmt: skip
    assert pages.shown_value(six, "zh") == "6 个月" and pages.shown_value(six, "en") == "6 months"


async def test_refusals_in_chinese_on_chinese_pages(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    await add_user(session_factory, "boss1", ["supervisor"], department="客户服务部")
    async with browser(web) as staff, browser(web) as boss:
        await sign_in(staff, "staff1")
        await sign_in(boss, "boss1")
        case_id = await start_revisit(web, staff, f"Z{uuid.uuid4().hex[:8]}")
        ids = await task_ids(session_factory, case_id, count=3)
        plan, appt = ids["plan"], ids["appointment"]
        page = await staff.get(f"/cases/{case_id}")
        due = (datetime.now(CHINA_TZ) + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M")
        ext = f"/cases/{case_id}/tasks/{appt}/extend"

        # A validator's refusal (the workflow's own reason), in Chinese.
        refused = await staff.post(
            ext, data={"new_due": due, "reason": "客户出差", "csrftoken": token_of(page)}
        )
        assert refused.status_code == 403
        error = re.search(r'id="task-error-[^"]+" role="alert">(.*?)</p>', refused.text, re.S)
        assert error, refused.text[:3000]
        text = html.unescape(error.group(1))
        assert (
            f"staff1 不能延长任务 {case_id}/{appt} 的期限" in text
            and "只有部门主管可以延期" in text
        )
        assert "may not" not in text and "only" not in text
        # A pydantic error of a task form, in Chinese, led by the field's label.
        short = await staff.post(
            f"/cases/{case_id}/tasks/{plan}/complete",
            data={"outcome": "done", "data.purposes": "product_use", "data.methods": "phone",
                  "data.content": "x", "csrftoken": token_of(page)},
        )  # fmt: skip
        assert short.status_code == 422
        assert "至少 2 个字符" in field_block(short.text, "data.content", f"{plan}-done")
        assert "内容" in short.text.split('id="task-error-')[1][:300]  # the banner names it
        assert "String should" not in short.text
        # The supervisor: an earlier due refused in Chinese.
        boss_page = await boss.get(f"/cases/{case_id}")
        moved = await boss.post(
            ext, data={"new_due": due, "reason": "客户出差", "csrftoken": token_of(boss_page)}
        )
        assert moved.status_code == 303
        earlier = (datetime.now(CHINA_TZ) + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M")
        again = await boss.post(
            ext, data={"new_due": earlier, "reason": "再延", "csrftoken": token_of(boss_page)}
        )
        assert again.status_code == 422 and "新截止时间" in again.text
        assert "须晚于当前截止时间" in again.text and "not later than" not in again.text

        # The same refusals on the English pages: English.
        await staff.get("/lang/en", params={"next": "/work"})
        english = await staff.post(
            ext, data={"new_due": due, "reason": "客户出差", "csrftoken": token_of(page)}
        )
        assert english.status_code == 403 and "staff1 may not extend task" in english.text
        form = await staff.get("/start/revisit")
        bad = await staff.post(
            "/start/revisit",
            data={**revisit_form("bad id!"), "csrftoken": token_of(form)},
        )
        assert "String should match pattern" in field_block(bad.text, "customer_id")

        # The API keeps its shape and its English.
        token = await users.issue_token(session_factory, "staff1", "t")
        api = await staff.post(
            f"/api/cases/{case_id}/actions/extend_deadline",
            json={"task_id": appt, "new_due": f"{due}:00+08:00", "reason": "客户出差"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert api.status_code == 403 and set(api.json()) == {"detail", "field"}
        assert "may not extend" in api.json()["detail"]


async def test_signature_method_and_code_next_to_its_input(web, session_factory) -> None:
    await add_user(session_factory, "staff1", ["staff"], department="客户服务部")
    async with browser(web) as http:
        await sign_in(http, "staff1")
        case_id = await start_blocks(web, http, f"S{uuid.uuid4().hex[:8]}")
        intake = (await task_ids(session_factory, case_id, count=2))["intake"]
        page = await http.get(f"/cases/{case_id}")
        form = re.search(
            rf'<form[^>]*id="complete-{intake}-done".*?</form>', page.text, re.S
        ).group(0)  # type: ignore[union-attr]
        # One form holds the method choice, each method's controls in its own box, and the
        # "send code" button next to the code input (posting this form to the code endpoint).
        assert 'name="sig.method" value="drawing"' in form and 'value="otp"' in form
        drawing = re.search(r'<div class="sig-by sig-by-drawing".*?</canvas>', form, re.S)
        assert drawing and f'id="sig-pad-{intake}-done"' in drawing.group(0)
        otp = re.search(r'<div class="sig-by sig-by-otp".*?</button>', form, re.S)
        assert otp, form
        assert f'id="sig-code-{intake}-done"' in otp.group(0)
        button = re.search(r'<button type="submit"[^>]*id="send-code-[^"]+"[^>]*>', otp.group(0))
        assert button and f'formaction="/cases/{case_id}/tasks/{intake}/signature-code#sig-' in (
            button.group(0)
        )  # back at the signature block, not the top of the page
        assert 'class="code-form' not in page.text  # no separate form above the outcomes
        for post in re.findall(r'<form method="post".*?</form>', page.text, re.S):
            assert 'name="csrftoken" value="' in post, post[:300]

        # "Send code" from the task form (no JavaScript needed): the code is sent and the page
        # comes back with what was typed kept and the code method chosen.
        url = f"/cases/{case_id}/tasks/{intake}/signature-code"
        typed = {"outcome": "done", "data.room": "C-3", "data.content": "漏水",
                 "sig.signer_name": "业主赵六", "sig.method": "otp", "recipient": "",
                 "csrftoken": token_of(page)}  # fmt: skip
        sent = await http.post(url, data=typed)
        assert sent.status_code == 200, sent.text[:3000]
        assert f'id="code-sent-{intake}-done"' in sent.text and "验证码已发送" in sent.text
        assert 'value="C-3"' in field_block(sent.text, "data.room", f"{intake}-done")
        assert 'value="业主赵六"' in sent.text
        assert f'value="otp" id="sig-method-{intake}-done-otp" checked' in sent.text
        assert_ids_sound(sent.text)
        # Asked again at once: refused next to the code input, in Chinese, still kept.
        soon = await http.post(url, data=typed)
        assert soon.status_code == 429 and "请" in soon.text and "秒后再试" in soon.text
        assert 'value="C-3"' in soon.text
        code = await sent_code(session_factory, case_id)
        assert code is not None
        done = await http.post(
            f"/cases/{case_id}/tasks/{intake}/complete",
            data={**typed, "sig.code": code, "csrftoken": token_of(sent)},
        )
        assert done.status_code == 303, done.text[:3000]
