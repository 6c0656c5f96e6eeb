"""Screenshots of the web pages, for the documentation: `python -m bench.screenshots`.

Starts what it needs itself and stops it again: a database `zhidu_shots_<random>` (migrated to
head) on the PostgreSQL server of DATABASE_URL, else postgresql://postgres@127.0.0.1:5432,
dropped at the end; a Temporal dev server (in memory); a worker; the app (uvicorn on a free
port). It seeds a few realistic R1 (客户回访) cases through the same code the pages use, then
Chromium (/usr/bin/chromium, Playwright) writes PNGs of the main pages at 1366×768 (desktop)
and 390×844 (phone) into docs/screenshots/ as `<page>-desktop.png` and `<page>-phone.png`:

    login           the sign-in page
    work            my work (staff): open tasks, soonest due first, counts per regulation
    start           the start form of R1, generated from its input model
    case            a case page: facts, deadlines, open tasks
    case-signature  the same case at an on-site visit's form with a drawn customer signature
    cases           the case list with its filters (supervisor)
    record          a signed record (《客户回访记录表》) with a verified signature
    admin-calendar  the working-calendar upload with the preview of examples/calendar-2027.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import secrets
import shutil
import struct
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.local import CHROMIUM, CHROMIUM_ARGS, free_port, scratch_database_url, serving

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


def log(msg: str) -> None:
    print(f"screenshots: {msg}", file=sys.stderr, flush=True)


# ---- the stack ------------------------------------------------------------------------------


# ---- seeding --------------------------------------------------------------------------------


def signature_png() -> str:
    """A small drawn-looking signature as a PNG data URL (what the signature pad sends)."""
    w, h = 120, 40
    rows = []
    for y in range(h):
        row = bytearray([0])  # filter: none
        for x in range(w):
            curve = 20 + 10 * math.sin(x / 9.0)
            row += b"\x11" if abs(y - curve) < 1.5 and 8 < x < 112 else b"\xff"
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


class Seeder:
    def __init__(self, client: Any, settings: Any, sf: Any) -> None:
        self.client, self.settings, self.sf = client, settings, sf
        self.people: dict[str, Any] = {}

    async def user(self, uid: str) -> Any:
        from starter import users

        if uid not in self.people:
            self.people[uid] = await users.get_user(self.sf, uid)
        return self.people[uid]

    async def start(self, uid: str, values: dict[str, Any]) -> str:
        from starter import cases

        case_id, _ = await cases.start_case(
            self.client, self.settings, "revisit", values, await self.user(uid),
            session_factory=self.sf,
        )  # fmt: skip
        return case_id

    async def tasks(self, case_id: str, kind: str, count: int = 1) -> list[Any]:
        """The case's open tasks of that kind, oldest first, once `count` are stored."""
        from sqlalchemy import select

        from store.models import Task

        deadline = time.monotonic() + 20
        while True:
            async with self.sf() as s:
                stmt = (
                    select(Task)
                    .where(Task.case_id == case_id, Task.kind == kind, Task.status == "open")
                    .order_by(Task.created_at, Task.id)
                )
                found = list((await s.scalars(stmt)).all())
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise RuntimeError(f"{case_id}: no {count} open {kind} task(s)")
            await asyncio.sleep(0.1)

    async def act(self, uid: str, case_id: str, action: str, payload: dict[str, Any]) -> None:
        from starter import cases

        await cases.act(
            self.client, case_id, action, payload, await self.user(uid),
            session_factory=self.sf, settings=self.settings,
        )  # fmt: skip

    async def complete(
        self, uid: str, case_id: str, task: Any, outcome: str, data: dict[str, Any], **kw: Any
    ) -> None:
        payload = {"task_id": task.id, "outcome": outcome, "data": data, **kw}
        await self.act(uid, case_id, "complete_task", payload)


def revisit_input(
    customer_id: str, name: str, klass: str, days_live: int, contacts: list[dict[str, str]]
) -> dict[str, Any]:
    from workflows.model import CHINA_TZ

    go_live = datetime.now(CHINA_TZ).date() - timedelta(days=days_live)
    return {
        "customer_id": customer_id,
        "customer_name": name,
        "customer_class": klass,
        "go_live": go_live.isoformat(),
        "owner": "staff",
        "supervisor": "supervisor",
        "department": "客户服务部",
        "contacts": contacts,
    }


