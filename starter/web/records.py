"""A named record (《客户回访记录表》, …): the page to read and print it — its fields in the order
of its paper form (the regulation's layout, else the form's model: the case's basic facts, the
content, the conclusions), repeated groups as tables, attached files as links, a report's
tables and bar charts (inline SVG), each signature with its drawn image, the signer, role,
time and the seal checked — and its export as CSV (UTF-8 with BOM) and XLSX, saying what the
screen says: labels, Chinese values, numbers as numbers, China time to the minute."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as default
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from pydantic import BaseModel

from activities.errors import NotFound
from starter import attachments, signatures
from starter.web.forms import is_attachment, schema_labels
from starter.web.i18n import (
    METHODS,
    OWN,
    VERIFY_REASONS,
    about,
    lang_of,
    own_words,
    pick,
    role_name,
    wording,
    words,
)
from starter.web.pages import PageRoute, factory, page_user, registry, render, state
from starter.web.times import local, parse_time
from starter.wording import Words, is_money
from store import queries
from workflows.model import Deadline, is_deadline
from workflows.registry import RegulationEntry

router = APIRouter(include_in_schema=False, route_class=PageRoute)

REPORT_KEYS = ("tables", "charts")


async def _record(request: Request, record_id: str) -> tuple[dict[str, Any], dict[str, Any], list]:
    """The record (with its signatures), its case's row, and every record of the case."""
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
    return record, queries.row_dict(case), found


# ---- the form a record follows ------------------------------------------------------------------


def _record_models(entry: RegulationEntry, kind: str) -> list[type[BaseModel]]:
    """The data models of the tasks that write records of this kind (their outcomes' forms)."""
    models: list[type[BaseModel]] = []
    for spec in (getattr(entry.workflow, "_specs", {}) or {}).values():
        if spec.record is not None and spec.record.kind == kind:
            models += [m for m in spec.outcomes.values() if m not in models]
    return models


_RECORD_LABELS: dict[tuple[int, str], dict[str, str]] = {}


def record_labels(entry: RegulationEntry | None, kind: str) -> dict[str, str]:
    """Labels of a record's fields by dotted path (`problems.text`): the data models of the
    tasks that write records of this kind, then the regulation's input model (a record repeats
    the case's customer)."""
    if entry is None:
        return {}
    key = (id(entry.workflow), kind)
    if key not in _RECORD_LABELS:
        out: dict[str, str] = {}
        # In the regulation's own words whatever page asks first (the cache outlives the request).
        token = OWN.set(own_words(entry))
        try:
            for model in (*_record_models(entry, kind), entry.input_model):
                schema_labels(model.model_json_schema(), out=out)
        finally:
            OWN.reset(token)
        _RECORD_LABELS[key] = out
    return _RECORD_LABELS[key]


def field_order(entry: RegulationEntry | None, kind: str, keys: list[str]) -> list[str]:
    """A record's fields in the order of its form: the regulation's layout for the kind, else
    the case's basic facts (the input model's fields), the form's fields (the outcome model),
    then what the workflow added (in the order of the regulation's field labels)."""
    known: list[str] = list(words().layouts.get(kind, ()))
    if entry is not None:
        known += list(entry.input_model.model_fields)
        for model in _record_models(entry, kind):
            known += list(model.model_fields)
    known += list(words().fields)
    rank = {k: i for i, k in reversed(list(enumerate(known)))}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


# ---- a record's fields as a person reads them ---------------------------------------------------


@dataclass
class Shown:
    """One field of a record as shown: text, lines, a table, files, or a link to a record."""

    key: str
    label: str
    kind: str  # text | lines | table | files | link
    text: str = ""
    cells: list[Any] = default(default_factory=list)  # the raw value(s), for the exports
    columns: list[str] = default(default_factory=list)
    rows: list[list[str]] = default(default_factory=list)
    raw_rows: list[list[Any]] = default(default_factory=list)
    files: list[Mapping[str, Any]] = default(default_factory=list)
    href: str = ""


