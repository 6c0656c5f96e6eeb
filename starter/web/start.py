"""新建 / start a case: the regulations this user may start, and each one's form, generated from
its input model (defaults filled in; a refusal shown next to its field)."""

from __future__ import annotations

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
from starter.web.forms import (
    Widget,
    build_widgets,
    field_label,
    field_of,
    parse_form,
    said,
    schema_labels,
)
from starter.web.i18n import lang_of, role_name
from starter.web.pages import PageRoute, page_user, redirect, registry, render, state
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