PLAN = {
    "purposes": ["product_use", "archive_service", "relationship"],
    "methods": ["phone", "onsite"],
    "content": "了解系统上线后的使用情况，收集操作人员的意见，核对档案资料是否齐全。",
}


async def seed(sd: Seeder) -> dict[str, str]:
    """A handful of R1 cases at different stages; returns the ids the screenshots use."""
    from starter import users
    from workflows.model import CHINA_TZ

    await users.ensure_demo_users(sd.sf)
    main = await sd.start(
        "staff",
        revisit_input("HN-0001", "华南物业管理有限公司", "key", 35, [
            {"name": "王建华", "title": "设备负责人", "phone": "13800138001"},
            {"name": "李秀英", "title": "行政经理", "phone": "13800138002",
             "email": "li.xiuying@example.cn"},
        ]),
    )  # fmt: skip
    (plan,) = await sd.tasks(main, "plan")
    await sd.complete("staff", main, plan, "done", PLAN)
    (visit,) = await sd.tasks(main, "visit")
    await sd.complete("staff", main, visit, "done", {
        "contact_person": "王建华", "method": "phone",
        "usage": "系统运行稳定，每天约 40 人使用；夜班人员对报表导出不熟悉。",
        "service_rating": 4,
        "questions": ["二号机房空调报警后系统没有推送短信，是否需要另外配置？",
                      "门禁读卡器偶尔读不出卡。"],
        "suggestions": ["希望提供夜班人员的操作培训。"],
        "problems": [
            {"text": "二号机房空调报警未推送短信，电话指导无法排除", "route": "onsite"},
            {"text": "门禁读卡器偶尔失灵", "route": "onsite"},
            {"text": "报表导出按钮位置不清楚", "route": "solved", "note": "电话中已演示"},
        ],
    })  # fmt: skip
    (report,) = await sd.tasks(main, "report")
    await sd.complete("staff", main, report, "done", {
        "summary": "客户整体满意。两项设备问题需上门处理，已安排现场回访；报表导出已电话解决。",
        "evaluation": "良好",
    })  # fmt: skip
    (materials,) = await sd.tasks(main, "materials")
    await sd.complete("staff", main, materials, "done", {
        "note": "回访记录、报告及通话录音已整理。",
        "expenses": [{"item": "市内交通费", "amount_yuan": "86.50", "receipt_no": "FP20261101"}],
    })  # fmt: skip
    onsite_a, onsite_b = await sd.tasks(main, "visit", 2)
    await sd.complete(
        "staff", main, onsite_a, "done",
        {"contact_person": "王建华", "method": "onsite",
         "usage": "现场检查：空调报警短信通道未开通，已现场配置并测试成功。",
         "service_rating": 5, "questions": [], "suggestions": ["希望每季度巡检一次。"]},
        signatures=[{"signer_name": "王建华", "method": "drawing", "evidence": signature_png()}],
    )  # fmt: skip
    new_due = (onsite_b.due_at + timedelta(days=3)).astimezone(CHINA_TZ).isoformat()
    await sd.act("supervisor", main, "extend_deadline", {
        "task_id": onsite_b.id, "new_due": new_due, "reason": "客户设备厂家下周才能到场",
    })  # fmt: skip

    others = [
        ("BJ-0002", "北京中关村科技园服务中心", "large", 3, "赵志强"),
        ("SH-0003", "上海浦东新区档案馆", "regular", 40, "陈丽华"),
        ("GZ-0004", "广州白云国际机场物业部", "key", 183, "黄海涛"),
        ("SZ-0005", "深圳南山软件园管理处", "regular", 210, "吴敏"),
        ("CD-0006", "成都天府新区政务服务中心", "large", 20, "周晓梅"),
    ]
    ids = {}
    for cid, name, klass, days, person in others:
        ids[cid] = await sd.start(
            "staff" if cid != "GZ-0004" else "supervisor",
            revisit_input(cid, name, klass, days, [
                {"name": person, "title": "信息中心主任", "phone": "139" + cid[-4:] + "0000"}
            ]),
        )  # fmt: skip
    (plan,) = await sd.tasks(ids["SH-0003"], "plan")
    await sd.complete("staff", ids["SH-0003"], plan, "done", PLAN)
    await sd.act("supervisor", ids["CD-0006"], "close_plan", {"reason": "客户合同到期，不再续约"})
    return {"case": main, "record_task": onsite_a.id, "open_visit": onsite_b.id}


