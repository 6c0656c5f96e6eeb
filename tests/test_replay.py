"""Replay safety: committed histories of R1 cases must replay on the current code, so a change
that would break running cases fails the suite (regulation changes go through
`workflow.patched`). A deliberately changed workflow must be caught."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
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


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def replayed() -> dict[str, BaseException | None]:
    """Every committed history replayed by one replayer (one worker: the sandbox validates the
    workflows once, not once per history), each history's failure or None by file stem."""
    workflows = [*(e.workflow for e in TEST_REGISTRY.values()), *EXTRA_WORKFLOWS]

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for path in HISTORIES:
            yield load(path)

    failures: list[BaseException | None] = []
    async with replayer(workflows).workflow_replay_iterator(histories()) as results:
        async for result in results:
            failures.append(result.replay_failure)
    assert len(failures) == len(HISTORIES)
    return {path.stem: failure for path, failure in zip(HISTORIES, failures, strict=True)}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_committed_history_replays(path: Path, replayed: dict[str, BaseException | None]):
    """Replayed as the worker runs it: the sandbox and the assertion verifier (with the tests'
    key), so a change to either that would break a running case fails here. The histories
    include one recorded by the code before messages were signed (revisit-O1, ca5ef89)."""
    failure = replayed[path.stem]
    if failure is not None:
        raise failure


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
