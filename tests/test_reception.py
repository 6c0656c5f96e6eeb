"""R9 `reception` — 客户接待业绩归属管理规定. The attribution rules (rules.py) as pure functions at
every boundary; then the sales office's case on the time-skipping server (one case per test):
the rotation under make-up turns, leave and public customers, the immutable register and
ownership, deals and their splits, grabbing, hard cases, the monthly statement."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from store import models
from tests import helpers
from tests.helpers import (
    STAFF,
    case_worker,
    complete,
    eventually,
    open_task,
    penalties,
    records,
    refused,
    rows,
    skip,
    state,
)
from workflows.model import CHINA_TZ, Actor
from workflows.regulations.reception import rules
from workflows.regulations.reception.clauses import ReceptionWorkflow
from workflows.regulations.reception.forms import (
    CallInput,
    DealInput,
    GrabInput,
    HardCaseInput,
    LeaveInput,
    MakeupInput,
    OfficeInput,
    ReceptionPolicy,
    StatementInput,
    VisitInput,
    WalkInInput,
)
from workflows.regulations.reception.rules import CustomerKey

ASYNC = pytest.mark.asyncio(loop_scope="session")

D0 = date(2026, 3, 1)
A = Actor(id="sales9a", roles=["staff"])
B = Actor(id="sales9b", roles=["staff"])
MANAGER = Actor(id="salesmgr9", roles=["sales_manager"])


def day(n: int) -> date:
    return D0 + timedelta(days=n)


# ---- the rules, pure ----------------------------------------------------------------------------


def test_4_any_one_of_name_phone_or_car_with_surname_matches() -> None:
    wang = CustomerKey("王建国", "13800000001", "大众", "粤B12345")
    assert rules.match_basis(wang, CustomerKey(full_name="王建国")) == "full_name"
    assert rules.match_basis(wang, CustomerKey("王先生", "138 0000 0001")) == "phone"
    assert rules.match_basis(wang, CustomerKey("王太", "", "大众", "粤b12345")) == "car"
    # the car needs brand, plate and surname together
    assert rules.match_basis(wang, CustomerKey("李太", "", "大众", "粤B12345")) is None
    assert rules.match_basis(wang, CustomerKey("王太", "", "丰田", "粤B12345")) is None
    assert rules.match_basis(CustomerKey(), CustomerKey()) is None  # empty never matches


def test_17_a_deal_is_a_deposit_and_a_signed_subscription() -> None:
    assert rules.is_deal(True, True)
    assert not rules.is_deal(True, False) and not rules.is_deal(False, True)


def test_9_same_visit_split_is_20_80_in_exact_yuan() -> None:
    d = rules.same_visit_split("helper", "original")
    assert d.shares == (("helper", Decimal("0.2")), ("original", Decimal("0.8")))
    assert d.clause == "R9 9" and "占20%" in d.rule and "占80%" in d.rule
    assert d.owner == "original"
    assert rules.split_amounts(Decimal("1000"), d.shares) == [Decimal("200.00"), Decimal("800.00")]
    assert rules.split_amounts(Decimal("333.33"), d.shares) == [
        Decimal("66.67"),
        Decimal("266.66"),
    ]
    assert rules.same_visit_split("x", "x").shares == (("x", Decimal(1)),)


def test_10_a_referral_conflict_is_checked_within_7_days() -> None:
    assert not rules.referral_conflict(day(0), day(7)).new_customer  # day 7: handed over
    assert rules.referral_conflict(day(0), day(8)).new_customer  # day 8: rotation stands
    assert rules.referral_conflict(day(0), day(7)).clause == "R9 10"


def test_14_a_family_visit_after_more_than_30_days_is_new() -> None:
    assert not rules.family_visit(day(0), day(30)).new_customer
    assert rules.family_visit(day(0), day(31)).new_customer
    # counted from the deal when there was one later
    assert not rules.family_visit(day(0), day(50), last_deal=day(20)).new_customer
    assert rules.family_visit(day(0), day(51), last_deal=day(20)).new_customer
    assert rules.family_visit(day(0), day(31)).clause == "R9 14"


def test_15_unknowingly_served_after_more_than_60_days_is_new() -> None:
    assert not rules.unknowingly_served(day(0), day(60)).new_customer
    assert rules.unknowingly_served(day(0), day(61)).new_customer
    assert "60" in rules.unknowingly_served(day(0), day(61)).rule


def test_16_found_within_3_days_splits_50_50_later_the_closer_keeps_it() -> None:
    half = Decimal("0.5")
    d3 = rules.discovered_after_deal("c", "o", day(0), day(10), day(13))
    assert d3.shares == (("c", half), ("o", half)) and d3.clause == "R9 16"
    assert rules.split_amounts(Decimal("0.01"), d3.shares) == [Decimal("0.01"), Decimal("0.00")]
    assert rules.split_amounts(Decimal("1234.57"), d3.shares) == [
        Decimal("617.29"),
        Decimal("617.28"),
    ]
    d4 = rules.discovered_after_deal("c", "o", day(0), day(10), day(14))
    assert d4.shares == (("c", Decimal(1)),) and "4" in d4.rule
    # a deal more than 60 days after the original registration is a new customer's
    d60 = rules.discovered_after_deal("c", "o", day(0), day(60), day(61))
    d61 = rules.discovered_after_deal("c", "o", day(0), day(61), day(62))
    assert d60.shares == (("c", half), ("o", half)) and not d60.new_customer
    assert d61.shares == (("c", Decimal(1)),) and d61.new_customer


def test_13_grabbing_cancels_the_commission_and_the_fine_is_200_to_500() -> None:
    d = rules.grabbing("g")
    assert d.shares == () and d.clause == "R9 13" and "取消" in d.rule
    low, high = Decimal(200), Decimal(500)
    assert not rules.fine_in_range(Decimal("199.99"), low, high)
    assert rules.fine_in_range(low, low, high) and rules.fine_in_range(high, low, high)
    assert not rules.fine_in_range(Decimal("500.01"), low, high)


def test_18_a_group_purchase_earns_no_commission() -> None:
    d = rules.group_purchase("c")
    assert d.shares == () and d.clause == "R9 18" and d.owner is None


def test_3_leave_is_not_a_make_up_reason_and_21_there_is_no_edit() -> None:
    with pytest.raises(ValidationError):
        MakeupInput(actor=STAFF, person="staff", reason="sick")  # type: ignore[arg-type]
    names = {a.name for a in ReceptionWorkflow.ACTIONS}
    assert not {n for n in names if "edit" in n or "delete" in n or "update" in n}


# ---- the office case ----------------------------------------------------------------------------


async def start_office(
    env: Any, queue: str, policy: ReceptionPolicy | None = None, office: str = "XD1"
) -> Any:
    inp = OfficeInput(office_id=office, office_name="西堤国际售楼处", sales_manager="salesmgr9",
                      roster=["staff", "sales9a", "sales9b"])  # fmt: skip
    return await helpers.start_case(env, queue, "reception", inp, policy, started_by="salesmgr9")


async def summary(h: Any, key: str, expected: Any) -> Any:
    """The case's summary value `key` once it is `expected` (the summary follows the step)."""
    view = await eventually(lambda: state(h), lambda v: v.summary.get(key) == expected)
    return view.summary.get(key)


