"""The web pages: server-rendered HTML (Jinja2, autoescape on), Simplified Chinese first with an
English switch (cookie `zhidu_lang=en`), usable on a phone, no front-end build and no
JavaScript framework (starter/static/web/web.js: auto-refresh, signature pad, repeated rows).

Every page goes through the same code as the API and the CLI: `starter.cases` to start and
steer cases (Temporal), `starter.catalog` and `store.queries` to read (PostgreSQL is the read
model: no page ever sends a workflow query), `starter.sigcodes`, `starter.users`,
`starter.sessions`. Forms are generated from the JSON Schema of a regulation's input model and
of each task outcome's data model, so a new regulation gets its pages without template work.

Sign-in is the API's server-side session (cookie `zhidu_session`); every unsafe request carries
the CSRF token of asgi-csrf (see `create_app` in starter/app.py).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
import secrets
import tempfile
from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from starter import auth, calendars, cases, catalog, sessions, sigcodes, signatures, users
from starter.errors import Forbidden, Invalid, NotFound, ServiceError
from starter.refusals import RETRY_AFTER, refusal
from starter.state import AppState, app_state, get_client, get_session_factory
from store import queries
from store.db import SessionFactory, is_unavailable
from store.models import User
from workflows.authority import may_act
from workflows.engine.labels import LABELS as ENGINE_LABELS
from workflows.labels import Labels, merge
from workflows.model import CHINA_TZ, CONTROL, Deadline, is_deadline
from workflows.registry import RegulationEntry
from workflows.regulations import labels_of, registry_or_default, roles_of
from workflows.roles import RoleBook

log = logging.getLogger("zhidu.web")

HERE = Path(__file__).parent
LANG_COOKIE = "zhidu_lang"
CSRF_FIELD = "csrftoken"
PER_PAGE = 25
DUE_SOON = timedelta(hours=24)
MAX_UPLOAD = 512 * 1024  # a calendar file is a few kilobytes

ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

# ---- language -----------------------------------------------------------------------------------

EN: dict[str, str] = {
    "制度": "zhidu",
    "工作台": "My work",
    "新建": "Start a case",
    "案件": "Cases",
    "管理": "Admin",
    "用户": "Users",
    "政策参数": "Policy",
    "工作日历": "Calendar",
    "定时任务": "Schedules",
    "通知渠道": "Notifications",
    "登录": "Sign in",
    "退出": "Sign out",
    "用户名或邮箱": "User id or e-mail",
    "密码": "Password",
    "用户名或密码错误": "Wrong user id or password",
    "登录已过期，请重新登录": "Your session has ended; please sign in again",
    "请先登录": "Please sign in",
    "我的待办": "My open tasks",
    "全部制度": "All regulations",
    "筛选": "Filter",
    "任务": "Task",
    "案件编号": "Case",
    "条款": "Clause",
    "角色": "Role",
    "截止": "Due",
    "剩余时间": "Time left",
    "暂定": "provisional",
    "已暂停": "paused",
    "没有待办任务": "No open tasks",
    "自动刷新": "Refreshes by itself",
    "选择制度": "Choose a regulation",
    "发起": "Start",
    "必填": "required",
    "请更正标出的字段": "Please correct the marked field",
    "添加一行": "Add a row",
    "提交": "Submit",
    "状态": "Status",
    "客户": "Customer",
    "负责人": "Owner",
    "发起人": "Started by",
    "发起时间": "Started",
    "制度名称": "Regulation",
    "需要关注": "Needs attention",
    "在 Temporal 控制台中查看": "View in the Temporal console",
    "期限": "Deadlines",
    "待办任务": "Open tasks",
    "已完成任务": "Closed tasks",
    "时间线": "Timeline",
    "较早的 {n} 项已折叠": "{n} earlier entries folded",
    "显示全部": "Show all",
    "记录": "Records",
    "完成任务": "Complete",
    "结果": "Outcome",
    "延期": "Extend",
    "新截止时间": "New due",
    "理由": "Reason",
    "暂停计时": "Pause the clock",
    "恢复计时": "Resume the clock",
    "客户签字": "Customer signature",
    "签字人姓名": "Signer's name",
    "签字方式": "Signing method",
    "手写签名": "Draw on screen",
    "验证码": "One-time code",
    "清除": "Clear",
    "发送验证码": "Send code",
    "收件人（留空则为第一位联系人）": "Recipient (empty: the first contact)",
    "完成时以您的登录身份签字": "Completing signs the record with your sign-in",
    "您无权处理此任务": "You may not act on this task",
    "需要": "Needs",
    "最晚": "at the latest",
    "时间": "Time",
    "事件": "Event",
    "操作人": "By",
    "详情": "Detail",
    "标题": "Title",
    "创建人": "Created by",
    "创建时间": "Created",
    "签字": "Signatures",
    "签字人": "Signer",
    "方式": "Method",
    "签字时间": "Signed",
    "验证": "Verify",
    "打印": "Print",
    "导出 CSV": "Export CSV",
    "导出 Excel": "Export XLSX",
    "返回案件": "Back to the case",
    "验证通过": "Valid",
    "验证失败": "Not valid",
    "搜索": "Search",
    "全部状态": "Any status",
    "全部角色": "Any role",
    "仅超期": "Overdue only",
    "客户编号或名称": "Customer id or name",
    "下一截止": "Next due",
    "上一页": "Previous",
    "下一页": "Next",
    "共": "Total",
    "没有符合条件的案件": "No cases match",
    "新建用户": "New user",
    "姓名": "Name",
    "部门": "Department",
    "邮箱": "E-mail",
    "电话": "Phone",
    "启用": "Active",
    "停用": "Deactivate",
    "重新启用": "Reactivate",
    "保存角色": "Save roles",
    "已停用": "deactivated",
    "参数": "Field",
    "当前值": "Current value",
    "默认值": "Default",
    "说明": "Description",
    "上传日历文件": "Upload a calendar file",
    "预览": "Preview",
    "载入": "Load",
    "节假日": "Holiday",
    "调休上班": "Make-up working day",
    "工作日": "Working day",
    "休息日": "Day off",
    "下次运行": "Next run",
    "最近运行": "Recent runs",
    "控制台": "Console",
    "发送测试": "Send test",
    "渠道": "Channel",
    "最近通知": "Recent notifications",
    "收件人": "Recipient",
    "主题": "Subject",
    "尝试次数": "Attempts",
    "出错了": "Something went wrong",
    "返回工作台": "Back to my work",
    "页面已过期，请刷新后重试": "This form has expired; reload the page and try again",
    "操作已完成": "Done",
    "任务已完成": "Task completed",
    "期限已延长": "Deadline extended",
    "计时已暂停": "Clock paused",
    "计时已恢复": "Clock resumed",
    "验证码已发送给客户联系人（10 分钟内有效）": "The code was sent to the customer's contact (valid 10 minutes)",
    "案件已发起": "Case started",
    "用户已创建": "User created",
    "角色已保存": "Roles saved",
    "用户已停用": "User deactivated",
    "用户已启用": "User reactivated",
    "日历已载入": "Calendar loaded",
    "测试通知已发送": "Test notification sent",
    "测试通知发送失败": "The test notification failed",
    "不可延期": "cannot be extended",
    "无期限": "no limit",
    "超期": "overdue by",
    "剩余": "left",
    "天": "d",
    "小时": "h",
    "分钟": "min",
    "语言": "Language",
    "未找到案件": "Case not found",
    "未找到": "Not found",
    "没有权限": "Not allowed",
    "服务暂不可用，请稍后重试": "A service does not answer; try again shortly",
    "新政策仅适用于新案件；修改请编辑政策文件（ZHIDU_POLICY_FILE），运行中的案件保留其发起时的政策。": "A change applies to new cases only: edit the policy file (ZHIDU_POLICY_FILE); running cases keep the policy they started with.",
    "文件内容": "File",
    "个案件待重新计算": "case(s) recomputing provisional deadlines",
    "无": "none",
    "是": "yes",
    "否": "no",
    "共 {n} 条": "{n} in all",
}

STATUS: dict[str, tuple[str, str]] = {
    "open": ("进行中", "open"),
    "closed": ("已结束", "closed"),
    "done": ("已完成", "done"),
    "lapsed": ("已失效", "lapsed"),
    "cancelled": ("已取消", "cancelled"),
    "failed": ("失败", "failed"),
    "pending": ("待发送", "pending"),
    "sent": ("已发送", "sent"),
}

METHODS: dict[str, tuple[str, str]] = {
    "staff_login": ("登录签字", "Sign-in"),
    "drawing": ("手写签名", "Drawn"),
    "otp": ("短信/邮件验证码", "One-time code"),
}

FLASH: dict[str, str] = {
    "completed": "任务已完成",
    "extended": "期限已延长",
    "paused": "计时已暂停",
    "resumed": "计时已恢复",
    "code_sent": "验证码已发送给客户联系人（10 分钟内有效）",
    "started": "案件已发起",
    "user_created": "用户已创建",
    "roles_saved": "角色已保存",
    "deactivated": "用户已停用",
    "reactivated": "用户已启用",
}


# The words of the regulations the app serves (their folders' labels over the engine's), for
# the request being answered (PageRoute sets them).
_WORDS: dict[int, tuple[Labels, RoleBook]] = {}
WORDS: ContextVar[tuple[Labels, RoleBook] | None] = ContextVar("zhidu_words", default=None)


def words_for(registry: Mapping[str, RegulationEntry] | None) -> tuple[Labels, RoleBook]:
    key = id(registry)
    if key not in _WORDS:
        _WORDS[key] = (merge(ENGINE_LABELS, labels_of(registry)), roles_of(registry))
    return _WORDS[key]


def words() -> Labels:
    return (WORDS.get() or words_for(None))[0]


def book() -> RoleBook:
    """The roles of the regulations the app serves."""
    return (WORDS.get() or words_for(None))[1]


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def pick(pair: tuple[str, str] | None, lang: str, fallback: str = "") -> str:
    if pair is None:
        return fallback
    return pair[1] if lang == "en" else pair[0]


# Signing parties that are not staff roles (workflows.spec.Sign of a customer).
PARTIES: dict[str, tuple[str, str]] = {"customer": ("客户", "Customer"), "owner": ("业主", "Owner")}

VERIFY_REASONS: dict[str, str] = {
    "signature valid: sealed by this server and the record is unchanged": "签名有效：由本系统盖章，记录未被改动",
    "record changed since it was signed": "签字后记录已被改动",
    "seal does not match (the signature row was altered)": "印章不符（签字数据被改动）",
    "signed by a key this server does not trust": "签名密钥不受本系统信任",
    "the signed record no longer exists": "所签的记录已不存在",
    "unknown signature": "未知签名",
}


def role_name(code: str, lang: str) -> str:
    return pick(book().names.get(code) or PARTIES.get(code), lang, code)


# ---- time ---------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)
    return None


def local(value: Any) -> str:
    """China time, to the minute (`2026-11-28 16:35`)."""
    dt = parse_time(value)
    return dt.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if dt else ""


def span(delta: timedelta, lang: str) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = (("天", "d"), ("小时", "h"), ("分钟", "min"))
    parts = [f"{n} {pick(u, lang)}" for n, u in zip((days, hours, mins), units, strict=True) if n][
        :2
    ]
    return " ".join(parts) or f"0 {pick(units[2], lang)}"


@dataclass
class Due:
    """A task's due as a person reads it: when, how long left (or overdue by), and its class."""

    at: str
    left: str
    css: str  # overdue | soon | ok | paused | none
    provisional: bool


