"""A named record (《客户回访记录表》, …): the page to read and print it, with each signature
verifiable; and its export as CSV (UTF-8 with BOM) and XLSX, every value as stored."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from activities.errors import NotFound
from starter import signatures
from starter.web.forms import label_path, schema_labels
from starter.web.i18n import METHODS, VERIFY_REASONS, lang_of, pick, role_name, words
from starter.web.pages import PageRoute, factory, page_user, registry, render, state
from starter.web.times import local, parse_time
from store import queries
from workflows.model import Deadline, is_deadline
from workflows.registry import RegulationEntry

router = APIRouter(include_in_schema=False, route_class=PageRoute)


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