async def walk_in(h: Any, public: str | None = None) -> str:
    return await h.execute_update("walk_in", WalkInInput(actor=MANAGER, public=public),
                                  result_type=str)  # fmt: skip


async def visit(h: Any, actor: Actor, **data: Any) -> dict[str, Any]:
    return await h.execute_update("register_visit", VisitInput(actor=actor, **data),
                                  result_type=dict)  # fmt: skip


async def deal(h: Any, actor: Actor, **data: Any) -> dict[str, Any]:
    data = {"deposit_paid": True, "subscription_signed": True, **data}
    return await h.execute_update("record_deal", DealInput(actor=actor, **data), result_type=dict)


@ASYNC
async def test_1_2_3_7_the_rotation_with_make_up_turns_leave_and_public_customers(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_office(env, queue)
        assert [await walk_in(h), await walk_in(h)] == ["staff", "sales9a"]  # 1 in order
        # 2 张晓明 received his own returning customer: a make-up turn, served first.
        await h.execute_update("makeup_turn", MakeupInput(actor=STAFF, person="staff",
                                                          reason="own_returning"))  # fmt: skip
        await refused(h.execute_update("makeup_turn", MakeupInput(
            actor=STAFF, person="sales9b", reason="helped")), "Forbidden")  # fmt: skip
        assert await walk_in(h) == "staff"  # the make-up turn
        assert await walk_in(h) == "sales9b"  # then the rotation goes on
        # 7 a public customer: received in order, the queue does not move.
        rotation = ["staff", "sales9a", "sales9b"]
        assert await summary(h, "queue", rotation) == rotation
        assert await walk_in(h, "peer") == "staff"
        assert await summary(h, "queue", rotation) == rotation
        assert await walk_in(h) == "staff"
        # 3 林晓燕 on sick leave: her turn passes, and no make-up for it.
        today = (await env.get_current_time()).astimezone(CHINA_TZ).date()
        await h.execute_update("leave", LeaveInput(actor=MANAGER, person="sales9a", kind="sick",
                                                   day=today))  # fmt: skip
        assert await walk_in(h) == "sales9b"
        assert await summary(h, "queue", rotation) == rotation
        assert await walk_in(h) == "staff"
        assert await summary(h, "queue", ["sales9a", "sales9b", "staff"])
        view = await state(h)
        assert view.summary["makeup"] == []
        passed = [e for e in view.events if e.kind == "turn_passed"]
        assert [(e.detail["person"], e.clause) for e in passed] == [("sales9a", "R9 3")]
        # 7 found public afterwards: the receiver gets a make-up turn.
        await h.execute_update("makeup_turn", MakeupInput(actor=MANAGER, person="sales9b",
                                                          reason="public_after"))  # fmt: skip
        assert await walk_in(h) == "sales9b"
        served = {"staff": 4, "sales9a": 1, "sales9b": 3}
        assert await summary(h, "served", served) == served


@ASYNC
async def test_4_5_15_21_the_register_decides_ownership_and_is_never_edited(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_office(env, queue, office="XD2")
        first = await visit(h, STAFF, customer_name="王建国", phone="13800000001",
                            car_brand="大众", car_plate="粤B12345", intent="三房")  # fmt: skip
        assert (first["owner"], first["clause"]) == ("staff", "R9 4")
        await refused(visit(h, A, intent="看看"), "Invalid", "a name, a phone")
        # 5 a call belongs to whoever answered
        call = await h.execute_update("register_call", CallInput(
            actor=B, customer_name="赵女士", phone="13900000002"), result_type=dict)  # fmt: skip
        assert (call["owner"], call["clause"]) == ("sales9b", "R9 5")
        # 15 day 60: 林晓燕 served him unknowingly (matched by phone): he is still 张晓明's.
        await skip(env, timedelta(days=60))
        again = await visit(h, A, customer_name="王先生", phone="13800000001")
        assert (again["owner"], again["clause"]) == ("staff", "R9 15")
        # 12(1) the caller walks in and asks for nobody: the reception keeps her.
        walked = await visit(h, A, customer_name="赵女士")
        assert (walked["owner"], walked["clause"]) == ("sales9a", "R9 12(1)")
        # 21 a correction is a new entry; the first stays as it was.
        fix = await visit(h, STAFF, customer_name="王建国", phone="13800000009",
                          car_brand="大众", car_plate="粤B12345", corrects=1)  # fmt: skip
        assert fix["clause"] == "R9 21" and fix["entry_no"] == 5
        regs = await records(session_factory, "reception-XD2", "visit_register", 4)
        assert regs[0].data["phone"] == "13800000001" and regs[-1].data["corrects"] == 1
        await refused(visit(h, STAFF, customer_name="x", corrects=2), "Invalid", "corrects")
        # day 61 (by the first entry's date): 高志鹏 finds him by car + surname: a new customer.
        await skip(env, timedelta(days=1))
        new = await visit(h, B, customer_name="王太", car_brand="大众", car_plate="粤B12345")
        assert (new["owner"], new["clause"]) == ("sales9b", "R9 15") and "61" in new["rule"]
        # the corrected phone is read, with the first entry's date (day 61: new)
        fixed = await visit(h, B, customer_name="某", phone="13800000009")
        assert fixed["owner"] == "sales9b" and "第 1 号登记" in fixed["rule"]
        # the old phone now names only 林晓燕's entry 3 (day 1 of it): hers
        old = await visit(h, B, customer_name="某", phone="13800000001")
        assert old["owner"] == "sales9a" and "第 3 号登记" in old["rule"]
        # 13 knowingly: handed back
        back = await visit(h, A, customer_name="赵女士", knowingly=True)
        assert back["owner"] == "sales9a"  # 林晓燕's own entry 4 (the call yielded to her)
        rows_ = await records(session_factory, "reception-XD2", "visit_register", 8)
        assert all(r.data["clause"] and r.data["rule"] for r in rows_)


@ASYNC
async def test_9_13_16_17_18_20_deals_their_splits_grabbing_and_hard_cases(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_office(env, queue, office="XD3")
        await visit(h, STAFF, customer_name="王建国", phone="13800000001")
        await refused(deal(h, A, customer_name="王建国", way="same_visit", commission_yuan="1000",
                           subscription_signed=False), "Invalid", "17")  # fmt: skip
        # 9 张晓明 absent, 林晓燕 served and closed on that visit: 20 / 80.
        d1 = await deal(h, A, customer_name="王建国", way="same_visit", commission_yuan="333.33")
        assert d1["clause"] == "R9 9"
        assert d1["amounts"] == {"sales9a": "66.67", "staff": "266.66"}
        # 16 found two days after the deal: 50 / 50.
        today = (await env.get_current_time()).astimezone(CHINA_TZ).date()
        d2 = await deal(h, B, phone="13800000001", customer_name="王建国", way="discovered",
                        commission_yuan="1234.57", deal_day=today - timedelta(days=2))  # fmt: skip
        assert d2["clause"] == "R9 16"
        assert d2["amounts"] == {"sales9b": "617.29", "staff": "617.28"}
        # 16 found four days after: the closer keeps it.
        d3 = await deal(h, B, customer_name="王建国", way="discovered", commission_yuan="500",
                        deal_day=today - timedelta(days=4))  # fmt: skip
        assert d3["amounts"] == {"sales9b": "500.00"}
        # 18 a group purchase: no commission.
        d4 = await deal(h, A, customer_name="团购单位", way="group", commission_yuan="800")
        assert (d4["clause"], d4["amounts"]) == ("R9 18", {})
        ledger = await penalties(session_factory, "reception-XD3", 5)
        assert sum(r.amount_yuan for r in ledger) == Decimal("2067.90")
        assert all(r.kind == "commission" and r.clause.startswith("R9") for r in ledger)
        # 13 grabbing: 高志鹏's commission of deal 3 cancelled; the fine is the manager's, 200–500.
        await refused(h.execute_update("report_grabbing", GrabInput(
            actor=A, deal_no=3, grabber="sales9b", facts="x")), "Forbidden")  # fmt: skip
        await h.execute_update("report_grabbing", GrabInput(
            actor=MANAGER, deal_no=3, grabber="sales9b", facts="明知是张晓明的客户仍继续接待"))  # fmt: skip
        task = await open_task(h, "grab_fine")
        assert (task.assignee, task.clause) == ("salesmgr9", "R9 13")
        await refused(complete(h, task, MANAGER, "fine", {"amount_yuan": "100"}), "Invalid", "200")
        await refused(complete(h, task, MANAGER, "fine", {"amount_yuan": "501"}), "Invalid", "500")
        await complete(h, task, MANAGER, "fine", {"amount_yuan": "300"})
        ledger = await penalties(session_factory, "reception-XD3", 7)
        cancel = [r for r in ledger if r.id.endswith("/cancel/sales9b")]
        assert [(r.amount_yuan, r.clause) for r in cancel] == [(Decimal("-500.00"), "R9 13")]
        [fine] = [r for r in ledger if r.kind == "fine"]
        assert (fine.party, fine.amount_yuan, fine.clause) == (
            "sales9b",
            Decimal("300.00"),
            "R9 13",
        )
        # 20 a hard case: the sales manager rules, recorded.
        await h.execute_update("hard_case", HardCaseInput(actor=A, question="客户要求转名怎么办"))
        ruling = await open_task(h, "ruling")
        await complete(h, ruling, MANAGER, "ruled", {"ruling": "按第19条，转名须经销售经理申请"})
        [rec] = await records(session_factory, "reception-XD3", "ruling_record", 1)
        assert rec.data["ruling"].startswith("按第19条")
        # the monthly statement: every deal of the month, its share and its clause.
        month = today.strftime("%Y-%m")
        await h.execute_update("statement", StatementInput(actor=MANAGER, month=month))
        stmts = await records(session_factory, "reception-XD3", "commission_statement", 3)
        by = {s.data["person"]: s.data for s in stmts}
        assert by["staff"]["total_yuan"] == "883.94"
        assert by["sales9b"]["total_yuan"] == "617.29"  # deal 3 cancelled
        assert [d["clause"] for d in by["sales9a"]["deals"]] == ["R9 9"]
        deals = await rows(
            session_factory, models.Record, case_id="reception-XD3", kind="deal_record"
        )
        assert [d.data["clause"] for d in sorted(deals, key=lambda r: r.data["deal_no"])] == [
            "R9 9", "R9 16", "R9 16", "R9 18"]  # fmt: skip


@ASYNC
async def test_the_office_case_keeps_its_rotation_and_register_across_continue_as_new(
    local_env, session_factory, clean_db, settings_factory
):
    env = local_env  # continue-as-new on the dev server (the time-skipping one stalls around it)
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start_office(env, queue, ReceptionPolicy(continue_as_new_after_events=40), "XD4")
        await visit(h, STAFF, customer_name="王建国", phone="13800000001")
        await h.execute_update("makeup_turn", MakeupInput(actor=A, person="sales9a",
                                                          reason="other_work"))  # fmt: skip
        got = [await walk_in(h) for _ in range(12)]
        assert got[0] == "sales9a" and got[1:4] == ["staff", "sales9a", "sales9b"]
        # The run continues as new at the next quiet point (every write stored).
        view = await eventually(lambda: state(h), lambda v: v.run > 1, within=30)
        assert view.run > 1
        got += [await walk_in(h) for _ in range(3)]  # the next run goes on with the queue
        # the rotation went on in order across the runs (sales9a's make-up turn first)
        rotation = ["staff", "sales9a", "sales9b"]
        assert got[1:] == [rotation[i % 3] for i in range(len(got) - 1)]
        counts = {p: got.count(p) for p in rotation}
        view = await eventually(lambda: state(h), lambda v: v.summary.get("served") == counts)
        assert view.summary["served"] == counts and view.summary["entries"] == 1
        again = await visit(h, B, customer_name="王建国")
        assert (again["owner"], again["clause"]) == ("staff", "R9 15")
