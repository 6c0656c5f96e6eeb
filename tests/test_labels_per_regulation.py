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
