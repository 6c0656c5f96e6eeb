"""新建 / start a case: the regulations this user may start, and each one's form, generated from
its input model (defaults filled in; a refusal shown next to its field)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from activities.errors import Forbidden, ServiceError
from starter import cases
from starter.state import get_client
from starter.web.csrf import posted_form
from starter.web.forms import (
    Widget,
    build_widgets,
    field_label,
    field_of,
    form_errors,
    parse_form,
    said,
    schema_labels,
)
from starter.web.i18n import about, lang_of, person, role_name
from starter.web.i18n import people as directory
from starter.web.pages import PageRoute, factory, page_user, redirect, registry, render, state
from starter.web.uploads import attached_files
from store.models import User
from workflows.registry import RegulationEntry

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def startable(user: User, regs: Mapping[str, RegulationEntry]) -> list[RegulationEntry]:
    roles = set(user.roles or [])
    return [e for e in regs.values() if not e.start_roles or roles & set(e.start_roles)]


@router.get("/start")
async def start_pick(request: Request) -> Response:
    user = await page_user(request)
    regs = registry(request)
    return render(request, "start_pick.html", user, entries=startable(user, regs))


def _entry(request: Request, code: str) -> RegulationEntry:
    entry = cases.get_entry(code, state(request).registry)
    about(entry)  # the start form says its own regulation's words
    return entry


def _start_page(
    request: Request,
    user: User,
    entry: RegulationEntry,
    values: Mapping[str, Any] | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    notice: str = "",
) -> HTMLResponse:
    """The start form; after a refused post, every wrong field marked with its reason, and the
    banner naming them (`notice`: what is wrong with the form as a whole)."""
    lang = lang_of(request)
    schema = entry.input_model.model_json_schema()
    labels = schema_labels(schema)
    errors = dict(errors or {})
    widgets = build_widgets(schema, schema, values, errors, lang, persons=entry.people)
    names = _names(widgets)
    placed = [n for n in errors if n in names]
    shown = [field_label(n, labels) if lang != "en" else n for n in placed]
    loose = [text for n, text in errors.items() if n not in names]
    return render(
        request, "start_form.html", user, status=status, entry=entry, widgets=widgets,
        error=bool(errors or notice), error_fields=shown, error_loose=loose, notice=notice,
        multipart=has_files(widgets), description=schema.get("description") or "",
    )  # fmt: skip


def has_files(widgets: list[Widget]) -> bool:
    """Whether a form has a file field (it is then posted as multipart)."""
    return any(
        w.kind in ("file", "files") or has_files(w.children) or has_files(w.template)
        for w in widgets
    )


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
    values = model_defaults(entry.input_model)
    required = set(entry.input_model.model_json_schema().get("required", []))
    for name, role in entry.people.items():  # the one who starts it, where it is theirs
        if name in required and not values.get(name) and role in (user.roles or []):
            values[name] = user.id
    return _start_page(request, user, entry, values)


def people_errors(
    people: Mapping[str, str], values: Mapping[str, Any], lang: str
) -> dict[str, str]:
    """Every person the form names who is not an active user holding the field's role."""
    out = {}
    for name, role in people.items():
        uid = values.get(name)
        if not uid:
            continue
        found = directory().people.get(str(uid))
        if found is None or not found.active or role not in found.roles:
            out[name] = (
                f"{uid} is not an active {role_name(role, lang)}: choose one from the list"
                if lang == "en"
                else f"{person(str(uid))} 不是在职的{role_name(role, lang)}，请从列表中选择"
            )
    return out


def _start_forbidden(user: User, entry: RegulationEntry, lang: str) -> Forbidden:
    need = "、".join(role_name(r, lang) for r in entry.start_roles)
    return Forbidden(
        f"{user.name} may not start {entry.title_en}: it needs one of the roles {need}"
        if lang == "en"
        else f"{user.name} 不能发起「{entry.title_zh}」：需要以下角色之一：{need}。请联系管理员分配角色"
    )


@router.post("/start/{code}")
async def start_post(request: Request, code: str) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    entry = _entry(request, code)
    if entry not in startable(user, registry(request)):
        raise _start_forbidden(user, entry, lang)
    schema = entry.input_model.model_json_schema()
    form = await posted_form(request)
    st = state(request)
    sf = factory(request)
    attached, file_errors = await attached_files(sf, form, user.id, lang)
    values = parse_form(schema, schema, form, attached=attached)
    # The whole form at once: every field the model refuses, every person who does not fit.
    errors = {
        **people_errors(entry.people, values, lang),
        **form_errors(entry.input_model, values, lang=lang),
        **file_errors,
    }
    if errors:
        return _start_page(request, user, entry, values, errors, 422)
    try:
        case_id, _ = await cases.start_case(
            get_client(st), st.settings, entry.code, values, user,
            registry=st.registry, session_factory=st.session_factory,
        )  # fmt: skip
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        return _refused_start(request, user, entry, values, exc)
    return redirect(f"/cases/{quote(case_id, safe='')}?msg=started")


def _refused_start(
    request: Request,
    user: User,
    entry: RegulationEntry,
    values: Mapping[str, Any],
    exc: ServiceError,
) -> HTMLResponse:
    """A start refused after the form was valid: a case with that id exists (the fields that
    make the id are marked), or the workflow's own checks."""
    lang = lang_of(request)
    existing = _existing_case(exc)
    if existing is not None:
        case_id, status = existing
        keys = [k for k, v in values.items() if isinstance(v, str) and v and v in case_id]
        names = "、".join(field_label(k, schema_labels(entry.input_model.model_json_schema()))
                         for k in keys) or "编号"  # fmt: skip
        text = (
            f"a case {case_id} already exists ({status}): open it, or use another {', '.join(keys)}"
            if lang == "en"
            else f"已有案件 {case_id}（{status_zh(status)}），同一{names}不能重复发起："
            f"请打开该案件继续办理；如确为新的业务，请换一个{names}"
        )
        return _start_page(
            request, user, entry, values, dict.fromkeys(keys, text), exc.status,
            notice=text if not keys else "",
        )  # fmt: skip
    bad = field_of(exc)
    text = said(exc, lang, schema_labels(entry.input_model.model_json_schema()))
    errors = {bad: text} if bad else {}
    return _start_page(request, user, entry, values, errors, exc.status, "" if bad else text)


def _existing_case(exc: ServiceError) -> tuple[str, str] | None:
    m = re.match(r"^case (\S+) already exists \(status (\w+)\)", exc.message)
    return (m.group(1), m.group(2)) if m else None


def status_zh(status: str) -> str:
    return {"running": "进行中", "completed": "已结束", "terminated": "已终止",
            "failed": "已失败", "canceled": "已取消", "timed_out": "已超时"}.get(status, status)  # fmt: skip
