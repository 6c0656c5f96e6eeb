"""Chinese for the validation messages the pages show: pydantic errors by their `type` (and
`ctx`), the known `ValueError` texts of the models, a refusal's Chinese text carried in the
details of the workflow's ApplicationError (see `refuse` in workflows/engine/common.py).

The API and the CLI keep the English messages; the pages show these when the person reads
Chinese (see `ServiceError.message_zh` in activities/errors.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# pydantic error type -> Chinese (str.format over the error's ctx).
PYDANTIC: dict[str, str] = {
    "missing": "此项必填",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确（须符合 {pattern}）",
    "string_type": "须为文本",
    "string_unicode": "须为有效的文本",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "float_parsing": "须为数字",
    "float_type": "须为数字",
    "decimal_parsing": "须为数字",
    "decimal_type": "须为数字",
    "decimal_max_digits": "最多 {max_digits} 位数字",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_whole_digits": "整数部分最多 {whole_digits} 位",
    "finite_number": "须为有限的数字",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须大于或等于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须小于或等于 {le}",
    "multiple_of": "须为 {multiple_of} 的倍数",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "literal_error": "须为以下之一：{expected}",
    "enum": "须为以下之一：{expected}",
    "bool_parsing": "须为“是”或“否”",
    "bool_type": "须为“是”或“否”",
    "date_parsing": "须为有效日期（如 2026-12-01）",
    "date_from_datetime_parsing": "须为有效日期（如 2026-12-01）",
    "date_from_datetime_inexact": "须为日期，不带时间",
    "date_type": "须为有效日期（如 2026-12-01）",
    "datetime_parsing": "须为有效的日期时间（如 2026-12-01 10:00）",
    "datetime_from_date_parsing": "须为有效的日期时间（如 2026-12-01 10:00）",
    "datetime_type": "须为有效的日期时间（如 2026-12-01 10:00）",
    "timezone_aware": "须带时区",
    "timezone_naive": "不能带时区",
    "extra_forbidden": "不接受此字段",
    "list_type": "须为列表",
    "tuple_type": "须为列表",
    "set_type": "须为列表",
    "dict_type": "须为对象",
    "model_type": "须为对象",
    "model_attributes_type": "须为对象",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "none_required": "须为空",
    "union_tag_invalid": "类型不正确",
    "frozen_field": "不可修改",
}

# Known ValueError texts of the models (regex on the English text -> Chinese).
VALUE_ERRORS: tuple[tuple[str, str], ...] = (
    (r"control characters", "不能包含控制字符（如 NUL）"),
    (r"valid Unicode", "包含无法识别的字符，请重新输入"),
    (r"nested deeper than", "层级过深"),
    (r"between (the years )?2000 and 2100", "须为 2000 年到 2100 年之间的真实日期"),
    (r"needs a time zone", "须带时区（如 2026-12-01T10:00:00+08:00）"),
    (r"evidence of a \w+ signature must start with", "签字凭据与签字方式不符"),
    (r"shares must add up to 1", "各方份额之和须为 1"),
    (r"exactly one kind|one kind of", "期限只能是一种（自然时间、工作日或每月日期）"),
)


# Patterns of the models, in words.
PATTERNS: dict[str, str] = {
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": "格式不正确：只能使用英文字母、数字和 _ . -，"
    "以字母或数字开头，最多 64 个字符",
    r"^[A-Za-z0-9-]{1,40}$": "格式不正确：只能使用英文字母、数字和 -，最多 40 个字符",
}


def _choices(expected: Any) -> str:
    """`'a', 'b' or 'c'` -> `'a'、'b'、'c'`."""
    return re.sub(r",\s*|\s+or\s+", "、", str(expected))


def value_error_zh(text: str) -> str:
    for pattern, zh in VALUE_ERRORS:
        if re.search(pattern, text):
            return zh
    return f"取值无效：{text}"


def pydantic_zh(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of `ValidationError.errors()`, or the `error` detail of a
    workflow's refusal) in Chinese; an unknown type keeps its English message."""
    kind = str(err.get("type") or "")
    ctx = dict(err.get("ctx") or {})
    if kind in ("value_error", "assertion_error"):
        return value_error_zh(str(ctx.get("error") or err.get("msg") or ""))
    if kind == "string_pattern_mismatch" and str(ctx.get("pattern")) in PATTERNS:
        return PATTERNS[str(ctx["pattern"])]
    if kind in ("literal_error", "enum") and "expected" in ctx:
        ctx["expected"] = _choices(ctx["expected"])
    template = PYDANTIC.get(kind)
    if template is None:
        return f"取值无效（{err.get('msg') or kind}）"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return template.split("{", 1)[0].rstrip("（ ") or f"取值无效（{err.get('msg') or kind}）"


def refusal_zh(details: Sequence[Any]) -> str | None:
    """The Chinese text of a workflow refusal from its ApplicationError details
    (`{"zh": ...}` or `{"error": <pydantic error>}`), if it has one."""
    for item in details:
        if isinstance(item, Mapping):
            if isinstance(item.get("zh"), str) and item["zh"]:
                return str(item["zh"])
            if isinstance(item.get("error"), Mapping):
                return pydantic_zh(item["error"])
    return None
