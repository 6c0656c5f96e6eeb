"""R1 4.3(2)3): the customer signs the on-site record only when the visit was made; a visit
where the customer could not be reached (联系不上) is completed without their signature."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import (
    STAFF,
    case_worker,
    complete,
    open_task,
    skip,
    sleep_to,
    state,
)
from tests.test_revisit import PLAN, start_case
from workflows.model import Deadline
from workflows.regulations.revisit.forms import RevisitPolicy

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_4_3_2_3_unreachable_onsite_visit_needs_no_customer_signature(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    policy = RevisitPolicy(
        first_phone_after=Deadline(months=3),
        onsite_every={"regular": None, "large": None, "key": Deadline(months=1)},
    )
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, customer_class="key", policy=policy, customer="K8")
        await complete(h, await open_task(h, "plan"), STAFF, data=PLAN)
        await skip(env, timedelta(days=25))
        appt = await open_task(h, "appointment")
        when = appt.due_at + timedelta(hours=2)
        await complete(h, appt, STAFF, "agreed", {"appointment_at": when.isoformat()})
        visit = await open_task(h, "visit")
        assert visit.data["onsite"]
        await sleep_to(env, when)
        done = await complete(h, visit, STAFF, "unreachable", {"note": "客户机房无人，电话未接"})
        assert done.status == "done" and done.outcome == "unreachable"
        assert (await state(h)).summary["visits_missed"] == 1
