"""The engine's gaps found writing R5 (complaints), closed one by one and each tested here on
the test regulation (tests/blocks_regulation.py): the time-skipping server with the real
activities and PostgreSQL, one case per test; declarations that are refused when a class is
defined are tested without a server."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.engine import CaseWorkflow
from workflows.model import TaskState
from workflows.spec import after, on_breach

# The tests on a server (declarations are tested without one).
on_server = pytest.mark.asyncio(loop_scope="session")


# ---- gap 4: on_breach of several kinds; one method per handler slot ----------------------------


def test_on_breach_takes_several_kinds() -> None:
    class Two(CaseWorkflow):
        @on_breach("a", "b")
        def _late(self, task: TaskState) -> None: ...

    assert Two._handlers[("breach", "a")] is Two._handlers[("breach", "b")] is Two._late


def test_two_methods_for_one_handler_slot_are_refused() -> None:
    with pytest.raises(TypeError, match=r"_one and _two are both marked @after\('x'\)"):

        class Clash(CaseWorkflow):
            @after("x")
            def _one(self, task: TaskState) -> None: ...

            @after("y", "x")
            def _two(self, task: TaskState) -> None: ...

    class Base(CaseWorkflow):
        @after("x")
        def _one(self, task: TaskState) -> None: ...

    with pytest.raises(TypeError, match="_one and _other"):

        class Sub(Base):  # another method for the slot the base's method holds
            @after("x")
            def _other(self, task: TaskState) -> None: ...


def test_a_subclass_overriding_a_handler_method_takes_its_slot() -> None:
    class Base(CaseWorkflow):
        @after("x")
        def _one(self, task: TaskState) -> None: ...

    class Marked(Base):
        @after("x")
        def _one(self, task: TaskState) -> None: ...

    class Plain(Base):
        def _one(self, task: TaskState) -> Any: ...  # not marked again: keeps the slot

    assert Marked._handlers[("after", "x")] is Marked._one
    assert Plain._handlers[("after", "x")] is Plain._one
    assert Base._handlers[("after", "x")] is Base._one
