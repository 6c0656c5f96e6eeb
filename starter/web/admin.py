"""系统管理 / administration (the role admin): users and their roles, the policy in force,
the working-day calendar (upload, preview, load), the schedules, and the notification channels
(with a test message)."""

from __future__ import annotations

import asyncio
import re
import secrets
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from activities.errors import Forbidden, Invalid, ServiceError
from starter import calendars, catalog, users
from starter.state import get_client
from starter.web.csrf import upload_token_ok
from starter.web.forms import resolve_schema, said
from starter.web.i18n import book, lang_of, person, pick, wording, words
from starter.web.pages import (
    PageRoute,
    factory,
    page_user,
    redirect,
    registry,
    render,
    require_role,
    state,
)
from starter.web.times import local
from store import queries
from store.db import is_unavailable
from store.models import User
from workflows.model import CONTROL, is_deadline

router = APIRouter(include_in_schema=False, route_class=PageRoute)


MAX_UPLOAD = 512 * 1024  # a calendar file is a few kilobytes


async def admin_user(request: Request) -> User:
    user = await page_user(request)
    require_role(user, "admin", lang_of(request))
    return user


USER_LABELS = {"id": "用户名", "name": "姓名", "password": "密码", "roles": "角色"}


async def _users_page(
    request: Request, user: User, error: ServiceError | None = None, values: dict | None = None
) -> HTMLResponse:
    people = await users.list_users(factory(request))
    return render(
        request, "admin_users.html", user, status=error.status if error else 200,
        people=people, roles=list(book().names),
        error=said(error, lang_of(request), USER_LABELS) if error else None,
        error_field=error.field if error else None, values=values or {},
    )  # fmt: skip


@router.get("/admin/users")
async def admin_users(request: Request) -> Response:
    user = await admin_user(request)
    return await _users_page(request, user)


@router.post("/admin/users")
async def admin_users_create(request: Request) -> Response:
    user = await admin_user(request)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("id", "name", "department", "email",
                                                          "phone")}  # fmt: skip
    roles = [str(r) for r in form.getlist("roles")]
    password = str(form.get("password") or "")
    try:
        if any(CONTROL.search(v) for v in (*values.values(), password)):
            raise Invalid("control characters are not allowed", "name")
        await users.create_user(
            factory(request), values["id"], values["name"], password, roles,
            department=values["department"] or None, email=values["email"] or None,
            phone=values["phone"] or None, book=book(),
        )  # fmt: skip
    except ServiceError as exc:
        return await _users_page(request, user, exc, {**values, "roles": roles})
    return redirect("/admin/users?msg=user_created")


@router.post("/admin/users/{user_id}/roles")
async def admin_users_roles(request: Request, user_id: str) -> Response:
    await admin_user(request)
    roles = [str(r) for r in (await request.form()).getlist("roles")]
    await users.set_roles(factory(request), user_id, roles, book())
    return redirect("/admin/users?msg=roles_saved")


@router.post("/admin/users/{user_id}/active")
async def admin_users_active(request: Request, user_id: str) -> Response:
    user = await admin_user(request)
    active = (await request.form()).get("active") == "1"
    if user_id == user.id and not active:
        raise Invalid(
            "you cannot deactivate yourself" if lang_of(request) == "en" else "不能停用自己"
        )
    await users.set_active(factory(request), user_id, active)
    return redirect(f"/admin/users?msg={'reactivated' if active else 'deactivated'}")


def param_words(key: str, prop: Mapping[str, Any]) -> tuple[str, str]:
    """A policy parameter's Chinese name and one-line explanation: from the labels' `params`,
    else its model's description (`名称：条款 说明`, or a sentence naming the clause), else its
    field label."""
    pair = words().params.get(key)
    if pair is not None:
        return pair
    desc = str(prop.get("description") or prop.get("title") or "").strip()
    if "：" in desc and len(desc.split("：", 1)[0]) <= 24:
        name, rest = desc.split("：", 1)
        return name.strip(), rest.strip()
    if desc:
        short = re.sub(r"^[\d.()（）第条款、 ]+", "", desc)
        short = re.split(r"[，,；;。]", short, maxsplit=1)[0].strip() or desc
        return short[:24], desc
    return words().fields.get(key, key), ""


