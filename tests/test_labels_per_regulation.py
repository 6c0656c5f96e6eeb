"""Two regulations may give one key different words (R1's `owner` is 负责人, a reception
case's 客户归属): the merged labels cannot say both, so a page about one regulation's case,
record or start form says that regulation's own words (starter.web.i18n.about)."""

from __future__ import annotations

import contextvars

import pytest

from starter.web import i18n
from workflows.labels import Labels
from workflows.regulations import REGISTRY

KINDS = ("fields", "outcomes", "records", "events", "enums")


def clashes() -> set[tuple[str, str]]:
    """(kind, key) pairs two regulations label differently."""
    seen: dict[tuple[str, str], set[str]] = {}
    for entry in REGISTRY.values():
        for kind in KINDS:
            for key, value in getattr(entry.labels, kind).items():
                seen.setdefault((kind, key), set()).add(str(value))
    return {k for k, v in seen.items() if len(v) > 1}


def own_words(code: str | None) -> Labels:
    def read() -> Labels:
        i18n.WORDS.set(i18n.words_for(REGISTRY))
        i18n.about(REGISTRY[code] if code else None)
        return i18n.words()

    return contextvars.copy_context().run(read)


def test_the_merged_labels_do_clash_so_the_page_must_choose() -> None:
    assert ("fields", "owner") in clashes()  # what this test is about exists


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_a_page_about_a_regulation_says_its_own_words(code: str) -> None:
    words, own = own_words(code), REGISTRY[code].labels
    for kind in KINDS:
        mine, said = getattr(own, kind), getattr(words, kind)
        assert {k: said[k] for k in mine} == dict(mine), kind


def test_r1_says_its_owner_whatever_regulation_was_merged_last() -> None:
    assert own_words("revisit").fields["owner"] == "负责人"
    assert own_words("reception").fields["owner"] != "负责人"
    # a page about no one regulation (工作台, admin) keeps the merged words
    assert own_words(None).fields == i18n.words_for(REGISTRY)[0].fields


def test_a_page_about_r1_has_no_word_another_regulation_gave_a_key_r1_leaves_to_the_engine() -> (
    None
):
    # R5 calls `content` 报告内容; R1 leaves `content` to the engine's 内容, and its plan record
    # (exported as CSV) must not read 报告内容.
    assert REGISTRY["complaint"].labels.fields.get("content") == "报告内容"
    assert "content" not in REGISTRY["revisit"].labels.fields
    assert own_words("revisit").fields["content"] == "内容"
    for code, entry in REGISTRY.items():
        engine_only = set(own_words(code).fields) - set(entry.labels.fields)
        assert engine_only <= set(i18n.ENGINE_LABELS.fields), code


def _choices(schema: object, root: dict, seen: set[str]) -> set[str]:
    """Every string a schema's enums and consts allow (its `$ref`s followed once)."""
    out: set[str] = set()
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            out |= _choices(root.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {}), root, seen)
        out |= {v for v in schema.get("enum", []) if isinstance(v, str)}
        if isinstance(schema.get("const"), str):
            out.add(schema["const"])
        for key, value in schema.items():
            if key != "$defs":
                out |= _choices(value, root, seen)
    elif isinstance(schema, list):
        for value in schema:
            out |= _choices(value, root, seen)
    return out


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_every_choice_of_a_regulations_forms_has_its_own_word(code: str) -> None:
    """A choice (a Literal of the start form, a task's outcome form, an action) shows in the
    regulation's own words or the engine's, never as its code, and never by luck of another
    regulation naming the same code (satisfaction's 来函 / 电话 were shown as `letter` / `phone`)."""
    from starter import catalog

    entry = REGISTRY[code]
    schemas = {"start": entry.input_model.model_json_schema()}
    for kind in getattr(entry.workflow, "_specs", {}):
        for outcome, schema in catalog.task_forms(entry, kind).items():
            schemas[f"{kind}:{outcome}"] = schema
    for action in entry.all_actions().values():
        if action.name != "complete_task":  # its choices are the signature methods (METHODS)
            schemas[action.name] = action.input_model.model_json_schema()
    words = own_words(code).enums
    missing = {
        where: sorted(v for v in _choices(schema, schema, set()) if v not in words)
        for where, schema in schemas.items()
    }
    assert not {k: v for k, v in missing.items() if v}
