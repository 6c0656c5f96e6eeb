"""One regulation, one folder: what a regulation declares in its folder is all the rest of the
system knows of it. No regulation's code, role, outcome, task or record kind is written in
starter/, activities/ or worker.py; the sandbox's pass-through list, the demo users, the labels
and the replay test's list are derived from the registry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import worker
from workflows.engine.labels import LABELS as ENGINE_LABELS
from workflows.regulations import REGISTRY, demo_people, labels_of, roles_of
from workflows.roles import GENERIC

ROOT = Path(__file__).parent.parent


def regulation_words() -> set[str]:
    """Every regulation's code, roles, task kinds, outcomes and record kinds (the engine's
    generic words and the system's roles aside)."""
    words: set[str] = set()
    for entry in REGISTRY.values():
        words.add(entry.code)
        words |= set(entry.roles.names)
        words |= set(entry.labels.outcomes) | set(entry.labels.records)
        for spec in entry.workflow._specs.values():
            words.add(spec.kind)
            words |= set(spec.outcomes)
    return words - set(ENGINE_LABELS.outcomes) - set(GENERIC.names) - {"report"}


def strings_of(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that are not docstrings (docstrings may give examples)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_no_regulation_word_outside_its_folder() -> None:
    words = regulation_words()
    assert {"revisit", "staff", "supervisor", "unreachable", "visit"} <= words  # it looks
    pattern = re.compile(
        r"(?<![A-Za-z0-9_])("
        + "|".join(sorted(map(re.escape, words), key=len, reverse=True))
        + r")(?![A-Za-z0-9_])"
    )
    found: list[str] = []
    for path in [*ROOT.glob("starter/**/*.py"), *ROOT.glob("activities/*.py"), ROOT / "worker.py"]:
        for line, text in strings_of(path):
            if m := pattern.search(text):
                found.append(f"{path.relative_to(ROOT)}:{line} {m.group(1)!r} in {text[:60]!r}")
    for path in ROOT.glob("starter/templates/*.html"):
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if m := pattern.search(re.sub(r"<[^>]*>", " ", text)):  # text and template code
                found.append(f"{path.relative_to(ROOT)}:{line} {m.group(1)!r}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_a_regulation_declares_what_the_system_needs_of_it(code: str) -> None:
    entry = REGISTRY[code]
    cls = entry.workflow
    # Derived from the class: the Temporal name, models, code.
    assert entry.workflow_name == cls.__temporal_workflow_definition.name
    assert (entry.code, entry.input_model, entry.policy_model) == (
        cls.REGULATION,
        cls.INPUT,
        cls.POLICY,
    )
    # The sandbox passes its forms, labels and people through (they live in its folder).
    folder = cls.__module__.rsplit(".", 1)[0]
    assert folder == f"workflows.regulations.{code.replace('-', '_')}"
    assert set(entry.shared_modules) <= set(worker.shared_workflow_modules())
    # Every outcome and record kind has its words; every role its names and a demo person.
    words = ENGINE_LABELS.over(labels_of())
    for spec in cls._specs.values():
        for outcome in spec.outcomes:
            assert outcome in words.outcomes, (spec.kind, outcome)
        if spec.record is not None:
            assert spec.record.kind in words.records, spec.record.kind
        if spec.role:
            assert spec.role in entry.roles, (spec.kind, spec.role)
    held = {r for p in demo_people() for r in p.roles}
    assert set(entry.roles.names) <= held
    # The clause list names every clause a task or the regulation's events cite.
    cited = {spec.clause.split(" ", 1)[-1] for spec in cls._specs.values() if spec.clause}
    listed = {c.ref for c in entry.clauses}
    assert cited <= listed, cited - listed


def test_the_organisation_is_the_regulations_roles_and_people() -> None:
    book = roles_of()
    for entry in REGISTRY.values():
        for code, names in entry.roles.names.items():
            assert book.names[code] == names
    ids = [p.id for p in demo_people()]
    assert len(ids) == len(set(ids)) and ids[0] == "admin"