def policy_rows(
    schema: Mapping[str, Any],
    current: Any,
    default: Any,
    prefix: str = "",
    root: Mapping[str, Any] | None = None,
    parent: str = "",
) -> list[dict[str, Any]]:
    """The policy fields as rows (nested models spelled out under their parent's name), each
    with its Chinese name and explanation, current and default values in words."""
    root = schema if root is None else root
    rows = []
    props = (schema.get("properties") or {}) if isinstance(schema, Mapping) else {}
    for key in (current or {}) if isinstance(current, Mapping) else []:
        raw = props.get(key, {})
        prop = resolve_schema(raw, root) if props else {}
        cur, dflt = current.get(key), (default or {}).get(key)
        name = f"{prefix}{key}"
        title, explain = param_words(key, raw)
        if isinstance(cur, Mapping) and not is_deadline(cur) and "properties" in prop:
            rows += policy_rows(prop, cur, dflt, f"{name}.", root, f"{title} · ")
            continue
        rows.append(
            {
                "name": name,
                "title": parent + title,
                "value": policy_text(key, cur),
                "default": policy_text(key, dflt),
                "changed": cur != dflt,
                "description": explain,
            }
        )
    return rows


def policy_text(key: str, value: Any) -> str:
    """A policy value in words: a time limit, money with two decimals, a value per coded kind
    (`普通客户：无；大客户：12 个月`)."""
    w = wording("zh")
    if value is None:
        return "无"
    if isinstance(value, Mapping) and not is_deadline(value):
        return "；".join(
            f"{w.enum(str(k)) if str(k) in w.labels.enums else w.field(str(k))}："
            f"{policy_text(key, v)}"
            for k, v in value.items()
        )
    return w.value(key, value) or "—"


@router.get("/admin/policy")
async def admin_policy(request: Request) -> Response:
    user = await admin_user(request)
    st = state(request)
    lang = lang_of(request)
    sections = []
    for entry in registry(request).values():
        reg = catalog.regulation_dict(entry, st.settings)
        schema = reg["policy_schema"]
        sections.append(
            {
                "code": entry.code,
                "title": entry.title_en if lang == "en" else entry.title_zh,
                "rows": policy_rows(schema, reg["policy"], reg["policy_defaults"]),
            }
        )
    return render(request, "admin_policy.html", user, sections=sections,
                  policy_file=str(st.settings.policy_file or ""))  # fmt: skip


def _calendar_preview(cal: Any) -> list[dict[str, Any]]:
    """The year month by month, each day a working day or not, per the uploaded file."""
    from datetime import date

    from activities.workcalendar import Overrides, year_days

    stated = {e.date: False for e in cal.holidays} | {e.date: True for e in cal.workdays}
    names = {e.date: e.name for e in (*cal.holidays, *cal.workdays)}
    days = year_days(cal.year, Overrides(days=stated, years=frozenset({cal.year}))).days
    months = []
    start = date(cal.year, 1, 1)
    for m in range(1, 13):
        first = date(cal.year, m, 1)
        cells: list[dict[str, Any] | None] = [None] * first.weekday()
        d = first
        while d.month == m:
            work = days[(d - start).days] == "W"
            kind = ("makeup" if d.weekday() >= 5 else "work") if work else (
                "holiday" if d in names else "off")  # fmt: skip
            cells.append(
                {"day": d.day, "kind": kind, "name": names.get(d, ""), "iso": d.isoformat()}
            )
            d += timedelta(days=1)
        months.append({"month": m, "cells": cells})
    return months


