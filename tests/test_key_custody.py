"""R7 `key-custody` — 客户托管钥匙管理规定: every clause, on the time-skipping server with the
real activities and PostgreSQL. One case per test, named by its clause."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from store import models
from tests.helpers import (
    case_worker,
    complete,
    eventually,
    eventually_rows,
    open_task,
    records,
    refused,
    rows,
    skip,
    start_case,
    state,
)
from workflows.model import Actor
from workflows.regulations.key_custody.forms import KeyCustodyInput, ReturnInput, UseInput

pytestmark = pytest.mark.asyncio(loop_scope="session")

PM = Actor(id="propdept7", roles=["property_dept_manager"])
SEC = Actor(id="security", roles=["security_supervisor"])
BOTH = Actor(id="both7", roles=["property_dept_manager", "security_supervisor"])
KEEPER = Actor(id="keykeeper7", roles=["key_custodian"])
ASSIST = Actor(id="propassist7", roles=["key_assistant"])
GUARD = Actor(id="guard7", roles=["key_guard"])
LEAD = Actor(id="worklead7", roles=["key_work_lead"])
DRAWING = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
HEADS = {"property_dept_manager": PM, "security_supervisor": SEC}


def key(no: str) -> KeyCustodyInput:
    return KeyCustodyInput(key_no=no, customer_name="王先生", room="3-1201",
                           reason="卫生间漏水维修", custodian="keykeeper7")  # fmt: skip


async def both_approve(h: Any, kind: str) -> None:
    for t in [t for t in (await state(h)).tasks if t.kind == kind and t.status == "open"]:
        await complete(h, t, HEADS[t.role or ""], "approve", {"note": "同意"})


async def held(env: Any, queue: str, no: str) -> Any:
    """Handed over, accepted by both heads, sealed S-001 by the custodian."""
    h = await start_case(env, queue, "key-custody", key(no), started_by="propdept7")
    await open_task(h, "key_accept_approval")
    await both_approve(h, "key_accept_approval")
    seal = await open_task(h, "seal_key")
    await complete(h, seal, KEEPER, "key_sealed", {"seal_no": "S-001", "box_slot": "A3"})
    return h


async def opened(h: Any) -> None:
    """A use approved by both heads, collected and opened by the assistant and a guard."""
    await h.execute_update("request_use", UseInput(
        actor=ASSIST, work="更换卫生间防水", assistant="propassist7", guard="guard7",
        work_lead="worklead7"))  # fmt: skip
    await open_task(h, "key_use_approval")
    await both_approve(h, "key_use_approval")
    await complete(
        h, await open_task(h, "key_collect"), ASSIST, "opened", {"seal_no_seen": "S-001"}
    )
    await complete(h, await open_task(h, "key_open_guard"), GUARD, "opened",
                   {"seal_no_seen": "S-001"})  # fmt: skip


async def test_2_key_accepted_only_with_both_heads_one_person_never_both_then_sealed(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_case(env, queue, "key-custody", key("K1"), started_by="propdept7")
        await open_task(h, "key_accept_approval")
        tasks = [t for t in (await state(h)).tasks if t.kind == "key_accept_approval"]
        assert sorted(t.role for t in tasks) == ["property_dept_manager", "security_supervisor"]
        pm_task = next(t for t in tasks if t.role == "property_dept_manager")
        sec_task = next(t for t in tasks if t.role == "security_supervisor")
        await refused(complete(h, sec_task, PM, "approve", {}), "Forbidden")  # a missing approver
        await complete(h, pm_task, BOTH, "approve", {"note": "同意"})
        await refused(complete(h, sec_task, BOTH, "approve", {}), "Forbidden", "already approved")
        assert not [t for t in (await state(h)).tasks if t.kind == "seal_key"]  # one is not both
        await complete(h, sec_task, SEC, "approve", {"note": "同意"})
        seal = await open_task(h, "seal_key")
        assert seal.assignee == "keykeeper7"
        await refused(complete(h, seal, Actor(id="k2", roles=["key_custodian"]), "key_sealed",
                               {"seal_no": "S-001", "box_slot": "A3"}), "Forbidden")  # fmt: skip
        await complete(h, seal, KEEPER, "key_sealed", {"seal_no": "S-001", "box_slot": "A3"})
        [reg] = await records(session_factory, h.id, "key_register", 1)
        assert reg.data["seal_no"] == "S-001" and reg.data["custodian"] == "keykeeper7"
        [hand] = await records(session_factory, h.id, "key_handover", 1)
        sigs = await eventually_rows(session_factory, models.Signature, 2, record_id=hand.id)
        assert sorted(s.signer for s in sigs) == ["both7", "security"]
        assert (await state(h)).summary["status"] == "held"


async def test_3_weekly_audit_checks_the_seal_and_a_discrepancy_is_an_incident_for_both_heads(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await held(env, queue, "K2")
        [reg] = await records(session_factory, h.id, "key_register", 1)
        await skip(env, timedelta(days=6, hours=23))
        assert not [t for t in (await state(h)).tasks if t.kind == "key_audit"]
        await skip(env, timedelta(hours=1, minutes=1))
        audit = await open_task(h, "key_audit")
        assert audit.data["week"] == 1 and audit.data["seal_no"] == "S-001"
        await complete(h, audit, ASSIST, "checked", {"seal_no_seen": "S-001", "seal_intact": True})
        assert not [t for t in (await state(h)).tasks if t.kind == "key_incident"]
        await skip(env, timedelta(days=7))
        audit2 = await open_task(h, "key_audit")
        assert audit2.data["week"] == 2
        await complete(h, audit2, ASSIST, "checked", {"seal_no_seen": "S-009", "seal_intact": True})
        view = await state(h)
        incidents = [t for t in view.tasks if t.kind == "key_incident"]
        assert sorted(t.role for t in incidents) == ["property_dept_manager", "security_supervisor"]
        assert "S-009" in incidents[0].title
        audits = await records(session_factory, h.id, "key_audit", 2)
        assert {a.data["seal_no_seen"] for a in audits} == {"S-001", "S-009"}
        assert reg.created_at + timedelta(days=7) <= audits[0].created_at


async def test_4_to_8_a_use_two_accounts_three_signatures_items_resealed_and_returned_with_chain(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    with pytest.raises(ValidationError):  # 5: two people, not one
        UseInput(actor=ASSIST, work="维修", assistant="propassist7", guard="propassist7",
                 work_lead="worklead7")  # fmt: skip
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await held(env, queue, "K3")
        await h.execute_update("request_use", UseInput(
            actor=ASSIST, work="更换卫生间防水", assistant="propassist7", guard="guard7",
            work_lead="worklead7"))  # fmt: skip
        await open_task(h, "key_use_approval")
        uses = [t for t in (await state(h)).tasks if t.kind == "key_use_approval"]
        await complete(h, uses[0], BOTH, "approve", {})
        await refused(complete(h, uses[1], BOTH, "approve", {}), "Forbidden", "already approved")
        await complete(h, uses[1], HEADS[uses[1].role or ""], "approve", {})
        collect = await open_task(h, "key_collect")
        await refused(complete(h, collect, GUARD, "opened", {"seal_no_seen": "S-001"}), "Forbidden")
        await complete(h, collect, ASSIST, "opened", {"seal_no_seen": "S-001"})
        guard = await open_task(h, "key_open_guard")
        await refused(complete(h, guard, ASSIST, "opened", {"seal_no_seen": "S-001"}), "Forbidden")
        await complete(h, guard, GUARD, "opened", {"seal_no_seen": "S-001"})
        # 7: three signatures before the work; the work is refused while one is missing
        await complete(h, await open_task(h, "entry_sign_security"), GUARD, "sign_off", {})
        await complete(h, await open_task(h, "entry_sign_property"), ASSIST, "sign_off", {})
        work = await open_task(h, "key_work")
        await refused(complete(h, work, ASSIST, "done", {}), "Invalid", "施工负责人")
        await complete(h, await open_task(h, "entry_sign_lead"), LEAD, "sign_off", {})
        [entry] = await records(session_factory, h.id, "entry_form", 1)
        sigs = await eventually_rows(session_factory, models.Signature, 3, record_id=entry.id)
        assert sorted(s.signer for s in sigs) == ["guard7", "propassist7", "worklead7"]
        # 6: items moved need a layout and must be put back
        moved = {"items_moved": [{"name": "沙发", "position": "客厅东墙"}]}
        await refused(complete(h, work, ASSIST, "done", moved), "Invalid", "layout")
        await refused(complete(h, work, ASSIST, "done", {**moved, "layout_drawing": DRAWING}),
                      "Invalid", "restored")  # fmt: skip
        await complete(h, work, ASSIST, "done",
                       {**moved, "layout_drawing": DRAWING, "restored": True})  # fmt: skip
        # 8: resealed jointly with a new seal
        reseal = await open_task(h, "key_reseal")
        await refused(complete(h, reseal, GUARD, "resealed", {"new_seal_no": "S-001"}),
                      "Invalid", "new_seal_no")  # fmt: skip
        await complete(h, reseal, GUARD, "resealed", {"new_seal_no": "S-002"})
        confirm = await open_task(h, "key_reseal_confirm")
        await refused(complete(h, confirm, ASSIST, "confirmed", {"seal_no": "S-003"}), "Invalid")
        await complete(h, confirm, ASSIST, "confirmed", {"seal_no": "S-002"})
        [rs] = await records(session_factory, h.id, "key_reseal", 1)
        sigs = await eventually_rows(session_factory, models.Signature, 2, record_id=rs.id)
        assert sorted(s.signer for s in sigs) == ["guard7", "propassist7"]
        view = await state(h)
        assert view.summary["status"] == "held" and view.summary["seal_no"] == "S-002"
        # the key back to the customer, who signs; the chain of custody in one record
        await h.execute_update("return_to_customer", ReturnInput(actor=KEEPER, note="维修完毕"))
        back = await open_task(h, "key_return")
        await refused(complete(h, back, KEEPER, "returned", {}), "Invalid", "signatures")
        await complete(h, back, KEEPER, "returned", {}, signatures=[
            {"signer_name": "王先生", "method": "drawing", "evidence": DRAWING}])  # fmt: skip
        assert await h.result() == "returned"
        [chain] = await records(session_factory, h.id, "custody_chain", 1)
        steps = [(s["action"], s["seal_no"]) for s in chain.data["steps"]]
        assert steps == [("handed_over", None), ("key_sealed", "S-001"), ("collected", "S-001"),
                         ("resealed", "S-002"), ("returned", None)]  # fmt: skip


async def test_8_key_not_back_by_the_end_of_the_day_is_a_breach_to_both_heads(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await held(env, queue, "K4")
        await opened(h)
        reseal = await open_task(h, "key_reseal")
        assert reseal.due_at is not None
        await skip(env, reseal.due_at - await env.get_current_time() + timedelta(minutes=1))
        [late] = await records(session_factory, h.id, "key_not_returned", 1)
        assert late.data["guard"] == "guard7" and late.data["assistant"] == "propassist7"
        found = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: (
                {"role:property_dept_manager", "role:security_supervisor"}
                <= {n.recipient for n in ns}
            ),
        )
        assert {"role:property_dept_manager", "role:security_supervisor"} <= {
            n.recipient for n in found
        }
        assert "breach" in [e.kind for e in (await state(h)).events]
