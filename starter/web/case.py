"""案件 / the case page: its open tasks, each with the actions this user may take and their
generated forms (complete with an outcome and signatures, extend, pause, resume, send a signing
code), its closed tasks, timeline and records; and the posts of those task forms. A refused post
comes back as the case page with the input kept and the reason next to the form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as default
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from starlette.datastructures import FormData

from activities.errors import NotFound, ServiceError
from starter import cases, catalog, sigcodes
from starter.state import get_client
from starter.web.csrf import posted_form
from starter.web.forms import (
    build_widgets,
    field_label,
    field_of,
    form_errors,
    parse_form,
    said,
    schema_labels,
    sig_input_name,
)
from starter.web.i18n import (
    EN,
    FLASH,
    about,
    book,
    lang_of,
    person,
    pick,
    role_name,
    wording,
    words,
)
from starter.web.pages import PageRoute, factory, page_user, redirect, registry, render, state
from starter.web.records import record_view
from starter.web.start import has_files
from starter.web.times import datetime_local, due_info, local, parse_time, with_china_tz
from starter.web.uploads import attached_files
from starter.web.work import mark_twins
from starter.wording import Words
from store import queries
from store.models import User
from workflows.engine import rules
from workflows.registry import RegulationEntry

router = APIRouter(include_in_schema=False, route_class=PageRoute)


def binding_of(entry: RegulationEntry | None, case_input: dict[str, Any]) -> rules.Binding:
    """Who holds the case's bound roles: the same rule the workflow's validators apply
    (workflows/engine/rules.py), from the input the case was started with."""
    if entry is None:
        return rules.Binding()
    cls = entry.workflow
    return rules.binding(getattr(cls, "ROLE_HOLDERS", {}), getattr(cls, "DEPARTMENT", None),
                         case_input)  # fmt: skip


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
    # every wrong field of the form at once: input name -> reason (the form's own check)
    errors: dict[str, str] = default(default_factory=dict)


def task_panel(
    task: dict[str, Any],
    entry: RegulationEntry | None,
    user: User,
    now: datetime,
    lang: str,
    posted: FormState | None,
    case: rules.Binding | None = None,
) -> dict[str, Any]:
    """An open task with the actions this user may take (asked of the workflow's own rule,
    with the case's binding of roles to people) and their generated forms."""
    meta = task.get("meta") or {}
    short = task["id"].rsplit("/", 1)[-1]
    mine = posted if posted is not None and posted.task == short else None
    case = case or rules.Binding()
    can_complete = rules.may_complete(book(), case, task["role"], task.get("assignee"), user)
    limits: dict[str, Any] = meta.get("extend_limits") or {}
    extend_roles = [r for r in limits if rules.acts_as(book(), case, user, r)]
    pausable = list(meta.get("pausable_by") or [])
    sig_reqs = [s for s in meta.get("signatures") or [] if s.get("party") == "customer"]
    schemas = task.get("outcome_schemas") or {}
    outcomes = [
        _outcome_panel(outcome, schemas.get(outcome), meta, short, lang, mine, sig_reqs)
        for outcome in meta.get("outcomes") or list(schemas)
    ]
    limit_text = []
    for r in extend_roles:
        lim = limits.get(r)
        limit_text.append(local(lim) if lim else None)
    return {
        **task,
        "short": short,
        "due": due_info(task, now, lang),
        "can_complete": can_complete,
        "needs": needs(task, lang),
        "outcomes": outcomes,
        "can_extend": bool(extend_roles),
        "extend_limit": max((v for v in limit_text if v), default=None)
        if all(limit_text)
        else None,
        "extendable": bool(limits),
        "extend_roles": [role_name(r, lang) for r in limits],
        "can_pause": any(rules.acts_as(book(), case, user, r) for r in pausable),
        "pausable": bool(pausable),
        "paused": bool(task.get("paused_at")),
        "otp": any("otp" in s.get("methods", []) for s in sig_reqs) and can_complete,
        "posted": mine,
        "min_due": datetime_local(now + timedelta(minutes=5)),
    }


def needs(task: Mapping[str, Any], lang: str) -> str:
    """Who a task needs: its person by name (with their role), else its role."""
    role = role_name(task["role"], lang) if task.get("role") else ""
    if task.get("assignee"):
        name = person(task["assignee"])
        return (
            f"{name}（{role}）" if role and lang != "en" else f"{name} ({role})" if role else name
        )
    return role


def _outcome_panel(
    outcome: str,
    schema: dict[str, Any] | None,
    meta: Mapping[str, Any],
    short: str,
    lang: str,
    mine: FormState | None,
    sig_reqs: list[dict[str, Any]],
) -> dict[str, Any]:
    """One outcome of a task: its generated form, the customer's signature it asks for, and
    what a refused post of it said."""
    schema = schema or {"properties": {}}
    key = f"complete:{outcome}"
    posted = mine if mine and mine.form == key else None
    values = (posted.values.get("data") if posted else None) or None
    errors: dict[str, str] = dict(posted.errors) if posted else {}
    if posted and posted.field:
        errors[sig_input_name(posted.field) or ""] = posted.error
    reqs = [s for s in sig_reqs if not s.get("outcomes") or outcome in s["outcomes"]]
    widgets = build_widgets(schema, schema, values, errors, lang, "data.", f"{short}-{outcome}",
                            persons=words().persons)  # fmt: skip
    labels = schema_labels(schema)
    wrong = [field_label(n, labels) if lang != "en" else n for n in errors if n.startswith("data.")]
    sig_errors = {k.split(".", 1)[1] if "." in k else "": v for k, v in errors.items()
                  if k == "sig" or k.startswith("sig.")}  # fmt: skip
    label = pick(words().outcomes.get(outcome), lang, outcome)
    complete = pick(("完成任务", "Complete"), lang)
    plain = label in ("完成", "Done")  # the one way to finish: "complete", not "complete: done"
    return {
        "name": outcome,
        "label": label,
        "summary": complete if plain else label,
        "button": complete if plain else (label if lang == "en" else f"确认{label}"),
        "widgets": widgets,
        "multipart": has_files(widgets),
        "wrong": wrong,
        "sig": {
            "methods": sorted({m for s in reqs for m in s.get("methods", [])}),
            "required": any(s.get("required") for s in reqs),
            "kept": (posted.values.get("sig") if posted else None) or {},
            "errors": sig_errors,
        }
        if reqs
        else None,
        "staff_signs": any(
            s.get("party") == "actor" and (not s.get("outcomes") or outcome in s["outcomes"])
            for s in meta.get("signatures") or []
        ),
        "error": (
            posted.error
            or (
                pick(("请更正标出的字段", "Please correct the marked fields"), lang)
                if posted.errors
                else None
            )
        )
        if posted
        else None,
        "notice": posted.notice if posted else "",
        "open": posted is not None,
    }


def case_words(lang: str, tasks: list[dict[str, Any]], records: list[dict[str, Any]],
               units: Mapping[str, str], entry: RegulationEntry | None) -> Words:  # fmt: skip
    """The case's values and events in words: its tasks, records and units by id, and the
    person fields of its regulation."""
    w = wording(
        lang,
        tasks={t["id"]: t for t in tasks},
        records={r["id"]: r["title"] for r in records},
        units=units,
    )
    if entry is not None:
        w.person_keys = w.person_keys | set(entry.people) | set(w.labels.persons)
    return w


def subject_of(
    record: Mapping[str, Any],
    entry: RegulationEntry | None,
    tasks: list[dict[str, Any]],
    w: Words,
) -> dict[str, Any]:
    """The record a task decides on (an approval's claim): its fields, and the notes of the
    work it came from (the closed tasks of a unit of work the record names)."""
    fields, tables, _ = record_view(record, entry, w)
    units = {v for v in (record.get("data") or {}).values() if isinstance(v, str) and v in w.units}
    notes = [
        (w.person(t.get("closed_by")), str((t.get("data") or {}).get("note")))
        for t in tasks
        if t.get("unit") in units and t["status"] == "done" and (t.get("data") or {}).get("note")
    ]
    return {"id": record["id"], "title": record["title"], "fields": fields, "notes": notes,
            "by": w.person(record.get("created_by"))}  # fmt: skip


def event_row(event: Mapping[str, Any], w: Words) -> dict[str, Any]:
    return {**event, "sentence": w.event(event)}


def next_steps(summary: Mapping[str, Any] | None, w: Words, now: datetime) -> list[tuple[str, str]]:
    """What the case does next when nobody has a task yet (the regulation's summary: the next
    visit and when): each summary field that holds a time still to come, in words."""
    out = []
    for key, value in (summary or {}).items():
        times = [t for t in _times_in(value) if t > now]
        if times:
            out.append((w.field(key), w.value(key, value)))
    return out


def _times_in(value: Any) -> list[datetime]:
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _times_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in _times_in(v)]
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        t = parse_time(value)
        return [t] if t else []
    return []


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
    entry = about(registry(request).get(view["regulation"]))
    now = datetime.now(UTC)
    tasks = view["tasks"]
    open_tasks = sorted(
        (t for t in tasks if t["status"] == "open"),
        key=lambda t: (t.get("due_at") is None, parse_time(t.get("due_at")) or now),
    )
    case = binding_of(entry, view.get("input") or {})
    panels = [task_panel(t, entry, user, now, lang, posted, case) for t in open_tasks]
    mark_twins(panels, wording(lang))
    w = case_words(lang, tasks, records, await queries.unit_titles(sf, case_id), entry)
    by_id = {r["id"]: r for r in records}
    for p in panels:  # an approval shows what it approves
        rid = (p.get("data") or {}).get("record_id")
        if isinstance(rid, str) and rid in by_id:
            p["subject"] = subject_of(by_id[rid], entry, tasks, w)
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
    for r in records:
        r["created_by_name"] = w.person(r.get("created_by"))
    for t in closed:
        t["closed_by_name"] = (
            w.person(t.get("closed_by")) if t.get("closed_by") else pick(("系统", "System"), lang)
        )
    return render(
        request,
        "case.html",
        user,
        status=posted.status if posted else 200,
        case=view,
        entry=entry,
        title=(entry.title_en if lang == "en" else entry.title_zh) if entry else view["regulation"],
        customer_name=inp.get("customer_name"),
        owner=w.person(inp.get("owner") or view.get("started_by")),
        next_steps=next_steps(view.get("summary"), w, now),
        panels=panels,
        closed=closed,
        closed_hidden=closed_hidden,
        events=[event_row(e, w) for e in reversed(events)],
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
        row = await queries.task_row(factory(request), cases.full_task_id(case_id, task))
        if row is not None:  # the refusal in the words of the task's own regulation
            about(registry(request).get(row.regulation))
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
    request: Request,
    case_id: str,
    task: str,
    outcome: str,
    form: FormData,
    attached: Mapping[str, list[dict[str, Any]]] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The outcome's data schema of an open task, and the data its posted form holds."""
    row = await _open_task(request, case_id, task)
    entry = about(registry(request).get(row["regulation"]))
    schema = catalog.task_forms(entry, row["kind"]).get(outcome) if entry else None
    return schema, (parse_form(schema, schema, form, "data.", attached) if schema else {})


async def _outcome_model(
    request: Request, case_id: str, task: str, outcome: str
) -> type[BaseModel] | None:
    """The model of an outcome's data (its form), as the regulation declares it."""
    row = await _open_task(request, case_id, task)
    entry = about(registry(request).get(row["regulation"]))
    spec = getattr(entry.workflow, "_specs", {}).get(row["kind"]) if entry else None
    model = spec.outcomes.get(outcome) if spec is not None else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


@router.post("/cases/{case_id}/tasks/{task}/complete")
async def complete_post(request: Request, case_id: str, task: str) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    form = await posted_form(request)
    outcome = str(form.get("outcome") or "")[:64]
    attached, errors = await attached_files(factory(request), form, user.id, lang)
    schema, data = await _outcome_form(request, case_id, task, outcome, form, attached)
    sig = {k: str(form.get(f"sig.{k}") or "").strip() for k in ("signer_name", "method", "code")}
    drawing = str(form.get("sig.drawing") or "")
    signatures: list[dict[str, Any]] = []
    method = sig["method"] or ("otp" if sig["code"] else "drawing")
    if sig["signer_name"] or sig["code"] or drawing:
        errors.update(signature_errors(sig["signer_name"], method, sig["code"], drawing, lang))
        if method == "otp":
            signatures.append(
                {"signer_name": sig["signer_name"], "method": "otp", "code": sig["code"]}
            )
        else:
            signatures.append(
                {"signer_name": sig["signer_name"], "method": "drawing", "evidence": drawing}
            )
    model = await _outcome_model(request, case_id, task, outcome)
    if model is not None:  # the whole form at once, before the workflow sees any of it
        errors = {**form_errors(model, data, "data.", lang), **errors}
    payload = {"outcome": outcome, "data": data, "signatures": signatures}
    values = {"data": data, "sig": {**sig, "drawing": ""}}
    if errors:
        posted = FormState(task, f"complete:{outcome}", values, "", None, 422, errors=errors)
        return await _case_page(request, user, case_id, posted)
    return await _act(request, case_id, task, f"complete:{outcome}", "complete_task", payload,
                      values, "completed", schema_labels(schema) if schema else None)  # fmt: skip


def signature_errors(
    signer: str, method: str, code: str, drawing: str, lang: str
) -> dict[str, str]:
    """What is missing from a signature someone began: each said at its own input."""
    out = {}
    if not signer:
        out["sig.signer_name"] = pick(("请填写签字人的姓名", "Enter the signer's name"), lang)
    if method == "drawing" and len(drawing) < 30:
        out["sig.drawing"] = pick(
            (
                "请签字人在签字板上签名，或改用验证码签字",
                "Have the signer draw on the pad, or use a code",
            ),
            lang,
        )
    if method == "otp" and not code:
        out["sig.code"] = pick(
            (
                "请输入客户收到的 6 位验证码（先点“发送验证码”）",
                "Enter the 6-digit code the customer received (send it first)",
            ),
            lang,
        )
    return out


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
    form = await posted_form(request)
    recipient = str(form.get("recipient") or "").strip() or None
    outcome = str(form.get("outcome") or "")[:64]
    kept: dict[str, Any] | None = None
    if outcome:
        attached, _ = await attached_files(factory(request), form, user.id, lang)
        _, data = await _outcome_form(request, case_id, task, outcome, form, attached)
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