# ---- the screenshots ------------------------------------------------------------------------


WIDER: list[str] = []


async def shoot(page: Any, name: str, kind: str) -> Path:
    await page.wait_for_load_state("networkidle")
    await page.evaluate("document.fonts.ready.then(() => true)")
    width = await page.evaluate("document.documentElement.scrollWidth")
    if width > VIEWPORTS[kind]["viewport"]["width"]:  # type: ignore[index]
        WIDER.append(f"{name}-{kind}: the page is {width} px wide")
        log(f"WARNING {WIDER[-1]} (viewport {VIEWPORTS[kind]['viewport']['width']} px)")  # type: ignore[index]
    path = OUT / f"{name}-{kind}.png"
    await page.screenshot(path=str(path), full_page=False, animations="disabled")
    log(f"wrote {path.relative_to(ROOT)}")
    return path


async def signed_in(browser: Any, base: str, kind: str, uid: str) -> Any:
    context = await browser.new_context(base_url=base, locale="zh-CN", **VIEWPORTS[kind])
    context.set_default_timeout(20_000)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#login", uid)
    await page.fill("#password", f"{uid}-demo")
    await page.click("#login-submit")
    await page.wait_for_url("**/work")
    return page


async def draw(page: Any, pad: str) -> None:
    canvas = page.locator(pad)
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    assert box
    x0, y0 = box["x"] + box["width"] * 0.12, box["y"] + box["height"] * 0.55
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    for i in range(1, 41):
        x = x0 + i * box["width"] * 0.018
        y = y0 - math.sin(i / 3.0) * box["height"] * 0.22 - (i % 7) * 0.6
        await page.mouse.move(x, y, steps=2)
    await page.mouse.up()
    await page.mouse.move(x0 + box["width"] * 0.55, y0 + 8)
    await page.mouse.down()
    await page.mouse.move(x0 + box["width"] * 0.72, y0 - 14, steps=6)
    await page.mouse.up()


async def screenshots(base: str, ids: dict[str, str], kinds: list[str]) -> list[Path]:
    from playwright.async_api import async_playwright

    case_id = ids["case"]
    visit = ids["open_visit"].rsplit("/", 1)[1]
    written = []
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for kind in kinds:
                ctx = await browser.new_context(base_url=base, locale="zh-CN", **VIEWPORTS[kind])
                page = await ctx.new_page()
                await page.goto("/login")
                written.append(await shoot(page, "login", kind))
                await ctx.close()

                staff = await signed_in(browser, base, kind, "staff")
                written.append(await shoot(staff, "work", kind))
                await staff.goto("/start/revisit")
                written.append(await shoot(staff, "start", kind))
                await staff.goto(f"/cases/{case_id}")
                written.append(await shoot(staff, "case", kind))
                await staff.click(f"#outcome-{visit}-done > summary")
                form = f"#f-{visit}-done-"  # every task form has its own element ids
                await staff.fill(f"{form}data-contact_person", "李秀英")
                await staff.select_option(f"{form}data-method", "onsite")
                await staff.fill(f"{form}data-usage", "门禁读卡器已更换天线，测试 20 次均正常。")
                await staff.fill(f"{form}data-service_rating", "5")
                await staff.fill(f"#sig-name-{visit}-done", "李秀英")
                await staff.check(f"#sig-method-{visit}-done-drawing")
                await draw(staff, f"#sig-pad-{visit}-done")
                await staff.locator(f"#sig-{visit}-done").evaluate(
                    "el => el.scrollIntoView({block: 'center'})"
                )
                written.append(await shoot(staff, "case-signature", kind))

                # The record of the on-site visit the customer signed by drawing, verified.
                await staff.goto(f"/cases/{case_id}")
                href = (
                    await staff.locator('#records tr:has(a.record-link[href*="revisit_record"])')
                    .last.locator("a.record-link")
                    .get_attribute("href")
                )
                await staff.goto(href or "/")
                # The verify button's GET form, followed as a link: on the phone the page is
                # wider than the screen (see the width check) and a tap can miss the button.
                sig = await staff.locator(".signature-row", has_text="手写签名").get_attribute(
                    "data-signature-id"
                )
                await staff.goto(f"{staff.url.split('?')[0]}?{urlencode({'verify': sig})}")
                await staff.wait_for_selector("#verify-result")
                await staff.evaluate("window.scrollTo(0, 0)")
                written.append(await shoot(staff, "record", kind))
                await staff.context.close()

                boss = await signed_in(browser, base, kind, "supervisor")
                await boss.goto("/cases")
                written.append(await shoot(boss, "cases", kind))
                await boss.context.close()

                admin = await signed_in(browser, base, kind, "admin")
                await admin.goto("/admin/calendar")
                await admin.set_input_files(
                    "#calendar-file", str(ROOT / "examples" / "calendar-2027.json")
                )
                await admin.click("#calendar-preview-button")
                await admin.wait_for_selector("#calendar-preview")
                written.append(await shoot(admin, "admin-calendar", kind))
                await admin.context.close()
        finally:
            await browser.close()
    return written


