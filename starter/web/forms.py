"""Forms generated from JSON Schema (a regulation's input model, each task outcome's data
model), so a new regulation gets its pages without template work: the widgets of a schema,
filled with values or defaults (`build_widgets`); the values a posted form holds, shaped by the
schema (`parse_form`); a refusal said next to the field it is about, by the field's label."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from activities.errors import ServiceError, error_field
from activities.zh import pydantic_zh
from starter.web.i18n import people, person, pick, role_name, words
from starter.web.times import datetime_local, with_china_tz


@dataclass
class Widget:
    """One field of a generated form (a JSON Schema property)."""

    name: str  # input name: the dotted path of the value (`contacts.0.name`, `data.usage`)
    label: str
    help: str
    # text textarea number date datetime select multi lines checkbox group repeat person file files
    kind: str
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


def resolve_schema(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
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


ATTACHMENT_KEYS = frozenset({"id", "name", "size", "sha256"})


def is_attachment(prop: Mapping[str, Any]) -> bool:
    """A resolved schema of workflows.model.Attachment (a file a person attaches)."""
    return ATTACHMENT_KEYS <= set(prop.get("properties") or {})


def _kind(prop: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    t = prop.get("type")
    if is_attachment(prop):
        return "file"
    if t == "array" and is_attachment(resolve_schema(prop.get("items", {}), root)):
        return "files"
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
        items = resolve_schema(prop.get("items", {}), root)
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


_ROLE_REF = re.compile(r"\brole:(\w+)")


def _label(key: str, prop: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """(label, help). A Chinese title wins; else the description, else a known label. A role
    a regulation's text names by code (`role:finance`) is said by its name."""
    auto = key.replace("_", " ").title()
    title = str(prop.get("title") or "")
    desc = _ROLE_REF.sub(lambda m: role_name(m.group(1), lang), str(prop.get("description") or ""))
    if lang == "en":
        return (title if title and title != auto else auto), desc
    if title and title != auto:
        return title, desc
    if _lists_codes(prop, desc):  # "regular 普通 / large 大客户": the options say it
        return words().fields.get(key, auto), ""
    if desc and "/" not in desc:
        short = re.split(r"[，,（(]", desc, maxsplit=1)[0].strip()
        if short and len(short) <= 24:
            return short, desc if short != desc else ""
    return words().fields.get(key, auto), desc


def _lists_codes(prop: Mapping[str, Any], desc: str) -> bool:
    """A description that lists an enum's codes with their names (`regular 普通 / key 重要`)."""
    values = {str(v) for v in prop.get("enum") or ()}
    parts = [p.strip().split(None, 1)[0] for p in desc.split("/") if p.strip()]
    return bool(values) and len(parts) > 1 and all(p in values for p in parts)


def person_options(role: str, value: Any) -> list[tuple[str, str]]:
    """The active people holding `role` ("" = anyone), by name with their department; a value
    already chosen stays (a person who left is still shown, by name)."""
    found = [(p.id, f"{p.name}（{p.department}）" if p.department else p.name)
             for p in people().holders(role)]  # fmt: skip
    if value and str(value) not in {i for i, _ in found}:
        found.insert(0, (str(value), person(str(value))))
    return found


def build_widgets(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    values: Mapping[str, Any] | None,
    errors: Mapping[str, str],
    lang: str,
    prefix: str = "",
    scope: str = "",
    persons: Mapping[str, str] | None = None,
) -> list[Widget]:
    """The widgets of an object schema, filled with `values` (or the schema's defaults).
    `scope` goes into every element id, so several forms on one page never share an id;
    `persons` (field -> role) makes a field a choice of the people holding the role."""
    schema = resolve_schema(schema, root)
    required = set(schema.get("required", []))
    out: list[Widget] = []
    for key, raw in (schema.get("properties") or {}).items():
        prop = resolve_schema(raw, root)
        name = f"{prefix}{key}"
        kind = _kind(prop, root)
        if kind == "json":
            continue
        if persons is not None and key in persons and prop.get("type") == "string":
            kind = "person"
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
        _fill(w, prop, root, errors, lang, persons)
        out.append(w)
    return out