def due_info(task: Mapping[str, Any], now: datetime, lang: str) -> Due:
    due = parse_time(task.get("due_at"))
    provisional = bool(task.get("provisional"))
    if due is None:
        return Due("", "", "none", provisional)
    if task.get("paused_at"):
        return Due(
            local(due), "⏸ " + ("paused" if lang == "en" else "已暂停"), "paused", provisional
        )
    delta = due - now
    if delta < timedelta(0):
        text = f"overdue by {span(delta, lang)}" if lang == "en" else f"已超期 {span(delta, lang)}"
        return Due(local(due), text, "overdue", provisional)
    remind = parse_time(task.get("remind_at"))
    soon = delta <= DUE_SOON or (remind is not None and remind <= now)
    text = f"{span(delta, lang)} left" if lang == "en" else f"剩余 {span(delta, lang)}"
    return Due(local(due), text, "soon" if soon else "ok", provisional)


def datetime_local(value: Any) -> str:
    """A stored time as an <input type=datetime-local> value (China time)."""
    dt = parse_time(value)
    return dt.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M") if dt else ""


def with_china_tz(raw: str) -> str:
    """`2026-12-01T10:00` (datetime-local, no zone) -> `2026-12-01T10:00:00+08:00`."""
    raw = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", raw):
        return f"{raw}:00+08:00"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", raw):
        return f"{raw}+08:00"
    return raw


# ---- forms from JSON Schema ---------------------------------------------------------------------


@dataclass
class Widget:
    """One field of a generated form (a JSON Schema property)."""

    name: str  # input name: the dotted path of the value (`contacts.0.name`, `data.usage`)
    label: str
    help: str
    kind: str  # text textarea number date datetime select multi lines checkbox group repeat
    required: bool
    value: Any = None
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    children: list[Widget] = field(default_factory=list)
    rows: list[list[Widget]] = field(default_factory=list)
    template: list[Widget] = field(default_factory=list)
    scope: str = ""  # the form's own part of the ids (a page may hold many task forms)

    @property
    def dom_id(self) -> str:
        scope = f"{self.scope}-" if self.scope else ""
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", scope + self.name)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Follow $ref / allOf-of-one; an `anyOf` with null is the other branch, marked nullable."""
    out = dict(schema)
    for _ in range(10):
        if "$ref" in out:
            name = str(out.pop("$ref")).rsplit("/", 1)[-1]
            out = {**root.get("$defs", {}).get(name, {}), **out}
        elif "allOf" in out and len(out["allOf"]) == 1:
            inner = out.pop("allOf")[0]
            out = {**inner, **out}
        elif "anyOf" in out:
            branches = [b for b in out["anyOf"] if b.get("type") != "null"]
            nullable = len(branches) < len(out["anyOf"])
            types = {b.get("type") for b in branches}
            rest = {k: v for k, v in out.items() if k != "anyOf"}
            if types == {"number", "string"}:  # Decimal
                out = {**rest, "type": "number", "x-decimal": True}
            elif len(branches) == 1:
                out = {**branches[0], **rest}
            else:
                out = {**rest, "type": "string"}
            if nullable:
                out["x-nullable"] = True
        else:
            return out
    return out