async def run(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    import worker
    from settings import Settings
    from starter.app import create_app
    from starter.devstack import drop_database, ensure_database
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade

    tag = secrets.token_hex(4)
    db_url_text = scratch_database_url("zhidu_shots", tag=tag)
    db_name = make_url(db_url_text).database
    workdir = Path(tempfile.mkdtemp(prefix="zhidu-shots-"))
    key = secrets.token_urlsafe(32)
    env = engine = None
    created = False
    try:
        created = await ensure_database(db_url_text)
        await upgrade(db_url_text)
        log(f"database {db_name} ready; starting the Temporal dev server")
        env = await WorkflowEnvironment.start_local(
            namespace="default",
            dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
            data_converter=pydantic_data_converter,
            search_attributes=worker.SEARCH_ATTRIBUTES,
            interceptors=[worker.AssertionSigner(key.encode("utf-8"))],
            ui=False,
        )
        settings = Settings.model_validate(
            {
                "database_url": db_url_text,
                "temporal_address": env.client.service_client.config.target_host,
                "temporal_namespace": "default",
                "temporal_task_queue": f"shots-{tag}",
                "data_dir": workdir,
                "signing_key_path": workdir / "signing_key.pem",
                "assertion_key": key,
                "notify_channels": "console",
                "console_shows_codes": True,
                "session_secret": secrets.token_urlsafe(32),
            }
        )
        engine = make_engine(db_url_text)
        sf = make_session_factory(engine)
        async with worker.build_worker(env.client, sf, settings):
            log("seeding cases")
            ids = await seed(Seeder(env.client, settings, sf))
            port = free_port()
            with serving(create_app(settings), port):
                written = await screenshots(f"http://127.0.0.1:{port}", ids, args.kinds)
            for wid in [ids["case"], *(f"revisit-{c}" for c in ("BJ-0002", "SH-0003",
                                                                 "GZ-0004", "SZ-0005"))]:  # fmt: skip
                try:
                    await env.client.get_workflow_handle(wid).terminate("screenshots taken")
                except Exception:
                    pass
        print("\n".join(str(p.relative_to(ROOT)) for p in written))
        for line in WIDER:
            print(f"wider than the screen: {line}")
        return 0
    finally:
        if engine is not None:
            await engine.dispose()
        if env is not None:
            await env.shutdown()
        if created:
            try:
                await drop_database(db_url_text)
                log(f"dropped database {db_name}")
            except Exception as exc:  # report, do not hide the real failure
                log(f"could not drop {db_name}: {exc}")
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--kinds", nargs="+", choices=list(VIEWPORTS), default=list(VIEWPORTS))
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        log(f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
        return 2
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
