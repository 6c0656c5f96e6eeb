"""The approvals block: one person approves a chain once. On the test regulation
(tests/blocks_regulation.py), the joint key-use chain needs 物业 and 保安; a person holding both
roles approves one step and is refused on the other, which another person must approve."""

from __future__ import annotations

import pytest

from tests.blocks_regulation import BlocksInput
from tests.helpers import case_worker, complete, refused, start_case, state
from workflows.model import Actor

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_one_person_holding_two_roles_approves_a_joint_chain_once(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    both = Actor(id="both", roles=["property_manager", "security_supervisor"])
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(
            env, queue, "blocks", BlocksInput(customer_id="ONCE1", units=["key"], deposit_yuan="0")
        )
        view = await state(h)
        first, second = [t for t in view.tasks if t.kind == "key_approval"]
        await complete(h, first, both, "approve", {"note": "同意"})
        await refused(complete(h, second, both, "approve", {}), "Forbidden", "already approved")
        other = Actor(id="sec2", roles=[second.role or ""])
        await complete(h, second, other, "approve", {"note": "同意"})
        events = [e.kind for e in (await state(h)).events]
        assert "key_use_approved" in events