async def _calendar_page(
    request: Request,
    user: User,
    *,
    preview: Any = None,
    content: str = "",
    error: str | None = None,
    loaded: calendars.CalendarLoad | None = None,
    status: int = 200,
    filename: str = "",
) -> HTMLResponse:
    from sqlalchemy import select

    from store.models import CalendarYear

    async with factory(request)() as s:
        years = list((await s.scalars(select(CalendarYear).order_by(CalendarYear.year))).all())
    return render(
        request, "admin_calendar.html", user, status=status, years=years,
        preview=_calendar_preview(preview) if preview is not None else None, cal=preview,
        content=content, error=error, loaded=loaded, filename=filename,
    )  # fmt: skip


@router.get("/admin/calendar")
async def admin_calendar(request: Request) -> Response:
    user = await admin_user(request)
    return await _calendar_page(request, user)


@router.post("/admin/calendar/preview")
async def admin_calendar_preview(request: Request) -> Response:
    user = await admin_user(request)
    form = await request.form()
    if not upload_token_ok(request, form):
        raise Forbidden("页面已过期，请刷新后重试" if lang_of(request) == "zh" else
                        "This form has expired; reload the page and try again")  # fmt: skip
    upload = form.get("file")
    text = ""
    filename = ""
    if isinstance(upload, UploadFile):
        raw = await upload.read(MAX_UPLOAD + 1)
        filename = (upload.filename or "")[-100:]
        if len(raw) > MAX_UPLOAD:
            return await _calendar_page(
                request, user, error="file too large / 文件过大", status=413
            )
        text = raw.decode("utf-8", "replace")
    else:
        text = str(form.get("content") or "")
    from activities.workcalendar import parse_calendar

    try:
        cal = parse_calendar(text)
    except ValueError as exc:
        return await _calendar_page(request, user, error=str(exc), status=422, content=text)
    return await _calendar_page(request, user, preview=cal, content=text, filename=filename)


@router.post("/admin/calendar/load")
async def admin_calendar_load(request: Request) -> Response:
    user = await admin_user(request)
    form = await request.form()
    text = str(form.get("content") or "")
    filename = re.sub(r"[^\w.\-]", "_", str(form.get("filename") or ""))[-80:] or "upload.json"
    st = state(request)

    async def connect() -> Any:
        return get_client(st)

    with tempfile.TemporaryDirectory(prefix="zhidu-cal-") as tmp:
        path = Path(tmp) / f"web-{filename}"
        path.write_text(text, encoding="utf-8")
        try:
            loaded = await calendars.load_calendar(factory(request), path, user, connect)
        except ValueError as exc:
            return await _calendar_page(request, user, error=str(exc), status=422, content=text)
    return await _calendar_page(request, user, loaded=loaded)


@router.get("/admin/schedules")
async def admin_schedules(request: Request) -> Response:
    user = await admin_user(request)
    from starter.schedules import describe_schedules

    st = state(request)
    rows = await describe_schedules(get_client(st), st.registry)
    for r in rows:
        r["when"] = cron_words(r.get("cron"), r.get("every_seconds"))
        r["console_url"] = st.settings.schedule_url(r["id"])
        r["next_local"] = [local(t) for t in r.get("next", [])]
        r["recent_local"] = [{**a, "at": local(a["at"])} for a in r.get("recent", [])]
    return render(request, "admin_schedules.html", user, rows=rows)


_WEEKDAYS = "日一二三四五六日"


def cron_words(cron: str | None, every: int | None = None) -> str:
    """When a schedule runs, in words (China time): `0 9 1 * *` -> 每月 1 日 09:00."""
    if every:
        for size, unit in ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒")):
            if every % size == 0:
                return f"每 {every // size} {unit}"
    parts = (cron or "").split()
    if len(parts) != 5 or not all(p.isdigit() for p in parts[:2]):
        return cron or "—"
    minute, hour, dom, month, dow = parts
    at = f"{int(hour):02d}:{int(minute):02d}"
    if dom == "*" and month == "*" and dow == "*":
        return f"每天 {at}"
    if dom == "*" and month == "*" and dow.isdigit() and int(dow) <= 7:
        return f"每周{_WEEKDAYS[int(dow)]} {at}"
    if dom.isdigit() and month == "*" and dow == "*":
        return f"每月 {int(dom)} 日 {at}"
    if dom.isdigit() and month.isdigit() and dow == "*":
        return f"每年 {int(month)} 月 {int(dom)} 日 {at}"
    return cron or "—"