def _kind(prop: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    t = prop.get("type")
    if "enum" in prop or "const" in prop:
        return "select"
    if t == "string":
        fmt = prop.get("format")
        if fmt == "date":
            return "date"
        if fmt == "date-time":
            return "datetime"
        if "pattern" in prop:
            return "text"
        return "textarea" if (prop.get("maxLength") or 0) > 300 else "text"
    if t in ("integer", "number"):
        return "number"
    if t == "boolean":
        return "checkbox"
    if t == "array":
        items = _resolve(prop.get("items", {}), root)
        if "enum" in items:
            return "multi"
        if items.get("type") == "object" or "properties" in items:
            return "repeat"
        return "lines"
    if t == "object" or "properties" in prop:
        return "group" if "properties" in prop else "json"
    return "text"


def _enum_options(prop: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    values = prop.get("enum") or ([prop["const"]] if "const" in prop else [])
    described: dict[str, str] = {}
    desc = str(prop.get("description") or "")
    for part in desc.split("/"):
        bits = part.strip().split(None, 1)
        if len(bits) == 2 and bits[0] in values:
            described[bits[0]] = bits[1]
    out = []
    for v in values:
        if v is None:
            continue
        label = pick(words().enums.get(str(v)), lang) or described.get(str(v)) or str(v)
        out.append((str(v), label))
    return out


def _label(key: str, prop: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """(label, help). A Chinese title wins; else the description, else a known label."""
    auto = key.replace("_", " ").title()
    title = str(prop.get("title") or "")
    desc = str(prop.get("description") or "")
    if lang == "en":
        return (title if title and title != auto else auto), desc
    if title and title != auto:
        return title, desc
    if desc and "/" not in desc:
        short = re.split(r"[，,（(]", desc, maxsplit=1)[0].strip()
        if short and len(short) <= 24:
            return short, desc if short != desc else ""
    return words().fields.get(key, auto), desc


def build_widgets(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    values: Mapping[str, Any] | None,
    errors: Mapping[str, str],
    lang: str,
    prefix: str = "",
    scope: str = "",
) -> list[Widget]:
    """The widgets of an object schema, filled with `values` (or the schema's defaults).
    `scope` goes into every element id, so several forms on one page never share an id."""
    schema = _resolve(schema, root)
    required = set(schema.get("required", []))
    out: list[Widget] = []
    for key, raw in (schema.get("properties") or {}).items():
        prop = _resolve(raw, root)
        name = f"{prefix}{key}"
        kind = _kind(prop, root)
        if kind == "json":
            continue
        label, help_text = _label(key, prop, lang)
        has = values is not None and key in values
        value = values.get(key) if values is not None and has else prop.get("default")
        w = Widget(
            name=name,
            label=label,
            help=help_text if help_text != label else "",
            kind=kind,
            required=key in required,
            value=value,
            error=errors.get(name),
            scope=scope,
        )
        if kind == "select":
            w.options = _enum_options(prop, lang)
        elif kind == "multi":
            w.options = _enum_options(_resolve(prop.get("items", {}), root), lang)
            w.value = [str(v) for v in value or []]
        elif kind == "number":
            w.attrs["step"] = "1" if prop.get("type") == "integer" else "any"
            for k in ("minimum", "maximum"):
                if k in prop:
                    w.attrs[k[:3]] = prop[k]
        elif kind in ("text", "textarea") and prop.get("maxLength"):
            w.attrs["maxlength"] = prop["maxLength"]
        elif kind == "datetime":
            w.value = datetime_local(value) if value else ""
        elif kind == "lines":
            w.value = "\n".join(str(v) for v in value or [])
        elif kind == "group":
            w.children = build_widgets(
                prop, root, value if isinstance(value, Mapping) else None, errors, lang,
                f"{name}.", scope,
            )  # fmt: skip
        elif kind == "repeat":
            items = _resolve(prop.get("items", {}), root)
            rows = [v for v in (value or []) if isinstance(v, Mapping)]
            for i, row in enumerate(rows):
                w.rows.append(build_widgets(items, root, row, errors, lang, f"{name}.{i}.", scope))
            most = prop.get("maxItems") or 50
            if len(rows) < most:  # one blank row to fill without JavaScript
                w.rows.append(
                    build_widgets(items, root, {}, {}, lang, f"{name}.{len(rows)}.", scope)
                )
            w.template = build_widgets(items, root, {}, {}, lang, f"{name}.__i__.", scope)
            w.attrs["max"] = most
        out.append(w)
    return out


def _blank(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def parse_form(
    schema: Mapping[str, Any], root: Mapping[str, Any], form: FormData, prefix: str = ""
) -> dict[str, Any]:
    """The values a generated form posted, shaped by its schema: empty fields are left out (the
    model's default or its "required" refusal applies), numbers converted when they parse,
    datetimes given China time, blank repeated rows dropped. Validation is the model's."""
    schema = _resolve(schema, root)
    out: dict[str, Any] = {}
    for key, raw in (schema.get("properties") or {}).items():
        prop = _resolve(raw, root)
        name = f"{prefix}{key}"
        kind = _kind(prop, root)
        if kind == "checkbox":
            out[key] = name in form
        elif kind == "multi":
            out[key] = [str(v) for v in form.getlist(name)]
        elif kind == "lines":
            text = str(form.get(name) or "")
            out[key] = [line.strip() for line in text.splitlines() if line.strip()]
        elif kind == "group":
            inner = parse_form(prop, root, form, f"{name}.")
            if any(not _blank(v) for v in inner.values()):
                out[key] = inner
        elif kind == "repeat":
            items = _resolve(prop.get("items", {}), root)
            pattern = re.compile(re.escape(name) + r"\.(\d+)\.")
            indices = sorted({int(m.group(1)) for k in form for m in [pattern.match(k)] if m})
            rows = []
            for i in indices[:200]:
                row = parse_form(items, root, form, f"{name}.{i}.")
                if any(not _blank(v) for v in row.values()):
                    rows.append(row)
            out[key] = rows
        elif kind != "json":
            value = form.get(name)
            if not isinstance(value, str) or not value.strip():
                continue
            text = value.strip() if kind != "textarea" else value.strip("\r\n ")
            if kind == "number" and not prop.get("x-decimal"):
                try:
                    out[key] = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
                except ValueError:
                    out[key] = text  # the model names the field
            elif kind == "datetime":
                out[key] = with_china_tz(text)
            else:
                out[key] = text
    return out


def field_of(exc: ServiceError) -> str | None:
    """The form field a refusal is about: its `field`, else a `data.x.y:` prefix of its message
    (the workflow's validators name the field in the message)."""
    if exc.field and exc.field != "body":
        return exc.field
    m = re.match(r"^((?:data|signatures)(?:\.[\w]+)*|new_due|reason|outcome)\s*:", exc.message)
    return m.group(1) if m else None


UNLABELLED = ("signatures", "sig", "task_id", "recipient", "outcome", "body", "csrftoken")


def said(exc: ServiceError, lang: str, labels: Mapping[str, str] | None = None) -> str:
    """A refusal as a page says it: in Chinese when the person reads Chinese and the refusal
    has a Chinese text (`message_zh`: validators, pydantic errors), led by the label of the
    form field it is about."""
    if lang == "en" or not exc.message_zh:
        return exc.message
    name = field_of(exc)
    if name and name.split(".", 1)[0] not in UNLABELLED:
        return f"{field_label(name, labels)}：{exc.message_zh}"
    return exc.message_zh


def sig_input_name(name: str | None) -> str | None:
    """A refusal's signatures field -> the signature inputs of the task form."""
    if name is None or not name.startswith("signatures"):
        return name
    rest = name.split(".", 1)[1] if "." in name else ""
    rest = re.sub(r"^\d+\.?", "", rest)
    return f"sig.{rest}" if rest in ("code", "signer_name", "method") else "sig"


# ---- the page machinery -------------------------------------------------------------------------


class LoginRequired(Exception):
    """No signed-in user: the page answers with a redirect to /login?next=..."""


class PageRoute(APIRoute):
    """Routes of this router answer in HTML: refusals as pages a person understands (the role
    needed, "case not found"), never a stack trace; no session -> the login page and back."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            WORDS.set(words_for(state(request).registry))
            try:
                response = await original(request)
            except LoginRequired:
                response = RedirectResponse(f"/login?next={quote(back_to(request))}", 303)
            except ServiceError as exc:
                response = error_page(request, exc.status, said(exc, lang_of(request)))
            except StarletteHTTPException as exc:
                response = error_page(request, exc.status_code, str(exc.detail))
            except Exception as exc:
                if is_unavailable(exc):
                    log.warning("%s: a service does not answer (%s)", request.url.path,
                                type(exc).__name__)  # fmt: skip
                    response = error_page(request, 503, "")
                else:
                    log.exception("page %s %s failed", request.method, request.url.path)
                    response = error_page(request, 500, "")
            secure_headers(response)
            return response

        return handler


def secure_headers(response: Response) -> None:
    h = response.headers
    h.setdefault(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    h.setdefault("x-content-type-options", "nosniff")
    h.setdefault("x-frame-options", "DENY")
    h.setdefault("referrer-policy", "same-origin")
    h.setdefault("cache-control", "no-store")


def local_path(value: str | None, default: str = "/work") -> str:
    """`value` when it is a path on this site (never another host, never `//evil`)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def back_to(request: Request) -> str:
    """Where to return after signing in: this page, or for a form post the page it came from."""
    if request.method in ("GET", "HEAD"):
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return local_path(path)
    ref = request.headers.get("referer")
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.url.netloc:
            return local_path(parts.path + (f"?{parts.query}" if parts.query else ""))
    return "/work"


def csrf_token(request: Request) -> str:
    make = request.scope.get("csrftoken")
    return str(make()) if callable(make) else ""


def state(request: Request) -> AppState:
    return app_state(request)


def factory(request: Request) -> SessionFactory:
    return get_session_factory(state(request))


def registry(request: Request) -> Mapping[str, RegulationEntry]:
    return registry_or_default(state(request).registry)


async def page_user(request: Request) -> User:
    user = await auth.user_from_request(request)
    if user is None or not user.active:
        raise LoginRequired
    return user


def require_role(user: User, role: str, lang: str) -> None:
    if role not in (user.roles or []):
        raise Forbidden(
            f"{user.id} 没有权限：需要角色「{role_name(role, 'zh')}」({role})"
            if lang == "zh"
            else f"{user.id} may not open this page: it needs the role {role_name(role, 'en')} "
            f"({role})"
        )


def render(
    request: Request,
    template: str,
    user: User | None,
    status: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    lang = lang_of(request)

    def tr(text: str, **kw: Any) -> str:
        out = EN.get(text, text) if lang == "en" else text
        return out.format(**kw) if kw else out

    flash = FLASH.get(request.query_params.get("msg", ""))
    html = ENV.get_template(template).render(
        request=request,
        user=user,
        lang=lang,
        _=tr,
        csrf=csrf_token(request),
        role_name=lambda code: role_name(code, lang),
        status_name=lambda code: pick(STATUS.get(code), lang, code),
        local=local,
        colon=": " if lang == "en" else "：",
        flash=tr(flash) if flash else None,
        path=request.url.path,
        here=back_to(request) if request.method == "GET" else request.url.path,
        is_admin=user is not None and "admin" in (user.roles or []),
        **ctx,
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    titles = {
        403: "没有权限",
        404: "未找到",
        503: "服务暂不可用，请稍后重试",
    }
    title = titles.get(status, "出错了")
    if status >= 500:
        detail = ""  # never a stack trace, nor an internal message
    response = render(request, "error.html", None, status=status, title=title, detail=detail)
    if status == 503:
        response.headers["retry-after"] = RETRY_AFTER
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


router = APIRouter(include_in_schema=False, route_class=PageRoute)


# ---- sign in / out, language --------------------------------------------------------------------


@router.get("/")
async def home() -> Response:
    return redirect("/work")


@router.get("/login")
async def login_page(request: Request) -> Response:
    nxt = local_path(request.query_params.get("next"))
    user = await auth.user_from_request(request)
    if user is not None and user.active:
        return redirect(nxt)
    # "Expired" only when the browser sent a session that no longer holds; a first visit to a
    # page is asked to sign in.
    stale = bool(request.cookies.get(auth.SESSION_COOKIE))
    asked = bool(request.query_params.get("next")) and not stale
    response = render(
        request, "login.html", None, next=nxt, expired=stale, asked=asked, error=None, login=""
    )
    if stale:  # said once: the stale cookie goes
        auth.clear_session_cookie(response)
    return response


@router.post("/login")
async def login_post(request: Request) -> Response:
    form = await request.form()
    login = str(form.get("login") or "").strip()[:200]
    password = str(form.get("password") or "")[:200]
    nxt = local_path(str(form.get("next") or ""))
    st = state(request)
    lang = lang_of(request)
    error, wait = "用户名或密码错误", 0
    if login and password and not CONTROL.search(login + password):
        try:
            signed = await auth.sign_in(
                st, factory(request), login, password, auth.client_address(request)
            )
        except auth.TooManyTries as exc:
            signed, wait = None, exc.wait
            error = exc.message if lang == "en" else str(exc.message_zh)
        if signed is not None:
            done = redirect(nxt)
            auth.set_session_cookie(done, st.settings, signed[1])
            return done
    page = render(
        request, "login.html", None, status=429 if wait else 401, next=nxt, expired=False,
        asked=False, error=error, login=login,
    )  # fmt: skip
    if wait:
        page.headers["retry-after"] = str(wait)
    return page


@router.post("/logout")
async def logout_post(request: Request) -> Response:
    await sessions.revoke_session(factory(request), request.cookies.get(auth.SESSION_COOKIE))
    response = redirect("/login")
    auth.clear_session_cookie(response)
    return response


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str) -> Response:
    response = redirect(local_path(request.query_params.get("next")))
    st = state(request)
    if lang == "en":
        response.set_cookie(
            LANG_COOKIE, "en", max_age=365 * 86400, samesite="lax", httponly=True,
            secure=st.settings.secure_cookies, path="/",
        )  # fmt: skip
    else:
        response.delete_cookie(LANG_COOKIE, path="/", samesite="lax", httponly=True)
    return response


# ---- 工作台 / my work ------------------------------------------------------------------------------


def task_row(task: Mapping[str, Any], now: datetime, lang: str, regs: Mapping[str, Any]) -> dict:
    entry = regs.get(task["regulation"])
    return {
        **task,
        "short": task["id"].rsplit("/", 1)[-1],
        "due": due_info(task, now, lang),
        "regulation_title": (entry.title_en if lang == "en" else entry.title_zh)
        if entry
        else task["regulation"],
    }


@router.get("/work")
async def work(request: Request) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    regs = registry(request)
    everything = await queries.work_list(factory(request), user)  # soonest due first
    counts: dict[str, int] = {}
    for t in everything:
        counts[t["regulation"]] = counts.get(t["regulation"], 0) + 1
    chosen = request.query_params.get("regulation") or ""
    now = datetime.now(UTC)
    rows = [
        task_row(t, now, lang, regs) for t in everything if not chosen or t["regulation"] == chosen
    ]
    titles = {code: (e.title_en if lang == "en" else e.title_zh) for code, e in regs.items()}
    return render(
        request, "work.html", user, tasks=rows, counts=counts, chosen=chosen, titles=titles,
        total=len(everything), now=now,
    )  # fmt: skip


# ---- 新建 / start a case ---------------------------------------------------------------------------


def startable(user: User, regs: Mapping[str, RegulationEntry]) -> list[RegulationEntry]:
    roles = set(user.roles or [])
    return [e for e in regs.values() if not e.start_roles or roles & set(e.start_roles)]


@router.get("/start")
async def start_pick(request: Request) -> Response:
    user = await page_user(request)
    regs = registry(request)
    return render(request, "start_pick.html", user, entries=startable(user, regs))


def _entry(request: Request, code: str) -> RegulationEntry:
    return cases.get_entry(code, state(request).registry)


def _start_page(
    request: Request,
    user: User,
    entry: RegulationEntry,
    values: Mapping[str, Any] | None,
    error: ServiceError | None = None,
) -> HTMLResponse:
    lang = lang_of(request)
    schema = entry.input_model.model_json_schema()
    bad = field_of(error) if error else None
    text = said(error, lang, schema_labels(schema)) if error else None
    widgets = build_widgets(schema, schema, values, {bad: text} if text and bad else {}, lang)
    names = _names(widgets)
    shown_field = (
        (field_label(bad, schema_labels(schema)) if lang != "en" else bad) if bad else None
    )
    return render(
        request, "start_form.html", user, status=error.status if error else 200, entry=entry,
        widgets=widgets, error=text, error_field=shown_field,
        error_placed=bad in names, description=schema.get("description") or "",
    )  # fmt: skip


def model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The defaults of a model's optional fields as JSON values (default factories included:
    the JSON Schema does not show those)."""
    out = {}
    for name, info in model.model_fields.items():
        if not info.is_required():
            out[name] = to_jsonable_python(info.get_default(call_default_factory=True))
    return out


def _names(widgets: list[Widget]) -> set[str]:
    out: set[str] = set()
    for w in widgets:
        out.add(w.name)
        out |= _names(w.children)
        for row in w.rows:
            out |= _names(row)
    return out


@router.get("/start/{code}")
async def start_form(request: Request, code: str) -> Response:
    user = await page_user(request)
    entry = _entry(request, code)
    if entry not in startable(user, registry(request)):
        raise _start_forbidden(user, entry, lang_of(request))
    return _start_page(request, user, entry, model_defaults(entry.input_model))


def _start_forbidden(user: User, entry: RegulationEntry, lang: str) -> Forbidden:
    need = "、".join(role_name(r, lang) for r in entry.start_roles)
    return Forbidden(
        f"{user.id} may not start {entry.title_en}: it needs one of the roles {need}"
        if lang == "en"
        else f"{user.id} 不能发起「{entry.title_zh}」：需要角色 {need}"
    )


@router.post("/start/{code}")
async def start_post(request: Request, code: str) -> Response:
    user = await page_user(request)
    entry = _entry(request, code)
    if entry not in startable(user, registry(request)):
        raise _start_forbidden(user, entry, lang_of(request))
    schema = entry.input_model.model_json_schema()
    values = parse_form(schema, schema, await request.form())
    st = state(request)
    try:
        case_id, _ = await cases.start_case(
            get_client(st), st.settings, entry.code, values, user,
            registry=st.registry, session_factory=st.session_factory,
        )  # fmt: skip
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        return _start_page(request, user, entry, values, exc)
    return redirect(f"/cases/{quote(case_id, safe='')}?msg=started")


# ---- 案件 / the case page ----------------------------------------------------------------------------


def _above(user_roles: set[str], role: str) -> bool:
    return role in user_roles or book().outranks(user_roles, role)


@dataclass
class FormState:
    """A task form posted and refused: re-rendered with the input and the reason."""

    task: str
    form: str  # complete:<outcome> | extend | pause | resume | code
    values: dict[str, Any]
    error: str
    field: str | None
    status: int
    notice: str = ""  # said next to the form (e.g. "the code was sent") when nothing failed


def task_panel(
    task: dict[str, Any],
    entry: RegulationEntry | None,
    user: User,
    now: datetime,
    lang: str,
    posted: FormState | None,
) -> dict[str, Any]:
    """An open task with the actions this user may take and their generated forms."""
    meta = task.get("meta") or {}
    roles = set(user.roles or [])
    short = task["id"].rsplit("/", 1)[-1]
    mine = posted if posted is not None and posted.task == short else None
    can_complete = may_act(
        task["role"], task.get("assignee"), user.id, list(roles)
    ) or book().outranks(roles, task["role"])
    limits: dict[str, Any] = meta.get("extend_limits") or {}
    extend_roles = [r for r in limits if _above(roles, r)]
    pausable = list(meta.get("pausable_by") or [])
    sig_reqs = [s for s in meta.get("signatures") or [] if s.get("party") == "customer"]
    outcomes = []
    schemas = task.get("outcome_schemas") or {}
    for outcome in meta.get("outcomes") or list(schemas):
        schema = schemas.get(outcome) or {"properties": {}}
        key = f"complete:{outcome}"
        values = (mine.values.get("data") if mine and mine.form == key else None) or None
        errors: dict[str, str] = {}
        if mine and mine.form == key and mine.field:
            errors[sig_input_name(mine.field) or ""] = mine.error
        reqs = [s for s in sig_reqs if not s.get("outcomes") or outcome in s["outcomes"]]
        outcomes.append(
            {
                "name": outcome,
                "label": pick(words().outcomes.get(outcome), lang, outcome),
                "widgets": build_widgets(
                    schema, schema, values, errors, lang, "data.", f"{short}-{outcome}"
                ),
                "sig": {
                    "methods": sorted({m for s in reqs for m in s.get("methods", [])}),
                    "required": any(s.get("required") for s in reqs),
                    "kept": (mine.values.get("sig") if mine and mine.form == key else None) or {},
                    "error": errors.get("sig")
                    or errors.get("sig.code")
                    or errors.get("sig.signer_name"),
                }
                if reqs
                else None,
                "staff_signs": any(
                    s.get("party") == "actor"
                    and (not s.get("outcomes") or outcome in s["outcomes"])
                    for s in meta.get("signatures") or []
                ),
                "error": mine.error if mine and mine.form == key else None,
                "notice": mine.notice if mine and mine.form == key else "",
                "open": bool(mine and mine.form == key),
            }
        )
    limit_text = []
    for r in extend_roles:
        lim = limits.get(r)
        limit_text.append(local(lim) if lim else None)
    return {
        **task,
        "short": short,
        "due": due_info(task, now, lang),
        "can_complete": can_complete,
        "needs": role_name(task["role"], lang)
        + (f"（{task['assignee']}）" if task.get("assignee") else ""),
        "outcomes": outcomes,
        "can_extend": bool(extend_roles),
        "extend_limit": max((v for v in limit_text if v), default=None)
        if all(limit_text)
        else None,
        "extendable": bool(limits),
        "extend_roles": [role_name(r, lang) for r in limits],
        "can_pause": any(_above(roles, r) for r in pausable),
        "pausable": bool(pausable),
        "paused": bool(task.get("paused_at")),
        "otp": any("otp" in s.get("methods", []) for s in sig_reqs) and can_complete,
        "posted": mine,
        "min_due": datetime_local(now + timedelta(minutes=5)),
    }


def event_row(event: Mapping[str, Any], lang: str) -> dict[str, Any]:
    detail = event.get("detail") or {}
    parts = []
    for k, v in detail.items():
        if v is None or v is False:
            continue
        if isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", v):
            v = local(v)
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        parts.append(f"{k}: {text}")
    summary = "; ".join(parts)
    return {
        **event,
        "label": pick(words().events.get(event["kind"]), lang, event["kind"]),
        "summary": summary[:400] + ("…" if len(summary) > 400 else ""),
    }


# How many closed tasks and timeline events a case page shows before folding the older ones.
CLOSED_SHOWN = 50
EVENTS_SHOWN = 100


async def _case_page(
    request: Request, user: User, case_id: str, posted: FormState | None = None
) -> HTMLResponse:
    lang = lang_of(request)
    st = state(request)
    sf = factory(request)
    try:
        # A long-running case (years of visits) keeps the page short: its newest closed tasks
        # and events, the rest folded behind "show all" (?all=1).
        everything = request.query_params.get("all") == "1"
        shown = None if everything else EVENTS_SHOWN
        view = await catalog.case_view(sf, case_id, st.registry, newest_events=shown)
        records = await queries.case_records(sf, case_id)
    except (NotFound, queries.NoSuchCase) as exc:
        raise NotFound(
            f"case {case_id} is not found" if lang == "en" else f"未找到案件 {case_id}"
        ) from exc
    entry = registry(request).get(view["regulation"])
    now = datetime.now(UTC)
    tasks = view["tasks"]
    open_tasks = sorted(
        (t for t in tasks if t["status"] == "open"),
        key=lambda t: (t.get("due_at") is None, parse_time(t.get("due_at")) or now),
    )
    panels = [task_panel(t, entry, user, now, lang, posted) for t in open_tasks]
    done = [t for t in tasks if t["status"] != "open"]
    events = view["events"]
    closed_hidden = 0 if everything else max(0, len(done) - CLOSED_SHOWN)
    events_hidden = view.get("event_count", len(events)) - len(events)
    closed = [
        {**t, "short": t["id"].rsplit("/", 1)[-1], "outcome_label": pick(
            words().outcomes.get(t.get("outcome") or ""), lang, t.get("outcome") or "")}
        for t in done[closed_hidden:]
    ]  # fmt: skip
    inp = view.get("input") or {}
    return render(
        request,
        "case.html",
        user,
        status=posted.status if posted else 200,
        case=view,
        entry=entry,
        title=(entry.title_en if lang == "en" else entry.title_zh) if entry else view["regulation"],
        customer_name=inp.get("customer_name"),
        owner=inp.get("owner") or view.get("started_by"),
        panels=panels,
        closed=closed,
        closed_hidden=closed_hidden,
        events=[event_row(e, lang) for e in events],
        events_hidden=events_hidden,
        records=records,
        console_url=st.settings.console_url(case_id),
        quote=quote,
    )


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: str) -> Response:
    user = await page_user(request)
    return await _case_page(request, user, case_id[:200])


async def _act(
    request: Request,
    case_id: str,
    task: str,
    form_key: str,
    action: str,
    payload: dict[str, Any],
    values: dict[str, Any],
    msg: str,
    labels: Mapping[str, str] | None = None,
) -> Response:
    user = await page_user(request)
    st = state(request)
    try:
        await cases.act(
            get_client(st), case_id, action,
            {"task_id": cases.full_task_id(case_id, task), **payload}, user,
            registry=st.registry, session_factory=st.session_factory, settings=st.settings,
        )  # fmt: skip
    except ServiceError as exc:
        if exc.status >= 500 and exc.status != 504:
            raise
        text = said(exc, lang_of(request), labels)
        posted = FormState(task, form_key, values, text, field_of(exc), exc.status)
        return await _case_page(request, user, case_id, posted)
    return redirect(f"/cases/{quote(case_id, safe='')}?msg={msg}#tasks")


async def _open_task(request: Request, case_id: str, task: str) -> dict[str, Any]:
    row = await queries.task_row(factory(request), cases.full_task_id(case_id, task))
    if row is None or row.case_id != case_id:
        raise NotFound(f"未找到任务 {task}" if lang_of(request) == "zh" else f"no task {task}")
    return queries.row_dict(row)


async def _outcome_form(
    request: Request, case_id: str, task: str, outcome: str, form: FormData
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The outcome's data schema of an open task, and the data its posted form holds."""
    row = await _open_task(request, case_id, task)
    entry = registry(request).get(row["regulation"])
    schema = catalog.task_forms(entry, row["kind"]).get(outcome) if entry else None
    return schema, (parse_form(schema, schema, form, "data.") if schema else {})


@router.post("/cases/{case_id}/tasks/{task}/complete")
async def complete_post(request: Request, case_id: str, task: str) -> Response:
    await page_user(request)
    form = await request.form()
    outcome = str(form.get("outcome") or "")[:64]
    schema, data = await _outcome_form(request, case_id, task, outcome, form)
    sig = {k: str(form.get(f"sig.{k}") or "").strip() for k in ("signer_name", "method", "code")}
    drawing = str(form.get("sig.drawing") or "")
    signatures: list[dict[str, Any]] = []
    if sig["signer_name"] or sig["code"] or drawing:
        method = sig["method"] or ("otp" if sig["code"] else "drawing")
        if method == "otp":
            signatures.append(
                {"signer_name": sig["signer_name"], "method": "otp", "code": sig["code"]}
            )
        else:
            signatures.append(
                {"signer_name": sig["signer_name"], "method": "drawing", "evidence": drawing}
            )
    payload = {"outcome": outcome, "data": data, "signatures": signatures}
    values = {"data": data, "sig": {**sig, "drawing": ""}}
    return await _act(request, case_id, task, f"complete:{outcome}", "complete_task", payload,
                      values, "completed", schema_labels(schema) if schema else None)  # fmt: skip


@router.post("/cases/{case_id}/tasks/{task}/extend")
async def extend_post(request: Request, case_id: str, task: str) -> Response:
    await page_user(request)
    form = await request.form()
    raw_due = str(form.get("new_due") or "").strip()
    reason = str(form.get("reason") or "").strip()
    values = {"new_due": raw_due, "reason": reason}
    if not raw_due:
        user = await page_user(request)
        msg = (
            "new_due: required"
            if lang_of(request) == "en"
            else f"{field_label('new_due')}：此项必填"
        )
        posted = FormState(task, "extend", values, msg, "new_due", 422)
        return await _case_page(request, user, case_id, posted)
    payload = {"new_due": with_china_tz(raw_due), "reason": reason}
    return await _act(request, case_id, task, "extend", "extend_deadline", payload, values,
                      "extended")  # fmt: skip


@router.post("/cases/{case_id}/tasks/{task}/pause")
async def pause_post(request: Request, case_id: str, task: str) -> Response:
    await page_user(request)
    reason = str((await request.form()).get("reason") or "").strip()
    return await _act(request, case_id, task, "pause", "pause_task", {"reason": reason},
                      {"reason": reason}, "paused")  # fmt: skip


@router.post("/cases/{case_id}/tasks/{task}/resume")
async def resume_post(request: Request, case_id: str, task: str) -> Response:
    await page_user(request)
    reason = str((await request.form()).get("reason") or "").strip()
    return await _act(request, case_id, task, "resume", "resume_task", {"reason": reason},
                      {"reason": reason}, "resumed")  # fmt: skip


@router.post("/cases/{case_id}/tasks/{task}/signature-code")
async def signature_code_post(request: Request, case_id: str, task: str) -> Response:
    """Send the customer a one-time code. From the "send code" button next to the code input
    of a task form (the whole form is posted, `outcome` with it): the page comes back with
    everything typed kept and the code method chosen; from elsewhere: back to the case."""
    user = await page_user(request)
    lang = lang_of(request)
    form = await request.form()
    recipient = str(form.get("recipient") or "").strip() or None
    outcome = str(form.get("outcome") or "")[:64]
    kept: dict[str, Any] | None = None
    if outcome:
        _, data = await _outcome_form(request, case_id, task, outcome, form)
        signer = str(form.get("sig.signer_name") or "").strip()
        kept = {"data": data, "sig": {"signer_name": signer, "method": "otp", "code": "",
                                      "recipient": recipient or ""}}  # fmt: skip
    st = state(request)
    try:
        await sigcodes.issue_signature_code(
            factory(request), case_id, task, user, recipient,
            settings=st.settings, registry=st.registry,
        )  # fmt: skip
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        text = said(exc, lang)
        if kept is not None:
            posted = FormState(task, f"complete:{outcome}", kept, text, "sig.code", exc.status)
        else:
            posted = FormState(task, "code", {"recipient": recipient or ""}, text, None,
                               exc.status)  # fmt: skip
        return await _case_page(request, user, case_id, posted)
    if kept is not None:
        sent = FLASH["code_sent"]
        posted = FormState(task, f"complete:{outcome}", kept, "", None, 200,
                           EN.get(sent, sent) if lang == "en" else sent)  # fmt: skip
        return await _case_page(request, user, case_id, posted)
    return redirect(f"/cases/{quote(case_id, safe='')}?msg=code_sent#task-{task}")


# ---- records: print, export, verify ---------------------------------------------------------------


async def _record(request: Request, record_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record (with its signatures) and its case's row."""
    parts = record_id.split("/")
    if len(parts) < 3:
        raise NotFound(f"no record {record_id}")
    case_id = parts[0]
    try:
        found = await queries.case_records(factory(request), case_id)
        case = await queries.case_row(factory(request), case_id)
    except queries.NoSuchCase as exc:
        raise NotFound(f"未找到案件 {case_id}") from exc
    record = next((r for r in found if r["id"] == record_id), None)
    if record is None:
        raise NotFound(
            f"未找到记录 {record_id}" if lang_of(request) == "zh" else f"no record {record_id}"
        )
    return record, queries.row_dict(case)


def flatten(value: Any) -> list[tuple[str, str]]:
    """A record's data as (path, text) rows: nested lists and objects spelled out, every value
    as stored (the exports)."""
    return [
        (path, "" if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for path, v in leaves(value, whole=lambda _: False)
    ]


def label_path(path: str, lang: str, labels: Mapping[str, str] | None = None) -> str:
    """`problems[1].text` -> `客户反映的问题 1 · 问题原文`: each step by `labels` (dotted paths
    without row numbers, see `schema_labels`), else the regulations' field labels, else as it is."""
    if lang == "en":
        return path
    out, trail = [], []
    for part in path.split("."):
        m = re.match(r"^(\w+)((?:\[\d+\])*)$", part)
        if not m:
            out.append(part)
            continue
        trail.append(m.group(1))
        label = (labels or {}).get(".".join(trail)) or words().fields.get(m.group(1), m.group(1))
        nums = " ".join(re.findall(r"\d+", m.group(2)))
        out.append(f"{label} {nums}".strip())
    return " · ".join(out)


def schema_labels(
    schema: Mapping[str, Any],
    root: Mapping[str, Any] | None = None,
    prefix: str = "",
    out: dict[str, str] | None = None,
) -> dict[str, str]:
    """The Chinese labels of a model's fields by dotted path without row numbers
    (`contacts.name`): the model's own titles and descriptions first, then the regulations' field labels."""
    root = schema if root is None else root
    out = {} if out is None else out
    for key, raw in (_resolve(schema, root).get("properties") or {}).items():
        prop = _resolve(raw, root)
        path = f"{prefix}{key}"
        label = _label(key, prop, "zh")[0]
        if label != key.replace("_", " ").title():
            out.setdefault(path, label)
        inner = _resolve(prop.get("items", {}), root) if prop.get("type") == "array" else prop
        if "properties" in inner:
            schema_labels(inner, root, f"{path}.", out)
    return out


_RECORD_LABELS: dict[tuple[int, str], dict[str, str]] = {}


def record_labels(entry: RegulationEntry | None, kind: str) -> dict[str, str]:
    """Labels of a record's fields: the data models of the tasks that write records of this
    kind, then the regulation's input model (a record repeats the case's customer)."""
    if entry is None:
        return {}
    key = (id(entry.workflow), kind)
    if key not in _RECORD_LABELS:
        models: list[type[BaseModel]] = []
        specs = getattr(entry.workflow, "_specs", {}) or {}
        for spec in specs.values():
            if spec.record is not None and spec.record.kind == kind:
                models += [m for m in spec.outcomes.values() if m not in models]
        models.append(entry.input_model)
        out: dict[str, str] = {}
        for model in models:
            schema_labels(model.model_json_schema(), out=out)
        _RECORD_LABELS[key] = out
    return _RECORD_LABELS[key]


def field_label(name: str, labels: Mapping[str, str] | None = None) -> str:
    """A form field's name (`data.problems.0.text`) as a person reads it."""
    path = re.sub(r"^(data|sig)\.", "", name)
    path = re.sub(r"\.(\d+)(?=\.|$)", lambda m: f"[{int(m.group(1)) + 1}]", path)
    return label_path(path, "zh", labels)


def leaves(
    value: Any, prefix: str = "", whole: Callable[[Mapping[str, Any]], bool] | None = None
) -> list[tuple[str, Any]]:
    """A record's data as (path, value) rows, the values left as they are: nested lists and
    objects are spelled out, except objects that are one value (`whole`: by default a time
    limit); an empty list is one row with None."""
    whole = is_deadline if whole is None else whole
    rows: list[tuple[str, Any]] = []
    if isinstance(value, Mapping) and not whole(value):
        for k, v in value.items():
            rows += leaves(v, f"{prefix}.{k}" if prefix else str(k), whole)
    elif isinstance(value, list):
        if not value:
            rows.append((prefix, None))
        for i, v in enumerate(value, start=1):
            rows += leaves(v, f"{prefix}[{i}]", whole)
    else:
        rows.append((prefix, value))
    return rows


def deadline_text(value: Mapping[str, Any], lang: str) -> str:
    try:
        return Deadline.model_validate(value).label(en=lang == "en")
    except ValueError:
        return json.dumps(value, ensure_ascii=False)


def shown_value(value: Any, lang: str) -> str:
    """A record's value as a person reads it: yes / no, China time to the minute, the names of
    coded values, time limits in words."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return pick(("是", "yes") if value else ("否", "no"), lang)
    if isinstance(value, Mapping):
        return deadline_text(value, lang)
    if isinstance(value, str):
        if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value) and parse_time(value):
            return local(value)
        return pick(words().enums.get(value), lang, value)
    return json.dumps(value, ensure_ascii=False)


def record_rows(
    record: Mapping[str, Any],
    case: Mapping[str, Any],
    lang: str,
    labels: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """The rows of an export: the record's header, its data field by field (the values as
    stored), its signatures."""
    zh = lang != "en"
    rows = [
        ["字段" if zh else "field", "值" if zh else "value"],
        ["记录" if zh else "record", record["title"]],
        ["记录编号" if zh else "record id", record["id"]],
        ["案件" if zh else "case", record["case_id"]],
        ["客户" if zh else "customer", str(case.get("customer_id") or "")],
        ["创建人" if zh else "created by", str(record.get("created_by") or "")],
        ["创建时间" if zh else "created at", local(record.get("created_at"))],
        ["SHA-256", record.get("sha256") or ""],
    ]
    rows += [[label_path(p, lang, labels), v] for p, v in flatten(record.get("data") or {})]
    for i, s in enumerate(record.get("signatures") or [], start=1):
        method = pick(METHODS.get(s["method"]), lang, s["method"])
        rows.append(
            [f"{'签字' if zh else 'signature'} {i}",
             f"{s['signer']} · {role_name(s['role'], lang)} · {method} · {local(s['signed_at'])}"]
        )  # fmt: skip
    return rows


def _safe_cell(text: str) -> str:
    """A spreadsheet cell that cannot run as a formula (CSV / formula injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/records/{record_id:path}")
async def record_page(request: Request, record_id: str) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    record, case = await _record(request, record_id[:300])
    verified = None
    sig_id = request.query_params.get("verify")
    if sig_id:
        if sig_id not in {s["id"] for s in record["signatures"]}:
            raise NotFound(f"no signature {sig_id} on this record")
        st = state(request)
        verified = await signatures.verify_signature(st, factory(request), sig_id)
        if lang == "zh":
            verified["reason"] = VERIFY_REASONS.get(verified["reason"], verified["reason"])
    labels = record_labels(registry(request).get(record.get("regulation") or ""), record["kind"])
    data_rows = [
        (label_path(p, lang, labels), shown_value(v, lang))
        for p, v in leaves(record.get("data") or {})
    ]
    return render(
        request, "record.html", user, record=record, case=case, rows=data_rows,
        verified=verified, quote=quote,
        method_name=lambda m: pick(METHODS.get(m), lang, m),
    )  # fmt: skip


def _download(content: bytes, filename: str, media: str) -> Response:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return Response(
        content,
        media_type=media,
        headers={
            "content-disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(filename)}"
        },
    )


@router.get("/export/csv/{record_id:path}")
async def export_csv(request: Request, record_id: str) -> Response:
    await page_user(request)
    record, case = await _record(request, record_id[:300])
    buf = io.StringIO()
    writer = csv.writer(buf)
    labels = record_labels(registry(request).get(record.get("regulation") or ""), record["kind"])
    for row in record_rows(record, case, lang_of(request), labels):
        writer.writerow([_safe_cell(c) for c in row])
    name = f"{record['title'].strip('《》')}-{record['id'].replace('/', '-')}.csv"
    # UTF-8 with BOM: Excel opens Chinese text correctly.
    return _download(("\ufeff" + buf.getvalue()).encode("utf-8"), name, "text/csv; charset=utf-8")


@router.get("/export/xlsx/{record_id:path}")
async def export_xlsx(request: Request, record_id: str) -> Response:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    await page_user(request)
    record, case = await _record(request, record_id[:300])
    wb = Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\《》]", "", record["title"])[:31] or "record"
    labels = record_labels(registry(request).get(record.get("regulation") or ""), record["kind"])
    for row in record_rows(record, case, lang_of(request), labels):
        ws.append([_safe_cell(c) for c in row])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 80
    for (cell,) in ws.iter_rows(min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    name = f"{record['title'].strip('《》')}-{record['id'].replace('/', '-')}.xlsx"
    return _download(
        buf.getvalue(), name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


# ---- cases list / search ------------------------------------------------------------------------


@router.get("/cases")
async def cases_list(request: Request) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    q = request.query_params
    regs = registry(request)
    regulation = q.get("regulation") or ""
    status = q.get("status") or ""
    customer = (q.get("customer") or "").strip()[:100]
    role = q.get("role") or ""
    overdue = q.get("overdue") == "1"
    try:
        page = max(1, min(int(q.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    rows, total = await queries.search_cases(
        factory(request),
        regulation=regulation if regulation in regs else None,
        status=status[:30] or None,
        customer=customer or None,
        role=role if role in book() else None,
        overdue=overdue,
        page=page,
        per_page=PER_PAGE,
    )
    now = datetime.now(UTC)
    for r in rows:
        r["due"] = due_info({"due_at": r["next_due"]}, now, lang) if r["next_due"] else None
    params = {k: v for k, v in (("regulation", regulation), ("status", status),
              ("customer", customer), ("role", role), ("overdue", "1" if overdue else "")) if v}  # fmt: skip
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return render(
        request, "cases.html", user, rows=rows, total=total, page=page, pages=pages,
        prev_url=f"/cases?{urlencode({**params, 'page': page - 1})}" if page > 1 else None,
        next_url=f"/cases?{urlencode({**params, 'page': page + 1})}" if page < pages else None,
        regulation=regulation, status_filter=status, customer=customer, role=role, overdue=overdue,
        titles={c: (e.title_en if lang == "en" else e.title_zh) for c, e in regs.items()},
        roles=list(book().names), statuses=["open", "closed", "done"],
    )  # fmt: skip


# ---- admin ------------------------------------------------------------------------------------------


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


def policy_rows(
    schema: Mapping[str, Any], current: Any, default: Any, prefix: str = ""
) -> list[dict[str, Any]]:
    """The policy fields as rows (nested models spelled out), with current and default values."""
    rows = []
    props = (schema.get("properties") or {}) if isinstance(schema, Mapping) else {}
    for key in (current or {}) if isinstance(current, Mapping) else []:
        prop = _resolve(props.get(key, {}), schema) if props else {}
        cur, dflt = current.get(key), (default or {}).get(key)
        name = f"{prefix}{key}"
        if isinstance(cur, Mapping) and not is_deadline(cur) and key not in ("onsite_every",):
            rows += policy_rows({**prop, "$defs": schema.get("$defs", {})}, cur, dflt, f"{name}.")
            continue
        rows.append(
            {
                "name": name,
                "value": _policy_text(cur),
                "default": _policy_text(dflt),
                "changed": cur != dflt,
                "description": prop.get("description") or "",
            }
        )
    return rows


def _policy_text(value: Any) -> str:
    if is_deadline(value):
        try:
            return Deadline.model_validate(value).label()
        except ValueError:
            pass
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_policy_text(v)}" for k, v in value.items())
    return "—" if value is None else str(value)


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
        r["console_url"] = st.settings.schedule_url(r["id"])
        r["next_local"] = [local(t) for t in r.get("next", [])]
        r["recent_local"] = [{**a, "at": local(a["at"])} for a in r.get("recent", [])]
    return render(request, "admin_schedules.html", user, rows=rows)


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
    return render(
        request, "admin_notify.html", user, channels=channels, config_error=config_error,
        rows=rows, result=result,
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
            body=f"这是一条测试通知，由 {user.id} 于 {local(datetime.now(UTC))} 发送。",
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


# ---- CSRF ------------------------------------------------------------------------------------------


# The one multipart form: the calendar upload. Its preview changes nothing; the handler checks
# the form's token against the cookie itself (asgi-csrf 0.11 cannot parse multipart bodies with
# python-multipart >= 0.0.26: simonw/asgi-csrf#38).
UPLOAD_PATHS = frozenset({"/admin/calendar/preview"})


def _media(scope: Mapping[str, Any]) -> bytes:
    headers = dict(scope.get("headers") or [])
    return bytes(headers.get(b"content-type", b"")).split(b";", 1)[0].strip().lower()


def _csrf_exempt(scope: Mapping[str, Any]) -> bool:
    """Unsafe requests with cookies that need no token (see `create_app`)."""
    path = scope.get("path", "")
    if path == "/api/logout" or path in UPLOAD_PATHS:
        return True
    if path == "/api/login":
        return _media(scope) == b"application/json"
    return False


async def _refused(
    scope: Any, send: Any, status: int, message: str, field: str, title: str
) -> None:
    """A request refused before the app: the API's error shape for /api, a page else."""
    response: Response
    if str(scope.get("path", "")).startswith("/api/"):
        response = refusal(status, message, field)
    else:
        request = Request(scope)
        response = render(request, "error.html", None, status=status, title=title, detail="")
        secure_headers(response)

    async def no_body() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


async def _csrf_failed(scope: Any, send: Any, message_id: Any) -> None:
    await _refused(
        scope, send, 403,
        "CSRF token missing or wrong: send the x-csrftoken header with the value of the "
        "csrftoken cookie, or use a bearer token",
        "csrftoken", "页面已过期，请刷新后重试",
    )  # fmt: skip


def cookie_header_ok(header: bytes | None) -> bool:
    """Whether a Cookie header parses as asgi-csrf parses it (UTF-8, http.cookies)."""
    if not header:
        return True
    try:
        SimpleCookie().load(header.decode("utf8"))
    except (CookieError, UnicodeDecodeError):
        return False
    return True


class CsrfMiddleware:
    """asgi-csrf (double-submit cookie, signed token) around the app: the token is read from
    the form field `csrftoken` (urlencoded and multipart forms, where it must come first) or
    the `x-csrftoken` header. Requests with a bearer token or without cookies pass; the page
    sign-in is checked even without cookies."""

    def __init__(self, app: Any, secret: str, secure: bool = False) -> None:
        from asgi_csrf import asgi_csrf

        self._app = asgi_csrf(
            app,
            signing_secret=secret,
            signing_namespace="zhidu-csrf",
            always_protect={"/login"},
            skip_if_scope=_csrf_exempt,
            cookie_secure=secure,
            cookie_samesite="Lax",
            send_csrf_failed=_csrf_failed,
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not cookie_header_ok(
            dict(scope.get("headers") or []).get(b"cookie")
        ):
            await _refused(scope, send, 400, "malformed Cookie header", "cookie",
                           "浏览器发送的 Cookie 无法识别，请清除本站 Cookie 后重试")  # fmt: skip
            return
        if (
            scope["type"] == "http"
            and scope.get("method") not in ("GET", "HEAD", "OPTIONS", "TRACE")
            and _media(scope) == b"multipart/form-data"
            and scope.get("path") not in UPLOAD_PATHS
        ):
            headers = dict(scope.get("headers") or [])
            bearer = bytes(headers.get(b"authorization", b"")).startswith(b"Bearer ")
            if headers.get(b"cookie") and not bearer and not headers.get(b"x-csrftoken"):
                # A form post with cookies that asgi-csrf would have to parse as multipart:
                # refused (only the calendar upload is a multipart form).
                await _csrf_failed(scope, send, None)
                return
        await self._app(scope, receive, send)


def upload_token_ok(request: Request, form: FormData) -> bool:
    """The double-submit check for the multipart upload: the form's token is the cookie's."""
    cookie = request.cookies.get(CSRF_FIELD) or ""
    sent = form.get(CSRF_FIELD)
    return bool(cookie) and isinstance(sent, str) and secrets.compare_digest(sent, cookie)