def _number(key: str, value: Any) -> Any:
    """A value as an export cell: numbers as numbers (money as Decimal with two places)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if is_money(key) or isinstance(value, Decimal):
        try:
            return Decimal(str(value)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            return value
    return value


def shown_field(
    key: str, value: Any, w: Words, labels: Mapping[str, str], records: Mapping[str, str]
) -> Shown:
    label = labels.get(key) or w.field(key)
    if isinstance(value, Mapping) and is_attachment({"properties": value}):
        return Shown(key, label, "files", files=[value])
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        if all(is_attachment({"properties": v}) for v in value):
            return Shown(key, label, "files", files=list(value))
        cols = [c for c in dict.fromkeys(k for v in value for k in v)]
        order = [p.split(".", 1)[1] for p in labels if p.startswith(f"{key}.")]
        cols.sort(key=lambda c: order.index(c) if c in order else len(order))
        cols = [c for c in cols if any(v.get(c) not in (None, "", []) for v in value)]
        return Shown(
            key, label, "table",
            columns=[labels.get(f"{key}.{c}") or w.field(c) for c in cols],
            rows=[[_cell(c, v.get(c), w) for c in cols] for v in value],
            raw_rows=[[_raw(c, v.get(c), w) for c in cols] for v in value],
        )  # fmt: skip
    if isinstance(value, list) and all(not isinstance(v, Mapping | list) for v in value):
        texts = [w.value(key, v) for v in value]
        return Shown(key, label, "lines", text="\n".join(texts), cells=texts)
    if isinstance(value, str) and value in records:
        return Shown(key, label, "link", text=records[value], href=f"/records/{quote(value)}")
    return Shown(key, label, "text", text=w.value(key, value), cells=[_raw(key, value, w)])


def _cell(key: str, value: Any, w: Words) -> str:
    if isinstance(value, Mapping) and is_attachment({"properties": value}):
        return str(value.get("name") or "")
    return w.value(key, value)


def _raw(key: str, value: Any, w: Words) -> Any:
    """An export cell: a number stays a number, everything else is said in words."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _number(key, value)
    if is_money(key) and isinstance(value, str):
        return _number(key, value)
    return _cell(key, value, w)


