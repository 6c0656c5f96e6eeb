"""Replay safety: committed histories of R1 cases must replay on the current code, so a change
that would break running cases fails the suite (regulation changes go through
`workflow.patched`). A deliberately changed workflow must be caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.workflow import NondeterminismError

from tests.helpers import EXTRA_WORKFLOWS, TEST_REGISTRY, replayer
from workflows.model import CaseStart
from workflows.regulations.revisit.clauses import RevisitWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """Files are named `<regulation>_<workflow id>_run<N>.json` (or `..._run<N>.<tag>.json`: a
    case recorded again with later code); the id must be the case's own, since task ids inside
    the history are derived from it."""
    workflow_id = path.stem.split("_", 1)[1].rsplit("_run", 1)[0]
    return WorkflowHistory.from_json(workflow_id, path.read_text())


async def test_there_are_committed_histories_of_every_regulation():
    # The production regulations and the building-block test regulation (tests/blocks_regulation).
    assert {p.name.split("_")[0] for p in HISTORIES} >= set(TEST_REGISTRY)


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_committed_history_replays(path: Path):
    """Replayed as the worker runs it: the sandbox and the assertion verifier (with the tests'
    key), so a change to either that would break a running case fails here. The histories
    include one recorded by the code before messages were signed (revisit-O1, ca5ef89)."""
    workflows = [*(e.workflow for e in TEST_REGISTRY.values()), *EXTRA_WORKFLOWS]
    await replayer(workflows).replay_workflow(load(path))


@workflow.defn(name="zhidu.revisit")
class ChangedRevisit(RevisitWorkflow):
    """R1 with the plan step removed, as a careless change would do."""

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        self._catch_up()
        self._schedule_next()


async def test_a_changed_regulation_is_caught():
    path = next(p for p in HISTORIES if p.name.startswith("revisit"))
    with pytest.raises(NondeterminismError):
        await replayer([ChangedRevisit]).replay_workflow(load(path))