CHANNELS = {
    "console": ("控制台（开发用）", "Console (development)"),
    "smtp": ("电子邮件", "E-mail"),
    "webhook": ("群机器人（Webhook）", "Group chat (webhook)"),
}


def recipient_words(recipient: str, lang: str) -> str:
    """`role:finance` -> 财务管理部（全体）; a user id -> their name; an address as it is."""
    if recipient.startswith("role:"):
        code = recipient[5:]
        name = book().zh(code) if lang != "en" else book().en(code)
        return f"{name}（全体）" if lang != "en" else f"everyone in {name}"
    return person(recipient)


def delivery_words(row: Mapping[str, Any], lang: str) -> str:
    status, tries = row.get("status"), int(row.get("attempts") or 0)
    zh = lang != "en"
    if status == "sent":
        return (
            f"已发送 {local(row.get('sent_at'))}" if zh else f"sent {local(row.get('sent_at'))}"
        ).strip()
    if status == "failed":
        return f"发送失败（已尝试 {tries} 次）" if zh else f"failed after {tries} tries"
    if tries:
        return f"待重试（已尝试 {tries} 次）" if zh else f"to retry ({tries} tries)"
    return "待发送" if zh else "pending"


async def _notify_page(
    request: Request, user: User, result: tuple[str, bool, str] | None = None
) -> HTMLResponse:
    from activities.notify import parse_channels

    st = state(request)
    try:
        channels = parse_channels(st.settings.notify_channels)
        config_error = None
    except ValueError as exc:
        channels, config_error = [], str(exc)
    rows = await queries.recent_notifications(factory(request))
    lang = lang_of(request)
    for n in rows:
        n["to"] = recipient_words(str(n.get("recipient") or ""), lang)
        n["delivery"] = delivery_words(n, lang)
        n["channel_name"] = pick(CHANNELS.get(n["channel"]), lang, n["channel"])
    return render(
        request, "admin_notify.html", user, channels=channels, config_error=config_error,
        rows=rows, result=result,
        channel_name=lambda c: pick(CHANNELS.get(c), lang, c),
    )  # fmt: skip


@router.get("/admin/notifications")
async def admin_notifications(request: Request) -> Response:
    user = await admin_user(request)
    return await _notify_page(request, user)


@router.post("/admin/notifications/test")
async def admin_notifications_test(request: Request) -> Response:
    """Send a test message through one channel now (not through the outbox), so the
    administrator sees at once whether it works and, if not, why."""
    from activities.notify import Directory, channels_from_settings
    from store.models import Notification

    user = await admin_user(request)
    name = str((await request.form()).get("channel") or "")
    st = state(request)
    try:
        channel = channels_from_settings(st.settings).get(name)
        if channel is None:
            raise ValueError(f"channel {name!r} is not configured")
        note = Notification(
            key=f"test/{secrets.token_hex(6)}", case_id=None, channel=name,
            recipient=user.email or user.id, subject="zhidu 测试通知 / test notification",
            body=f"这是一条测试通知，由 {user.name} 于 {local(datetime.now(UTC))} 发送。",
        )  # fmt: skip
        async with factory(request)() as s, asyncio.timeout(20):
            await channel.send(note, Directory(s))
    except Exception as exc:  # shown to the administrator: this is what they asked for
        if is_unavailable(exc) and not isinstance(exc, ValueError | TimeoutError):
            raise
        return await _notify_page(
            request, user, (name, False, str(exc)[:300] or type(exc).__name__)
        )
    return await _notify_page(request, user, (name, True, ""))