def _fill(w: Widget, prop: Mapping[str, Any], root: Mapping[str, Any], errors: Mapping[str, str],
          lang: str, persons: Mapping[str, str] | None = None) -> None:  # fmt: skip
    """What a widget of its kind needs beyond its value: options, limits, nested widgets."""
    name, scope, kind = w.name, w.scope, w.kind
    if kind == "select":
        w.options = _enum_options(prop, lang)
    elif kind == "person":
        w.options = person_options((persons or {}).get(w.name.rsplit(".", 1)[-1], ""), w.value)
    elif kind == "file":
        w.value = w.value if isinstance(w.value, Mapping) and w.value.get("id") else None
    elif kind == "files":
        w.value = [v for v in w.value or [] if isinstance(v, Mapping) and v.get("id")]
    elif kind == "multi":
        w.options = _enum_options(resolve_schema(prop.get("items", {}), root), lang)
        w.value = [str(v) for v in w.value or []]
    elif kind == "number":
        w.attrs["step"] = "1" if prop.get("type") == "integer" else "any"
        for k in ("minimum", "maximum"):
            if k in prop:
                w.attrs[k[:3]] = prop[k]
    elif kind in ("text", "textarea") and prop.get("maxLength"):
        w.attrs["maxlength"] = prop["maxLength"]
    elif kind == "datetime":
        w.value = datetime_local(w.value) if w.value else ""
    elif kind == "lines":
        w.value = "\n".join(str(v) for v in w.value or [])
    elif kind == "group":
        w.children = build_widgets(
            prop, root, w.value if isinstance(w.value, Mapping) else None, errors, lang,
            f"{name}.", scope, persons,
        )  # fmt: skip
    elif kind == "repeat":
        items = resolve_schema(prop.get("items", {}), root)
        rows = [v for v in (w.value or []) if isinstance(v, Mapping)]
        for i, row in enumerate(rows):
            w.rows.append(
                build_widgets(items, root, row, errors, lang, f"{name}.{i}.", scope, persons)
            )
        most = prop.get("maxItems") or 50
        if not rows:  # one blank row to fill without JavaScript (never one more per submit)
            w.rows.append(build_widgets(items, root, {}, {}, lang, f"{name}.0.", scope, persons))
        w.template = build_widgets(items, root, {}, {}, lang, f"{name}.__i__.", scope, persons)
        w.attrs["max"] = most


def _blank(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def parse_form(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    form: FormData,
    prefix: str = "",
    attached: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The values a generated form posted, shaped by its schema: empty fields are left out (the
    model's default or its "required" refusal applies), numbers converted when they parse,
    datetimes given China time, blank repeated rows dropped; a file field's value is what
    `attached` holds for it (starter.web.uploads: the files sent and those kept). Validation is
    the model's."""
    attached = attached or {}
    schema = resolve_schema(schema, root)
    out: dict[str, Any] = {}
    for key, raw in (schema.get("properties") or {}).items():
        prop = resolve_schema(raw, root)
        name = f"{prefix}{key}"
        kind = _kind(prop, root)
        if kind == "file":
            if attached.get(name):
                out[key] = attached[name][0]
        elif kind == "files":
            out[key] = list(attached.get(name, []))
        elif kind == "checkbox":
            out[key] = name in form
        elif kind == "multi":
            out[key] = [str(v) for v in form.getlist(name)]
        elif kind == "lines":
            text = str(form.get(name) or "")
            out[key] = [line.strip() for line in text.splitlines() if line.strip()]
        elif kind == "group":
            inner = parse_form(prop, root, form, f"{name}.", attached)
            if any(not _blank(v) for v in inner.values()):
                out[key] = inner
        elif kind == "repeat":
            items = resolve_schema(prop.get("items", {}), root)
            pattern = re.compile(re.escape(name) + r"\.(\d+)\.")
            indices = sorted({int(m.group(1)) for k in form for m in [pattern.match(k)] if m})
            rows = []
            for i in indices[:200]:
                row = parse_form(items, root, form, f"{name}.{i}.", attached)
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


def form_errors(
    model: type[BaseModel], values: Mapping[str, Any], prefix: str = "", lang: str = "zh"
) -> dict[str, str]:
    """Every error of a form at once (pydantic's, in Chinese), by the input name of its field
    (`contacts.0.name`, `data.usage`); a check of the whole model goes under the form itself."""
    try:
        model.model_validate(values)
    except ValidationError as exc:
        out: dict[str, str] = {}
        for err in exc.errors():
            path = error_field(tuple(err["loc"]), str(err.get("msg") or ""))
            name = f"{prefix}{path}" if path != "body" else prefix.rstrip(".") or "body"
            out.setdefault(name, str(err.get("msg")) if lang == "en" else pydantic_zh(err))
        return out
    return {}


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
    for key, raw in (resolve_schema(schema, root).get("properties") or {}).items():
        prop = resolve_schema(raw, root)
        path = f"{prefix}{key}"
        label = _label(key, prop, "zh")[0]
        if label != key.replace("_", " ").title():
            out.setdefault(path, label)
        inner = resolve_schema(prop.get("items", {}), root) if prop.get("type") == "array" else prop
        if "properties" in inner:
            schema_labels(inner, root, f"{path}.", out)
    return out


def field_label(name: str, labels: Mapping[str, str] | None = None) -> str:
    """A form field's name (`data.problems.0.text`) as a person reads it."""
    path = re.sub(r"^(data|sig)\.", "", name)
    path = re.sub(r"\.(\d+)(?=\.|$)", lambda m: f"[{int(m.group(1)) + 1}]", path)
    return label_path(path, "zh", labels)
