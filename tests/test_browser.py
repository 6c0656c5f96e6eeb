"""The web pages in a real browser (Chromium through Playwright): the real app served by uvicorn,
the real database, the Temporal dev server and a worker running every regulation on the app's
task queue. One R1 (客户回访) case is driven from the pages the way people use them:

sign in (a wrong password first), start a case (a bad field first: the reason next to the
field, the input kept; a contact row added with the "add a row" button), see the console link,
complete the first phone visit reporting two problems that need an on-site visit, write the
report and hand in the materials, see the supervisor's review in the supervisor's work list,
extend an on-site visit as a supervisor who is not the case's (refused, the reason shown) and
as the case's supervisor, complete one on-site visit with a signature drawn on the canvas and
the other with a one-time code, read the timeline and the signed record (verified), sign out.

Chromium is Debian's (/usr/bin/chromium); without it the test is skipped (CI installs it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bench.local import CHROMIUM, CHROMIUM_ARGS, free_port, serving
from starter import users
from starter.app import create_app
from store.models import Task
from tests.helpers import case_worker, eventually, sent_code
from tests.helpers import records as records_of
from workflows.model import CHINA_TZ

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no Chromium at /usr/bin/chromium (apt-get install chromium fonts-noto-cjk; "
        ".ci/run does it)",
    ),
]

# Short waits: every step is a page load or a form post that answers within a second or two.
STEP_MS = 15_000


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def site(
    local_env, session_factory, settings_factory, clean_db
) -> AsyncIterator[dict[str, Any]]:
    """The app on a free port (its own engine and Temporal client, made at start-up in the
    server's thread), a worker on its task queue, the demo users and a second supervisor."""
    port = free_port()
    settings = settings_factory(
        temporal_address=local_env.client.service_client.config.target_host,
        temporal_task_queue=f"browser-{port}",
        console_shows_codes=True,
        session_secret="browser-test-session-secret-not-the-default",
    )
    await users.ensure_demo_users(session_factory)
    # A supervisor of the same department who is not the case's named supervisor.
    await users.create_user(
        session_factory, "supervisor2", "周主管", "supervisor2-demo", ["supervisor"],
        department="客户服务部",
    )  # fmt: skip
    started: list[str] = []
    async with case_worker(
        local_env.client, session_factory, settings, settings.temporal_task_queue
    ):
        with serving(create_app(settings), port):
            yield {"base": f"http://127.0.0.1:{port}", "started": started,
                   "queue": settings.temporal_task_queue}  # fmt: skip
    for case_id in started:
        try:
            await local_env.client.get_workflow_handle(case_id).terminate("test over")
        except Exception:
            pass


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


async def sign_in(browser: Any, base: str, uid: str, **options: Any) -> Any:
    options = options or {"viewport": {"width": 1280, "height": 900}}
    context = await browser.new_context(base_url=base, locale="zh-CN", **options)
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#login", uid)
    await page.fill("#password", f"{uid}-demo")
    await page.click("#login-submit")
    await page.wait_for_url(re.compile(r"/work$"))
    return page


async def open_tasks(sf: Any, case_id: str, kind: str, count: int) -> list[Task]:
    """The case's open tasks of that kind (oldest first), once there are `count` of them."""

    async def fetch() -> list[Task]:
        async with sf() as s:
            stmt = (
                select(Task)
                .where(Task.case_id == case_id, Task.kind == kind, Task.status == "open")
                .order_by(Task.created_at, Task.id)
            )
            return list((await s.scalars(stmt)).all())

    found = await eventually(fetch, lambda rows: len(rows) >= count, within=15)
    assert len(found) >= count, f"{kind}: {[t.id for t in found]}"
    return found


def short(task: Task) -> str:
    return task.id.rsplit("/", 1)[1]


async def flash(page: Any, text: str) -> None:
    """The page after a form post says `text` (else: the refusal it shows instead)."""
    await page.wait_for_selector("#flash, [role=alert]")
    if not await page.locator("#flash").count():
        alerts = await page.locator("[role=alert]").all_inner_texts()
        raise AssertionError(f"{page.url}: no {text!r}, the page says {alerts}")
    assert text in await page.inner_text("#flash")


async def visit_form(page: Any, t: str, method: str, note: str) -> str:
    """Open the "done" outcome of visit task `t` and fill the visit record; returns the prefix
    of the form's field ids (`#f-<task>-<outcome>-`: every form has its own ids)."""
    await page.click(f"#outcome-{t}-done > summary")
    f = f"#f-{t}-done-"
    await page.fill(f"{f}data-contact_person", "王工")
    await page.select_option(f"{f}data-method", method)
    await page.fill(f"{f}data-usage", f"设备运行正常。{note}")
    await page.fill(f"{f}data-service_rating", "5")
    return f


async def page_width(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth"))


async def lines_of(page: Any, selector: str) -> int:
    """How many lines the text of the element takes (one box per line of its text)."""
    return int(
        await page.locator(selector).first.evaluate(
            """el => {
                const tops = new Set(), walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
                for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                    if (!n.textContent.trim()) continue;
                    const r = document.createRange(); r.selectNodeContents(n);
                    for (const b of r.getClientRects()) tops.add(Math.round(b.top));
                }
                return tops.size; }"""
        )
    )


async def test_a_revisit_case_through_the_browser(browser, site, session_factory) -> None:
    base = site["base"]
    customer = f"B{uuid.uuid4().hex[:8].upper()}"
    case_id = f"revisit-{customer}"
    site["started"].append(case_id)

    # ---- sign in: a wrong password first ----
    staff_ctx = await browser.new_context(base_url=base, locale="zh-CN")
    staff_ctx.set_default_timeout(STEP_MS)
    staff = await staff_ctx.new_page()
    await staff.goto("/work")
    assert re.search(r"/login\?next=/work$", staff.url)
    await staff.fill("#login", "staff")
    await staff.fill("#password", "wrong-password")
    await staff.click("#login-submit")
    assert "用户名或密码错误" in await staff.inner_text("#login-error")
    assert await staff.input_value("#login") == "staff"
    await staff.fill("#password", "staff-demo")
    await staff.click("#login-submit")
    await staff.wait_for_url(re.compile(r"/work$"))
    assert "张晓明" in await staff.inner_text("#user-menu-button")

    # ---- start an R1 case: a bad field, then a good one ----
    await staff.goto("/start")
    await staff.click('a[href="/start/revisit"]')
    await staff.wait_for_selector("#start-form")
    go_live = (datetime.now(CHINA_TZ).date() - timedelta(days=35)).isoformat()
    await staff.fill("#f-customer_id", "bad id!")
    await staff.fill("#f-customer_name", "华南物业管理有限公司")
    await staff.fill("#f-go_live", go_live)
    # People are chosen by name: the owner is the one who starts it, the supervisor picked.
    assert await staff.input_value("#f-owner") == "staff"
    assert "张晓明" in await staff.inner_text("#f-owner")
    await staff.select_option("#f-supervisor", "supervisor")
    await staff.fill("#f-contacts-0-name", "王工")
    await staff.fill("#f-contacts-0-title", "设备负责人")
    await staff.fill("#f-contacts-0-phone", "13800000000")
    await staff.click("fieldset[data-repeat=contacts] .add-row")
    await staff.fill("#f-contacts-1-name", "李经理")
    await staff.fill("#f-contacts-1-phone", "13900000000")
    await staff.click("#start-submit")
    await staff.wait_for_selector("#form-error")
    error = staff.locator("#f-customer_id-field .field-error")
    assert await error.is_visible() and "格式不正确" in await error.inner_text()
    assert await staff.input_value("#f-customer_id") == "bad id!"
    assert await staff.input_value("#f-customer_name") == "华南物业管理有限公司"
    assert await staff.input_value("#f-go_live") == go_live
    assert await staff.input_value("#f-contacts-1-name") == "李经理"
    await staff.fill("#f-customer_id", customer)
    await staff.click("#start-submit")
    await staff.wait_for_url(re.compile(rf"/cases/{case_id}\?msg=started"))
    await flash(staff, "案件已发起")
    assert customer in await staff.inner_text("#case-id")
    href = await staff.get_attribute("#console-link", "href")
    assert href and href.endswith(f"/workflows/{case_id}"), href
    # Staff may not extend: no form, the role that may is named.
    assert "延期：需要 部门主管" in await staff.inner_text("#tasks")

    # ---- the first phone visit: two problems that need an on-site visit ----
    (first,) = await open_tasks(session_factory, case_id, "visit", 1)
    t = short(first)
    await staff.reload()
    f = await visit_form(staff, t, "phone", "首次电话回访。")
    problems = f"#complete-{t}-done fieldset[data-repeat='data.problems']"
    await staff.fill(f"{f}data-problems-0-text", "二号机房空调报警，电话无法排除")
    await staff.select_option(f"{f}data-problems-0-route", "onsite")
    await staff.click(f"{problems} .add-row")
    await staff.fill(f"{f}data-problems-1-text", "门禁读卡器偶尔失灵")
    await staff.select_option(f"{f}data-problems-1-route", "onsite")
    await staff.click(f"#complete-submit-{t}-done")
    await staff.wait_for_url(re.compile(r"msg=completed"))
    await flash(staff, "任务已完成")

    # ---- the report and the materials (one outcome each: their forms are open) ----
    (report,) = await open_tasks(session_factory, case_id, "report", 1)
    (materials,) = await open_tasks(session_factory, case_id, "materials", 1)
    await staff.reload()
    r = short(report)
    await staff.fill(f"#f-{r}-done-data-summary", "客户整体满意，两项问题需上门处理。")
    await staff.fill(f"#f-{r}-done-data-evaluation", "良好")
    await staff.click(f"#complete-submit-{r}-done")
    await flash(staff, "任务已完成")
    m = short(materials)
    await staff.fill(f"#f-{m}-done-data-note", "回访记录、报告已整理")
    await staff.click(f"#complete-submit-{m}-done")
    await flash(staff, "任务已完成")

    # ---- the supervisor's review shows in the supervisor's work list ----
    (review,) = await open_tasks(session_factory, case_id, "review", 1)
    boss = await sign_in(browser, base, "supervisor")
    row = boss.locator(f'#my-work tr.task-row[data-task-id="{review.id}"]')
    await row.wait_for()
    assert await row.get_attribute("data-regulation") == "revisit"
    assert re.search(r"due-(overdue|soon|ok)", await row.get_attribute("class") or "")
    assert "审阅回访记录与报告" in await row.inner_text()
    assert "公司客户回访管理规定" in await boss.inner_text("#reg-counts")

    # ---- extend an on-site visit: not offered to another supervisor, then the case's ----
    onsite_a, onsite_b = await open_tasks(session_factory, case_id, "visit", 2)
    a, b = short(onsite_a), short(onsite_b)
    assert onsite_a.data.get("onsite") and onsite_b.data.get("onsite")
    assert onsite_a.due_at
    new_due = (onsite_a.due_at + timedelta(days=3)).astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M")
    other = await sign_in(browser, base, "supervisor2")
    await other.goto(f"/cases/{case_id}")
    # The page asks the workflow's own rule: the case names its supervisor, so another one is
    # offered no extension (the workflow would refuse it), and is told who may.
    await other.locator(f"#task-{a}").wait_for()
    assert await other.locator(f"#extend-box-{a}").count() == 0
    assert "延期：需要 部门主管" in await other.inner_text(f"#task-{a}")

    await boss.goto(f"/cases/{case_id}")
    events_before = await boss.locator("#timeline li.event").count()
    await boss.click(f"#extend-box-{a} > summary")
    await boss.fill(f"#extend-due-{a}", new_due)
    await boss.fill(f"#extend-reason-{a}", "客户要求改期")
    await boss.click(f"#extend-submit-{a}")
    await flash(boss, "期限已延长")
    extended = boss.locator("#timeline li.event-deadline_extended")
    assert await extended.count() == 1
    said = await extended.inner_text()  # a sentence, the supervisor by name
    assert "李国华 将《" in said and "理由：客户要求改期" in said, said

    # ---- on-site visit A: the customer draws a signature ----
    await staff.goto(f"/cases/{case_id}")
    await visit_form(staff, a, "onsite", "现场检查空调报警。")
    await staff.fill(f"#sig-name-{a}-done", "王工")
    # Only the chosen method's controls show: the code ones, then the pad.
    pad = staff.locator(f"canvas#sig-pad-{a}-done")
    code_input = staff.locator(f"#sig-code-{a}-done")
    await staff.check(f"#sig-method-{a}-done-otp")
    assert await code_input.is_visible() and await staff.is_visible(f"#send-code-{a}-done")
    assert not await pad.is_visible()
    await staff.check(f"#sig-method-{a}-done-drawing")
    assert await pad.is_visible() and not await code_input.is_visible()
    assert not await staff.is_visible(f"#send-code-{a}-done")
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box
    x0, y0 = box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.6
    await staff.mouse.move(x0, y0)
    await staff.mouse.down()
    for i in range(1, 13):  # a wavy stroke
        await staff.mouse.move(x0 + i * box["width"] * 0.055, y0 - (20 if i % 2 else -10), steps=3)
    await staff.mouse.up()
    drawing = await staff.input_value(f"#sig-drawing-{a}-done")
    assert drawing.startswith("data:image/png;base64,") and len(drawing) > 500
    await staff.click(f"#complete-submit-{a}-done")
    await staff.wait_for_url(re.compile(r"msg=completed"))
    await flash(staff, "任务已完成")

    # ---- on-site visit B, without JavaScript: a one-time code sent to the first contact ----
    # "Send code" sits next to the code input and keeps what was typed.
    plain = await sign_in(browser, base, "staff", java_script_enabled=False)
    await plain.goto(f"/cases/{case_id}")
    await visit_form(plain, b, "onsite", "现场检修门禁读卡器。")
    await plain.fill(f"#sig-name-{b}-done", "李经理")
    assert await plain.is_visible(f"canvas#sig-pad-{b}-done")  # drawing is the default
    await plain.check(f"#sig-method-{b}-done-otp")
    assert not await plain.is_visible(f"canvas#sig-pad-{b}-done")
    await plain.click(f"#send-code-{b}-done")
    await plain.wait_for_selector(f"#code-sent-{b}-done")
    assert "验证码已发送" in await plain.inner_text(f"#code-sent-{b}-done")
    assert await plain.input_value(f"#f-{b}-done-data-contact_person") == "王工"
    assert await plain.input_value(f"#sig-name-{b}-done") == "李经理"
    assert await plain.is_checked(f"#sig-method-{b}-done-otp")
    assert await plain.is_visible(f"#sig-code-{b}-done")

    code = await eventually(lambda: sent_code(session_factory, case_id), lambda v: bool(v))
    assert code, "no code in the outbox"
    await plain.fill(f"#sig-code-{b}-done", code)
    await plain.click(f"#complete-submit-{b}-done")
    await plain.wait_for_url(re.compile(r"msg=completed"))
    await flash(plain, "任务已完成")
    await plain.context.close()

    # ---- the timeline shows the new events ----
    await staff.goto(f"/cases/{case_id}")

    async def signed_events() -> int:
        await staff.reload()
        return int(await staff.locator("#timeline li.event-signed").count())

    await eventually(signed_events, lambda n: n >= 2)
    timeline = staff.locator("#timeline li.event")
    assert await timeline.count() > events_before
    text = await staff.inner_text("#timeline")
    for said in (
        "张晓明 发起案件",
        "张晓明 完成《",
        "的截止时间",
        "（客户）签署《客户回访记录表》",
    ):
        assert said in text, said
    assert await staff.locator(f"#task-{a}").count() == 0  # closed
    assert await staff.locator(f"#task-{b}").count() == 0

    # ---- the signed record: the drawn signature is there and verifies ----
    links = staff.locator("a.record-link", has_text="客户回访记录表")
    assert await links.count() >= 3
    await links.nth(1).click()  # the records in order: first phone visit, visit A, visit B
    await staff.wait_for_selector("#record")
    signatures = await staff.inner_text("#signatures")
    assert "王工" in signatures and "手写签名" in signatures
    drawn = staff.locator(".signature-row", has_text="手写签名")
    # The drawn signature itself, with the seal checked on the page and in print.
    image = drawn.locator("img.sig-image")
    assert await image.count() == 1
    # loaded (the page may be shown before the image has arrived on a loaded machine)
    assert await image.evaluate(
        """img => img.complete ? img.naturalWidth > 0 : new Promise(done => {
            img.addEventListener("load", () => done(img.naturalWidth > 0));
            img.addEventListener("error", () => done(false)); })"""
    )
    assert "验证通过" in await drawn.inner_text()
    await drawn.locator(".verify-button").click()  # again, in place: no reload
    await drawn.locator(".verify-result.ok").wait_for()
    assert "?verify=" not in staff.url
    assert await staff.get_attribute("#export-csv", "href")
    record_url = staff.url.split("?")[0]

    # ---- on a phone: no page wider than the screen, the verify button takes a tap ----
    phone = await sign_in(browser, base, "staff", **PHONE)
    await phone.goto(record_url)
    assert await phone.is_visible("p.mono")  # the SHA-256 line
    assert await page_width(phone) <= 390, "the record is wider than the phone"
    button = phone.locator(".signature-row", has_text="手写签名").locator(".verify-button")
    await button.scroll_into_view_if_needed()
    await button.tap()
    await phone.locator(".signature-row .verify-result.ok").first.wait_for()
    assert await page_width(phone) <= 390
    # On a phone the case opens on its tasks: the history is folded, a tap opens it.
    await phone.goto(f"/cases/{case_id}")
    assert await phone.locator("#timeline").get_attribute("open") is None
    assert not await phone.locator("#timeline-list").is_visible()
    await phone.click("#timeline > summary")
    assert await phone.locator("#timeline-list").is_visible()
    height = await phone.evaluate("document.documentElement.scrollHeight")
    assert height < 11000, height
    for url in (f"/cases/{case_id}", "/work", "/cases"):
        await phone.goto(url)
        assert await page_width(phone) <= 390, url
    # The case filter on a phone: the checkbox keeps its size, "仅超期" stays on one line.
    box = await phone.locator("#filter-overdue").bounding_box()
    assert box and box["width"] < 40, box
    assert await lines_of(phone, "label.check:has(#filter-overdue)") == 1
    await phone.context.close()
    # On a wide screen: a case's id, customer id, status and start time each on one line.
    await staff.goto("/cases")
    row = f'#cases-table tr[data-case-id="{case_id}"]'
    for cell in ("td:nth-child(1) a", "td:nth-child(3)", "td:nth-child(4)", "td:nth-child(5)"):
        assert await lines_of(staff, f"{row} {cell}") == 1, cell

    # ---- sign out: a page then sends to the sign-in ----
    await staff.goto(f"/cases/{case_id}")
    await staff.click("#user-menu-button")
    await staff.click("#logout-button")
    await staff.wait_for_url(re.compile(r"/login$"))
    await staff.goto("/work")
    assert re.search(r"/login\?next=/work$", staff.url)
    assert await staff.locator("#login-form").is_visible()


async def test_api_docs_render_the_operations(browser, site) -> None:
    """/docs is Swagger UI 5 from this server: it reads the OpenAPI 3.1 document and lists the
    operations (Swagger UI 4 said "Unable to render this definition")."""
    context = await browser.new_context(base_url=site["base"], locale="zh-CN")
    context.set_default_timeout(STEP_MS)
    page = await context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if "127.0.0.1" not in r.url else None)
    await page.goto("/docs")
    await page.locator(".opblock").first.wait_for()
    assert await page.locator(".opblock").count() >= 20
    summaries = await page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/regulations/{code}/cases" in s.replace("\u200b", "") for s in summaries)
    body = await page.inner_text("body")
    assert "Unable to render" not in body and "3.1" in body
    assert not outside, outside  # nothing from a CDN
    await context.close()


async def test_a_household_answers_its_questionnaire_on_a_phone(
    browser, site, local_env, session_factory
) -> None:
    """R8 (三)1: 客服部 asks for the links; a household opens its link on a phone (no sign-in),
    is told what it left out, answers, and cannot answer twice."""
    from tests.test_satisfaction import ITEMS, approved, delivered, start_survey

    h = await start_survey(local_env, site["queue"])
    site["started"].append(h.id)
    sample = await approved(h)
    await delivered(h)
    staff = await sign_in(browser, site["base"], "cs")
    csrf = next(c["value"] for c in await staff.context.cookies() if c["name"] == "csrftoken")
    got = await staff.request.post(f"/api/cases/{h.id}/survey-links",
                                   headers={"x-csrftoken": csrf})  # fmt: skip
    assert got.status == 200, await got.text()
    url = next(link["url"] for link in await got.json() if link["household"] == sample[0])

    context = await browser.new_context(base_url=site["base"], locale="zh-CN", **PHONE)
    context.set_default_timeout(STEP_MS)
    phone = await context.new_page()
    await phone.goto(url)
    assert sample[0] in await phone.inner_text("#survey-who")
    assert await page_width(phone) <= 390  # nothing wider than the phone
    for i in (0, 2):  # the second item left out
        await phone.check(f'input[name="grade.{i}"][value="satisfied"]')
    await phone.fill("#opinions", "希望增加夜间巡逻")
    await phone.click("#survey-submit")
    await phone.wait_for_selector("#error-grade\\.1")
    assert await phone.input_value("#opinions") == "希望增加夜间巡逻"
    assert await phone.is_checked('input[name="grade.0"][value="satisfied"]')
    await phone.check('input[name="grade.1"][value="very_satisfied"]')
    await phone.click("#survey-submit")
    await phone.wait_for_selector("#survey-thanks")
    [mine] = [r for r in await records_of(session_factory, h.id, "survey_return")
              if r.data["household"] == sample[0]]  # fmt: skip
    assert [g["grade"] for g in mine.data["grades"]] == ["satisfied", "very_satisfied", "satisfied"]
    assert [g["item"] for g in mine.data["grades"]] == ITEMS
    await phone.goto(url)
    assert "已经提交" in await phone.inner_text("#survey-closed")
    await context.close()
    await staff.context.close()