def record_view(
    record: Mapping[str, Any], entry: RegulationEntry | None, w: Words
) -> tuple[list[Shown], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the fields, the report tables, the bar charts) of a record."""
    data = dict(record.get("data") or {})
    labels = record_labels(entry, record["kind"]) if w.zh else {}
    titles = {k: v for k, v in w.records.items() if k != record["id"]}
    keys = field_order(entry, record["kind"], [k for k in data if k not in REPORT_KEYS])
    fields = [shown_field(k, data[k], w, labels, titles) for k in keys]
    fields = [f for f in fields if f.text or f.rows or f.files or f.kind == "link"]
    return fields, report_tables(data.get("tables"), w), report_charts(data.get("charts"))


def report_tables(tables: Any, w: Words) -> list[dict[str, Any]]:
    out = []
    for t in tables if isinstance(tables, list) else []:
        if not isinstance(t, Mapping):
            continue
        rows = [r for r in t.get("rows") or [] if isinstance(r, list)]
        out.append({
            "title": str(t.get("title") or ""),
            "columns": [str(c) for c in t.get("columns") or []],
            "rows": [[_table_cell(v, w) for v in r] for r in rows],
            "raw": [[_table_raw(v, w) for v in r] for r in rows],
        })  # fmt: skip
    return out


def _table_cell(value: Any, w: Words) -> dict[str, Any]:
    num = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    return {"text": w.value("", value) if not num else _num_text(value), "num": num}


def _num_text(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, Decimal):
        return str(value)
    return str(int(value)) if float(value).is_integer() else str(value)


def _table_raw(value: Any, w: Words) -> Any:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    return w.value("", value)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def report_charts(charts: Any) -> list[dict[str, Any]]:
    """Each chart: its title, unit, bars, and the SVG that draws them (no script, no CDN)."""
    out = []
    for c in charts if isinstance(charts, list) else []:
        if not isinstance(c, Mapping):
            continue
        bars = [
            (str(b.get("label") or ""), v)
            for b in c.get("bars") or []
            if isinstance(b, Mapping) and (v := _float(b.get("value"))) is not None
        ]
        title, unit = str(c.get("title") or ""), str(c.get("unit") or "")
        out.append(
            {"title": title, "unit": unit, "bars": bars, "svg": bar_chart(bars, unit, title)}
        )
    return out


def bar_chart(bars: list[tuple[str, float]], unit: str, title: str) -> Markup:
    """Horizontal bars with their labels and values, as inline SVG."""
    label_w, bar_w, row_h, pad = 170, 380, 26, 6
    height = max(1, len(bars)) * row_h + pad * 2
    top = max((v for _, v in bars), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + bar_w + 110} {height}" '
        f'role="img" aria-label="{escape(title)}">'
    ]
    for i, (label, value) in enumerate(bars):
        y = pad + i * row_h
        length = max(0.0, value) / top * bar_w
        shown = _num_text(value) + (f" {unit}" if unit else "")
        short = label if len(label) <= 14 else label[:13] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end"><title>{escape(label)}'
            f"</title>{escape(short)}</text>"
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" rx="2"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 17}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# ---- signatures ---------------------------------------------------------------------------------


async def signature_cards(
    request: Request, record: Mapping[str, Any], w: Words, lang: str
) -> list[dict[str, Any]]:
    """Each signature with its drawn image (when drawn), signer, role, method, time and the
    seal checked now."""
    sigs = record.get("signatures") or []
    images = await attachments.drawings(factory(request), (s.get("evidence_sha256") for s in sigs))
    st = state(request)
    out = []
    for s in sigs:
        checked = await signatures.verify_signature(st, factory(request), s["id"])
        reason = str(checked.get("reason") or "")
        out.append({
            **s,
            "name": w.person(s["signer"]),
            "role_name": role_name(s["role"], lang),
            "method_name": pick(METHODS.get(s["method"]), lang, s["method"]),
            "image": images.get(s.get("evidence_sha256") or ""),
            "ok": bool(checked.get("ok")),
            "reason": VERIFY_REASONS.get(reason, reason) if lang == "zh" else reason,
        })  # fmt: skip
    return out


async def _words(request: Request, record: Mapping[str, Any], found: list, lang: str) -> Words:
    case_id = record["case_id"]
    tasks = {t.id: {"title": t.title, "due_at": t.due_at}
             for t in await queries.case_tasks(factory(request), case_id)}  # fmt: skip
    units = await queries.unit_titles(factory(request), case_id)
    entry = about(registry(request).get(record.get("regulation") or ""))  # before the words
    w = wording(lang, tasks=tasks, records={r["id"]: r["title"] for r in found}, units=units)
    if entry is not None:
        w.person_keys = w.person_keys | set(entry.people) | set(w.labels.persons)
    return w


@router.get("/records/{record_id:path}")
async def record_page(request: Request, record_id: str) -> Response:
    user = await page_user(request)
    lang = lang_of(request)
    record, case, found = await _record(request, record_id[:300])
    sig_id = request.query_params.get("verify")
    if sig_id and sig_id not in {s["id"] for s in record["signatures"]}:
        raise NotFound(f"no signature {sig_id} on this record")
    w = await _words(request, record, found, lang)
    entry = about(registry(request).get(record.get("regulation") or ""))
    fields, tables, charts = record_view(record, entry, w)
    return render(
        request, "record.html", user, record=record, case=case, fields=fields, tables=tables,
        charts=charts, signatures=await signature_cards(request, record, w, lang),
        verified_id=sig_id, created_by=w.person(record.get("created_by")), quote=quote,
    )  # fmt: skip


# ---- exports --------------------------------------------------------------------------------------


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
    if isinstance(value, Mapping) and is_deadline(value):
        return deadline_text(value, lang)
    if isinstance(value, str):
        if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value) and parse_time(value):
            return local(value)
        return pick(words().enums.get(value), lang, value)
    return wording(lang).value("", value)


def export_rows(
    record: Mapping[str, Any],
    case: Mapping[str, Any],
    fields: list[Shown],
    tables: list[dict[str, Any]],
    charts: list[dict[str, Any]],
    sigs: list[dict[str, Any]],
    w: Words,
) -> list[list[Any]]:
    """What the record page shows, as rows of cells (numbers stay numbers)."""
    zh = w.zh
    rows: list[list[Any]] = [
        [record["title"]],
        ["案件编号" if zh else "case", record["case_id"]],
        ["客户" if zh else "customer", str((case.get("input") or {}).get("customer_name") or "")
         + (f"（{case['customer_id']}）" if case.get("customer_id") else "")],
        ["创建人" if zh else "created by", w.person(record.get("created_by"))],
        ["创建时间" if zh else "created at", local(record.get("created_at"))],
        [],
    ]  # fmt: skip
    for f in fields:
        if f.kind == "table":
            rows.append([f.label])
            rows.append(["", *f.columns])
            rows += [["", *r] for r in f.raw_rows]
        elif f.kind == "files":
            rows.append([f.label, "；".join(str(a.get("name") or "") for a in f.files)])
        elif f.kind == "lines":
            rows.append([f.label, *f.cells])
        elif f.kind == "link":
            rows.append([f.label, f.text])
        else:
            rows.append([f.label, *(f.cells or [f.text])])
    for t in tables:
        rows += [[], [t["title"]], t["columns"], *t["raw"]]
    for c in charts:
        rows += [[], [c["title"] + (f"（{c['unit']}）" if c["unit"] and zh else "")]]
        rows += [[label, value] for label, value in c["bars"]]
    if sigs:
        rows += [[], ["签字" if zh else "signatures"]]
        for s in sigs:
            seal = (
                ("印章有效" if s["ok"] else "印章无效")
                if zh
                else ("seal valid" if s["ok"] else "seal not valid")
            )
            rows.append([s["name"], s["role_name"], s["method_name"], local(s["signed_at"]), seal])
    rows += [
        [],
        ["SHA-256", record.get("sha256") or ""],
        ["记录编号" if zh else "record id", record["id"]],
    ]
    return rows


def _safe_cell(value: Any) -> Any:
    """A spreadsheet cell that cannot run as a formula (CSV / formula injection)."""
    if not isinstance(value, str):
        return value
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def _export(request: Request, record_id: str) -> tuple[dict[str, Any], list[list[Any]]]:
    lang = lang_of(request)
    record, case, found = await _record(request, record_id[:300])
    w = await _words(request, record, found, lang)
    entry = about(registry(request).get(record.get("regulation") or ""))
    fields, tables, charts = record_view(record, entry, w)
    sigs = await signature_cards(request, record, w, lang)
    return record, export_rows(record, case, fields, tables, charts, sigs, w)


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
    record, rows = await _export(request, record_id)
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([_csv_cell(c) for c in row])
    name = f"{record['title'].strip('《》')}-{record['id'].replace('/', '-')}.csv"
    # UTF-8 with BOM: Excel opens Chinese text correctly.
    return _download(("\ufeff" + buf.getvalue()).encode("utf-8"), name, "text/csv; charset=utf-8")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, bool):
        return "是" if value else "否"
    return _safe_cell(value)


@router.get("/export/xlsx/{record_id:path}")
async def export_xlsx(request: Request, record_id: str) -> Response:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    await page_user(request)
    record, rows = await _export(request, record_id)
    wb = Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\《》]", "", record["title"])[:31] or "record"
    for row in rows:
        ws.append(
            [_safe_cell(c if not isinstance(c, bool) else ("是" if c else "否")) for c in row]
        )
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
            elif isinstance(cell.value, str):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 24
    for col in "BCDEFG":
        ws.column_dimensions[col].width = 28
    buf = io.BytesIO()
    wb.save(buf)
    name = f"{record['title'].strip('《》')}-{record['id'].replace('/', '-')}.xlsx"
    return _download(
        buf.getvalue(), name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
