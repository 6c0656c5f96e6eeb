"""R10 `vehicle` — 车辆安全管理规定: the money rules (pure, at and above every cap and
allowance) and the fleet case on the time-skipping server with the real activities writing to a
real PostgreSQL. One case per workflow test."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from store import models
from tests import helpers
from tests.helpers import (
    case_worker,
    complete,
    eventually,
    eventually_rows,
    open_task,
    penalties,
    records,
    refused,
    rows,
    skip,
    sleep_to,
    state,
)
from workflows.model import CHINA_TZ, Actor
from workflows.regulations.vehicle import rules
from workflows.regulations.vehicle.forms import (
    AccidentInput,
    BreachInput,
    DispatchInput,
    EngineSeizureInput,
    FuelReceiptInput,
    GrantLicenceInput,
    PurchaseInput,
    RepairInput,
    VehicleInput,
    VehiclePolicy,
)
from workflows.regulations.vehicle.rules import (
    DEFAULT_FUEL_STANDARDS,
    DEFAULT_LIABILITY,
    BreachFines,
    LiabilityShare,
    Rewards,
)

aio = pytest.mark.asyncio(loop_scope="session")

D = Decimal
DIRECTOR = Actor(id="director", roles=["director"])
FLEET = Actor(id="fleet", roles=["fleet_leader"])
OFFICE = Actor(id="vehoffice", roles=["vehicle_office"])
MGR = Actor(id="vehmgroffice", roles=["vehicle_mgr_office"])
DRIVER = Actor(id="driver", roles=["driver"])
DRIVER2 = Actor(id="vehdriver2", roles=["driver"])


# ---- the money rules, pure ------------------------------------------------------------------


def test_3_1_dongnan_allows_14_litres_and_16_from_july_to_september() -> None:
    dongnan = DEFAULT_FUEL_STANDARDS["dongnan"]
    assert [rules.allowance(dongnan, m) for m in (6, 7, 8, 9, 10)] == [
        D("14.0"), D("16.0"), D("16.0"), D("16.0"), D("14.0")
    ]  # fmt: skip
    with pytest.raises(ValueError):
        rules.allowance(dongnan, 13)


def test_3_1_wuling_allows_10_litres_every_month_september_too() -> None:
    wuling = DEFAULT_FUEL_STANDARDS["wuling"]
    assert {rules.allowance(wuling, m) for m in range(1, 13)} == {D("10.0")}
    assert rules.allowance(wuling, 9) == rules.allowance(wuling, 10) == D("10.0")


def test_3_4_fuel_account_at_the_allowance_is_not_fined_above_it_is_in_full() -> None:
    october = rules.allowance(DEFAULT_FUEL_STANDARDS["dongnan"], 10)
    at = rules.fuel_account(D("140"), D("1000"), october, D("7.80"))
    assert (at.allowed_litres, at.excess_litres, at.fine_yuan, at.over) == (
        D("140.00"), D("0.00"), D("0.00"), False
    )  # fmt: skip
    assert at.consumption == D("14.00")
    above = rules.fuel_account(D("140.01"), D("1000"), october, D("7.80"))
    assert (above.excess_litres, above.fine_yuan) == (D("0.01"), D("0.08"))  # 0.078 half-up
    much = rules.fuel_account(D("150"), D("1000"), october, D("7.80"))
    assert (much.excess_litres, much.fine_yuan, much.consumption) == (
        D("10.00"), D("78.00"), D("15.00")
    )  # fmt: skip
    # The same 150 litres on a September day are within the summer allowance.
    september = rules.allowance(DEFAULT_FUEL_STANDARDS["dongnan"], 9)
    assert rules.fuel_account(D("150"), D("1000"), september, D("7.80")).fine_yuan == D("0.00")
    assert rules.fuel_account(D("160.5"), D("1000"), september, D("8")).fine_yuan == D("4.00")
    # Fuel bought with no km on the log: all of it is excess.
    idle = rules.fuel_account(D("20"), D("0"), october, D("7.50"))
    assert (idle.consumption, idle.excess_litres, idle.fine_yuan) == (None, D("20.00"), D("150.00"))
    assert rules.average_price(D("780.00"), D("100")) == D("7.80")
    assert rules.average_price(D("0"), D("0")) == D("0.00")


def test_4_3_liability_shares_at_and_above_each_cap() -> None:
    t = DEFAULT_LIABILITY
    full_below, full_at, full_above = (rules.compensation("full", D(c), t)
                                       for c in ("4000", "4285.71", "5000"))  # fmt: skip
    assert (full_below.amount_yuan, full_below.capped) == (D("2800.00"), False)
    assert (full_at.amount_yuan, full_at.capped) == (D("3000.00"), False)  # 2999.997
    assert (full_above.by_share_yuan, full_above.amount_yuan, full_above.capped) == (
        D("3500.00"), D("3000.00"), True
    )  # fmt: skip
    eq_at, eq_above = (
        rules.compensation("equal", D("3000"), t),
        rules.compensation("equal", D("3000.02"), t),
    )
    assert (eq_at.amount_yuan, eq_at.capped) == (D("1500.00"), False)
    assert (eq_above.by_share_yuan, eq_above.amount_yuan, eq_above.capped) == (
        D("1500.01"), D("1500.00"), True
    )  # fmt: skip
    mi_at, mi_above = (
        rules.compensation("minor", D("3333.33"), t),
        rules.compensation("minor", D("4000"), t),
    )
    assert (mi_at.amount_yuan, mi_at.capped) == (D("1000.00"), False)  # 999.999
    assert (mi_above.amount_yuan, mi_above.capped) == (D("1000.00"), True)
    # Main liability: the text left the cap blank, so no cap until a company sets one.
    main = rules.compensation("main", D("100000"), t)
    assert (main.cap_yuan, main.amount_yuan, main.capped) == (None, D("60000.00"), False)
    assert "最高额未设定" in main.rule_zh({"main": "主要责任"})
    capped = {**t, "main": LiabilityShare(share=D("0.60"), cap_yuan=D("2000"))}
    at_cap = rules.compensation("main", D("3333.33"), capped)
    above_cap = rules.compensation("main", D("3333.35"), capped)
    assert (at_cap.amount_yuan, at_cap.capped) == (D("2000.00"), False)  # 1999.998
    assert (above_cap.amount_yuan, above_cap.capped) == (D("2000.00"), True)  # 2000.01
    assert rules.compensation("none", D("5000"), t).amount_yuan == D("0.00")
    assert full_above.rule_zh({"full": "全部责任"}) == (
        "因公交通事故负全部责任：费用 5000.00 元 × 70%（最高 3000.00 元）= 3500.00 元，按上限 3000.00 元"
    )
    assert rules.percent(D("0.5")) == "50%" and rules.percent(D("0.125")) == "12.5%"


def test_4_1_4_8_4_9_breach_fines_by_kind_and_position() -> None:
    f = BreachFines()
    assert rules.breach_fine("private_use", "director", f) == D("200.00")
    assert rules.breach_fine("private_use", "deputy_director", f) == D("200.00")
    assert rules.breach_fine("private_use", "driver", f) == D("100.00")
    assert rules.breach_fine("passengers", "driver", f) == D("100.00")
    assert rules.breach_fine("detour", "director", f) == D("200.00")
    assert rules.breach_fine("overnight_home", "driver", f) == D("300.00")
    assert rules.breach_fine("drinking", "driver", f) == D("200.00")
    assert rules.breach_fine("parked_outside", "driver", f) == D("100.00")
    assert rules.repeat_sanction("driver") == "dismissal"
    assert rules.repeat_sanction("deputy_director") == "demotion"
    with pytest.raises(ValueError):
        rules.breach_fine("speeding", "driver", f)


def test_4_12_safe_driving_reward_and_mileage_subsidy() -> None:
    r = Rewards()
    assert rules.safe_driving_reward(False, True, r) == D("100.00")
    assert rules.safe_driving_reward(True, True, r) == D("150.00")
    assert rules.safe_driving_reward(True, False, r) == D("0.00")
    assert rules.mileage_subsidy(D("1000"), r) == D("0.40")  # 10 × 4 分
    assert rules.mileage_subsidy(D("2500"), r) == D("1.00")
    assert rules.mileage_subsidy(D("1234"), r) == D("0.49")  # 0.4936
    assert rules.mileage_subsidy(D("12.5"), r) == D("0.01")  # 0.005 half-up
    assert rules.mileage_subsidy(D("0"), r) == D("0.00")


# ---- the fleet case -----------------------------------------------------------------------------


def fleet(**extra: Any) -> VehicleInput:
    return VehicleInput.model_validate({
        "fleet_id": "F1", "director": "director", "fleet_leader": "fleet",
        "drivers": [{"driver": "driver", "licence_no": "SG-001"}, {"driver": "vehdriver2"}],
        "vehicles": [{"plate": "闽A-10001", "model": "dongnan", "driver": "driver"},
                     {"plate": "闽A-20002", "model": "wuling", "driver": "vehdriver2"}],
        **extra})  # fmt: skip


async def start(env: Any, queue: str, policy: VehiclePolicy | None = None, **extra: Any) -> Any:
    return await helpers.start_case(env, queue, "vehicle", fleet(**extra), policy,
                                    started_by="director")  # fmt: skip


def dispatch(actor: Actor = DIRECTOR, **extra: Any) -> DispatchInput:
    return DispatchInput.model_validate({
        "actor": actor, "plate": "闽A-10001", "driver": "driver", "purpose": "配送卷烟",
        "route": "仓库—城关片区—仓库", "odometer_out": "12000.0", **extra})  # fmt: skip


@aio
async def test_1_2_no_trip_without_a_licence_the_office_records_the_passed_assessment(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="LIC")
        second = dispatch(driver="vehdriver2", plate="闽A-20002", odometer_out="500")
        await refused(h.execute_update("dispatch_trip", second), "Forbidden", "上岗证")
        grant = GrantLicenceInput(actor=DIRECTOR, driver="vehdriver2", score=92, licence_no="SG-2")
        await refused(h.execute_update("grant_licence", grant), "Forbidden")
        grant.actor = OFFICE
        await h.execute_update("grant_licence", grant)
        (lic,) = await records(session_factory, h.id, "licence", 1)
        assert (lic.data["driver"], lic.data["score"], lic.data["licence_no"]) == (
            "vehdriver2", 92, "SG-2"
        )  # fmt: skip
        task_id = await h.execute_update("dispatch_trip", second)
        ret = await open_task(h, "trip_return")
        assert (ret.id, ret.assignee, ret.clause) == (task_id, "vehdriver2", "R10 一.4")
        (order,) = await records(session_factory, h.id, "dispatch_order", 1)
        assert order.data["licence_no"] == "SG-2"


@aio
async def test_1_4_every_trip_dispatched_by_the_director_and_logged_out_and_in(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="LOG")
        # Only the case's director dispatches: not the fleet leader, not a driver.
        await refused(h.execute_update("dispatch_trip", dispatch(FLEET)), "Forbidden")
        await refused(h.execute_update("dispatch_trip", dispatch(DRIVER)), "Forbidden")
        await refused(h.execute_update("dispatch_trip", dispatch(plate="闽Z-99999")), "Invalid")
        await h.execute_update("dispatch_trip", dispatch())
        (order,) = await records(session_factory, h.id, "dispatch_order", 1)
        assert {k: order.data[k] for k in ("plate", "driver", "purpose", "route",
                                           "odometer_out", "dispatched_by")} == {
            "plate": "闽A-10001", "driver": "driver", "purpose": "配送卷烟",
            "route": "仓库—城关片区—仓库", "odometer_out": "12000.0", "dispatched_by": "director"}  # fmt: skip
        # The vehicle is out: not dispatched twice.
        await refused(h.execute_update("dispatch_trip", dispatch()), "Conflict", "is out on a trip")
        ret = await open_task(h, "trip_return")
        due = ret.due_at.astimezone(CHINA_TZ)
        assert (due.hour, due.minute) == (0, 0) and due > ret.created_at  # end of the day
        await refused(complete(h, ret, DRIVER2, "returned", {"odometer_in": "12100"}), "Forbidden")
        await refused(
            complete(h, ret, DRIVER, "returned", {"odometer_in": "11999.9"}),
            "Invalid",
            "below the odometer out",
        )
        await complete(h, ret, DRIVER, "returned", {"odometer_in": "12086.5"})
        (log,) = await records(session_factory, h.id, "trip_log", 1)
        assert {k: log.data[k] for k in ("plate", "driver", "purpose", "route", "odometer_out",
                                         "odometer_in", "dispatched_by")} == {
            "plate": "闽A-10001", "driver": "driver", "purpose": "配送卷烟",
            "route": "仓库—城关片区—仓库", "odometer_out": "12000.0", "odometer_in": "12086.5",
            "dispatched_by": "director"}  # fmt: skip
        view = await eventually(lambda: state(h), lambda v: v.summary.get("trips_logged") == 1)
        assert view.summary["on_trip"] == []
        # Back in: it may go again, but not from below the odometer it came back with.
        await refused(h.execute_update("dispatch_trip", dispatch()), "Invalid", "12086.5")
        await h.execute_update("dispatch_trip", dispatch(odometer_out="12086.5"))


@aio
async def test_1_4_a_trip_not_logged_back_by_the_end_of_the_day_is_told_to_the_director(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="LATE")
        await h.execute_update("dispatch_trip", dispatch())
        ret = await open_task(h, "trip_return")
        await skip(env, ret.due_at - await env.get_current_time() + timedelta(minutes=1))
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id),
            lambda ns: {"director", "fleet"} <= {n.recipient for n in ns if "breach" in n.key},
        )
        told = {n.recipient for n in notes if "breach" in n.key}
        assert {"director", "fleet"} <= told, [(n.key, n.recipient) for n in notes]


@aio
async def test_4_1_breach_fines_and_the_repeat_proposal(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="BR")
        day = date(2026, 11, 3)

        def breach(party: str, position: str, kind: str, actor: Actor = FLEET) -> BreachInput:
            return BreachInput(actor=actor, party=party, position=position, kind=kind,
                               occurred_on=day, plate="闽A-10001", note="群众举报")  # fmt: skip

        await refused(h.execute_update("report_breach", breach("driver", "driver", "private_use",
                                                               DRIVER)), "Forbidden")  # fmt: skip
        await h.execute_update("report_breach", breach("driver", "driver", "private_use"))
        await h.execute_update("report_breach", breach("director", "director", "private_use",
                                                       OFFICE))  # fmt: skip
        await h.execute_update("report_breach", breach("vehdriver2", "driver", "drinking"))
        await h.execute_update("report_breach", breach("vehdriver2", "driver", "parked_outside"))
        fines = await penalties(session_factory, h.id, 4)
        got = sorted((f.party, f.amount_yuan, f.clause) for f in fines)
        assert got == [("director", D("200.00"), "R10 四.1"), ("driver", D("100.00"), "R10 四.1"),
                       ("vehdriver2", D("100.00"), "R10 四.8"),
                       ("vehdriver2", D("200.00"), "R10 四.9")]  # fmt: skip
        assert not await rows(session_factory, models.Record, case_id=h.id,
                              kind="discipline_proposal")  # fmt: skip
        notes = await eventually_rows(session_factory, models.Notification, None, case_id=h.id)
        assert any(n.recipient == "director" and "四.8" in n.body for n in notes)
        # The driver's second private-use-type breach: 300 元 and a dismissal proposal.
        await h.execute_update("report_breach", breach("driver", "driver", "overnight_home"))
        fines = await penalties(session_factory, h.id, 5)
        assert D("300.00") in {f.amount_yuan for f in fines if f.party == "driver"}
        approval = await open_task(h, "discipline_approval")
        assert approval.role == "vehicle_mgr_office"
        (proposal,) = await records(session_factory, h.id, "discipline_proposal", 1)
        assert (proposal.data["party"], proposal.data["kind"]) == ("driver", "dismissal")
        await complete(h, approval, MGR, "approve", {"note": "同意辞退"})
        (entry,) = await eventually_rows(session_factory, models.DisciplineEntry, 1,
                                         case_id=h.id)  # fmt: skip
        assert (entry.party, entry.kind, entry.clause) == ("driver", "dismissal", "R10 四.1")
        # The director's second: a transfer (调离岗位).
        await h.execute_update("report_breach", breach("director", "director", "detour", OFFICE))
        await eventually(
            lambda: state(h),
            lambda v: (
                len([t for t in v.tasks if t.kind == "discipline_approval" and t.status == "open"])
                == 1
            ),
        )
        recs = await records(session_factory, h.id, "discipline_proposal", 2)
        assert {(r.data["party"], r.data["kind"]) for r in recs} == {
            ("driver", "dismissal"),
            ("director", "demotion"),
        }


@aio
async def test_4_2_to_4_7_accidents_shares_private_use_concealment_two_in_a_year_seizure(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="ACC")

        def accident(liability: str, cost: str, on: date, **extra: Any) -> AccidentInput:
            return AccidentInput.model_validate({
                "actor": OFFICE, "driver": "driver", "plate": "闽A-10001", "occurred_on": on,
                "liability": liability, "cost_yuan": cost, "description": "路口追尾",
                **extra})  # fmt: skip

        await h.execute_update("report_accident", accident("full", "5000", date(2026, 1, 10)))
        await h.execute_update("report_accident", accident("minor", "3000", date(2026, 2, 10)))
        (full, minor) = sorted(await penalties(session_factory, h.id, 2), key=lambda r: r.id)
        assert (full.kind, full.amount_yuan, full.clause) == ("charge", D("3000.00"), "R10 四.3")
        assert "70%" in full.rule and "按上限 3000.00 元" in full.rule
        assert minor.amount_yuan == D("900.00")
        assert not await rows(session_factory, models.Record, case_id=h.id,
                              kind="discipline_proposal")  # fmt: skip
        # The second accident of main liability or worse within a year: no cap, and dismissal.
        await h.execute_update("report_accident", accident("main", "10000", date(2026, 12, 20)))
        charges = await penalties(session_factory, h.id, 3)
        main = next(c for c in charges if c.id.endswith("accident/3/liability"))
        assert main.amount_yuan == D("6000.00") and "最高额未设定" in main.rule
        recs = await records(session_factory, h.id, "accident_report", 3)
        assert {r.data["main_cap_yuan"] for r in recs} == {"未设定（原文空白，公司尚未设定）"}
        (proposal,) = await records(session_factory, h.id, "discipline_proposal", 1)
        assert (proposal.data["kind"], proposal.data["clause"]) == ("dismissal", "R10 四.5")
        # 四.2 an accident in private use: every yuan is the driver's.
        await h.execute_update(
            "report_accident",
            accident("equal", "2400", date(2026, 12, 21), driver="vehdriver2", private_use=True),
        )
        # 四.7 concealed: a fine, and with serious consequences a dismissal proposal.
        await h.execute_update("report_accident", accident(
            "minor", "100", date(2026, 12, 22), driver="vehdriver2", concealed=True,
            serious=True))  # fmt: skip
        rows_ = await penalties(session_factory, h.id, 6)
        by_id = {r.id.split("/ledger/")[1]: r for r in rows_}
        assert (by_id["accident/4/private"].amount_yuan, by_id["accident/4/private"].clause) == (
            D("2400.00"),
            "R10 四.2",
        )
        assert (by_id["accident/5/concealed"].kind, by_id["accident/5/concealed"].amount_yuan) == (
            "fine",
            D("200.00"),
        )
        # 四.4 an engine seized from neglect: the overhaul and dismissal.
        await h.execute_update("report_engine_seizure", EngineSeizureInput(
            actor=FLEET, driver="vehdriver2", plate="闽A-20002", overhaul_cost_yuan=D("8600"),
            cause="长期未检查机油，缺机油"))  # fmt: skip
        rows_ = await penalties(session_factory, h.id, 7)
        seizure = next(r for r in rows_ if "/seizure/" in r.id)
        assert (seizure.kind, seizure.amount_yuan, seizure.clause) == (
            "charge",
            D("8600.00"),
            "R10 四.4",
        )
        recs = await records(session_factory, h.id, "discipline_proposal", 3)
        assert sorted(r.data["clause"] for r in recs) == ["R10 四.4", "R10 四.5", "R10 四.7"]
        async with session_factory() as s:
            n = await s.scalar(select(models.Task).where(models.Task.case_id == h.id).limit(1))
        assert n is not None


# ---- 二 maintenance ------------------------------------------------------------------------------

MATERIALS = [
    {"part": "水泵总成", "quantity": "1", "price_yuan": "460.00", "big_part": True},
    {"part": "冷却液", "quantity": "4", "price_yuan": "120.00"},
]


async def approve(h: Any, kind: str, actor: Actor, role: str) -> None:
    task = await open_task(h, kind)
    assert task.role == role, (task.kind, task.role)
    await complete(h, task, actor, "approve", {"note": "同意"})
    await eventually(lambda: state(h), lambda v: all(
        t.id != task.id or t.status != "open" for t in v.tasks))  # fmt: skip


def open_kinds(view: Any) -> list[str]:
    return sorted(t.kind for t in view.tasks if t.status == "open")


@aio
async def test_2_2_to_2_6_a_repair_reported_approved_repaired_at_the_designated_garage_settled(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="REP")
        repair = RepairInput(
            actor=DRIVER, plate="闽A-10001", fault="水温过高", estimate_yuan=D(600)
        )
        await refused(h.execute_update("request_repair", repair.model_copy(
            update={"actor": FLEET})), "Forbidden")  # fmt: skip
        await h.execute_update("request_repair", repair)
        (form,) = await records(session_factory, h.id, "repair_request", 1)
        assert (form.data["driver"], form.data["fault"]) == ("driver", "水温过高")
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id=h.id, recipient="director"),
            lambda ns: any("报修" in n.subject for n in ns),
        )
        assert any("报修" in n.subject for n in notes)
        # 二.3 reported to the director, approved by the office (fleet): not to the garage before.
        assert "garage_repair" not in open_kinds(await state(h))
        await approve(h, "repair_approval", DIRECTOR, "director")
        assert "garage_repair" not in open_kinds(await state(h))
        await approve(h, "repair_approval", OFFICE, "vehicle_office")
        garage = await open_task(h, "garage_repair")
        assert (garage.assignee, garage.clause) == ("driver", "R10 二.2")
        done = {"garage": "城东汽修店", "work": "更换水泵", "materials": MATERIALS}
        await refused(complete(h, garage, DRIVER, "done", done), "Invalid", "designated garage")
        await complete(h, garage, DRIVER, "done", {**done, "garage": "公司指定特约维修厂"})
        (mats,) = await records(session_factory, h.id, "repair_materials", 1)
        sigs = await eventually_rows(session_factory, models.Signature, 1, record_id=mats.id)
        assert [(s.signer, s.role) for s in sigs] == [("driver", "driver")]
        # 二.2 the big part's old one to the office; 二.5 the fleet leader settles.
        inspection = await open_task(h, "parts_inspection")
        assert inspection.role == "vehicle_office" and inspection.data["big_parts"] == ["水泵总成"]
        settle = await open_task(h, "garage_settlement")
        assert settle.assignee == "fleet"
        await complete(h, settle, FLEET, "done", {"invoice_no": "FP-0091", "amount_yuan": "580.00",
                                                 "items_checked": True})  # fmt: skip
        await approve(h, "repair_bill_approval", OFFICE, "vehicle_office")
        await approve(h, "repair_bill_approval", MGR, "vehicle_mgr_office")
        await complete(h, inspection, OFFICE, "parts_returned", {"note": "旧水泵已收回"})
        view = await eventually(lambda: state(h), lambda v: not open_kinds(v))
        assert not open_kinds(view)
        events = await eventually_rows(session_factory, models.Event, None, case_id=h.id,
                                       kind="repair_settled")  # fmt: skip
        assert events and events[0].detail["approved"] is True


@aio
async def test_2_3_an_emergency_repair_by_phone_owes_the_form_within_one_working_day(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="EMR")
        await h.execute_update("request_repair", RepairInput(
            actor=DRIVER, plate="闽A-10001", fault="途中刹车失灵", estimate_yuan=D(300),
            emergency=True))  # fmt: skip
        await open_task(h, "garage_repair")  # to the garage at once
        form = await open_task(h, "repair_form")
        assert (form.assignee, form.clause) == ("driver", "R10 二.3")
        assert timedelta(days=1) <= form.due_at - form.created_at <= timedelta(days=5)

        def breached(ns: list[Any]) -> bool:
            return any("breach" in n.key and n.recipient == "director" for n in ns)

        await skip(env, form.due_at - await env.get_current_time() - timedelta(minutes=5))
        notes = await rows(session_factory, models.Notification, case_id=h.id)
        assert not breached(notes)
        await skip(env, timedelta(minutes=10))
        notes = await eventually(lambda: rows(session_factory, models.Notification, case_id=h.id),
                                 breached)  # fmt: skip
        assert breached(notes)
        assert {n.recipient for n in notes if "breach" in n.key} >= {
            "director",
            "role:vehicle_office",
        }
        # Filled in late, it is checked by the office alone (the director approved by phone).
        await complete(h, form, DRIVER, "done", {"fault": "刹车总泵漏油", "estimate_yuan": "300"})
        await approve(h, "repair_approval", OFFICE, "vehicle_office")
        await eventually_rows(session_factory, models.Event, 1, case_id=h.id,
                              kind="repair_form_checked")  # fmt: skip


@aio
async def test_2_4_self_maintenance_purchases_need_the_fleet_leader_and_the_director(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="PUR")
        buy = PurchaseInput(actor=DRIVER, plate="闽A-10001",
                            purchases=[{"goods": "机油 4L", "price_yuan": "168.00"}])  # fmt: skip
        await h.execute_update("request_purchase", buy)
        await approve(h, "purchase_approval", FLEET, "fleet_leader")
        await approve(h, "purchase_approval", DIRECTOR, "director")
        (decided,) = await eventually_rows(session_factory, models.Event, 1, case_id=h.id,
                                           kind="purchase_decided")  # fmt: skip
        assert decided.detail["approved"] is True and decided.detail["total_yuan"] == "168.00"
        # Bought on one's own: not reimbursed, nobody is asked.
        await h.execute_update("request_purchase", buy.model_copy(update={"already_bought": True}))
        recs = await records(session_factory, h.id, "purchase_request", 2)
        own = next(r for r in recs if r.data["already_bought"])
        assert "不予报销" in own.data["reimbursable"]
        await eventually_rows(session_factory, models.Event, 1, case_id=h.id,
                              kind="purchase_not_reimbursed")  # fmt: skip
        assert "purchase_approval" not in open_kinds(await state(h))


# ---- the month: 三.4 fuel account, 二.7 assessment, 四.12 rewards -------------------------------


async def trip(h: Any, actor: Actor, plate: str, out: str, back: str) -> None:
    await h.execute_update(
        "dispatch_trip", dispatch(driver=actor.id, plate=plate, odometer_out=out)
    )
    ret = await open_task(h, "trip_return")
    await complete(h, ret, actor, "returned", {"odometer_in": back})
    await eventually(lambda: state(h), lambda v: plate not in v.summary.get("on_trip", [plate]))


@aio
async def test_3_4_2_7_4_12_the_month_closes_fuel_account_assessment_and_rewards(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, fleet_id="MON")
        today = (await env.get_current_time()).astimezone(CHINA_TZ).date()
        month = f"{today.year}-{today.month:02d}"
        await h.execute_update("grant_licence", GrantLicenceInput(
            actor=OFFICE, driver="vehdriver2", score=90, licence_no="SG-2"))  # fmt: skip
        await trip(h, DRIVER, "闽A-10001", "12000", "13000")  # 1000 km
        await trip(h, DRIVER2, "闽A-20002", "500", "1000")  # 500 km
        fuel = FuelReceiptInput(actor=DRIVER, plate="闽A-10001", litres=D(170),
                                amount_yuan=D("1326.00"), station="中石化城关站", bought_on=today)  # fmt: skip
        await h.execute_update("register_fuel", fuel)
        sign = await open_task(h, "fuel_sign")
        assert (sign.assignee, sign.clause) == ("fleet", "R10 三.3")
        await complete(h, sign, FLEET, "fuel_signed", {})
        await approve(h, "fuel_approval", MGR, "vehicle_mgr_office")
        await h.execute_update("register_fuel", fuel.model_copy(update={
            "actor": DRIVER2, "plate": "闽A-20002", "litres": D(40), "amount_yuan": D(300)}))  # fmt: skip
        await complete(
            h, await open_task(h, "fuel_sign"), FLEET, "fuel_refused", {"note": "无发票"}
        )
        (paid,) = await eventually_rows(session_factory, models.Event, 1, case_id=h.id,
                                        kind="fuel_reimbursement")  # fmt: skip
        assert paid.detail["approved"] is True
        await eventually_rows(session_factory, models.Event, 1, case_id=h.id,
                              kind="fuel_not_reimbursed")  # fmt: skip
        await h.execute_update("report_breach", BreachInput(
            actor=FLEET, party="vehdriver2", position="driver", kind="drinking", occurred_on=today))  # fmt: skip
        # 09:00 on the 1st of next month: last month's accounts.
        first = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        close = datetime.combine(first, time(9), CHINA_TZ)
        await sleep_to(env, close - timedelta(minutes=5))
        assert not await rows(session_factory, models.Record, case_id=h.id, kind="fuel_account")
        await sleep_to(env, close + timedelta(minutes=2))
        (acc,) = await records(session_factory, h.id, "fuel_account", 1)
        assert acc.data["month"] == month
        dongnan, wuling = acc.data["vehicles"]
        summer = today.month in (7, 8, 9)
        assert (dongnan["km"], dongnan["litres"], dongnan["price_per_litre_yuan"]) == (
            "1000",
            "170.00",
            "7.80",
        )
        assert dongnan["allowed_per_100km"] == ("16.0" if summer else "14.0")
        assert dongnan["excess_litres"] == ("10.00" if summer else "30.00")
        assert dongnan["fine_yuan"] == ("78.00" if summer else "234.00")
        assert (wuling["km"], wuling["allowed_litres"], wuling["fine_yuan"]) == (
            "500",
            "50.00",
            "0.00",
        )
        ledger = await penalties(session_factory, h.id, 2)
        fine = next(r for r in ledger if "/fuel/" in r.id)
        assert (fine.party, fine.clause, fine.kind) == ("driver", "R10 三.4", "fine")
        assert fine.amount_yuan == D(dongnan["fine_yuan"]) and "全额处罚" in fine.rule
        # 二.7 one assessment per driver, item by item, to pay.
        view = await state(h)
        tasks = [t for t in view.tasks if t.kind == "monthly_assessment" and t.status == "open"]
        assert sorted(t.data["driver"] for t in tasks) == ["driver", "vehdriver2"]
        mine = next(t for t in tasks if t.data["driver"] == "driver")
        assert mine.role == "vehicle_office" and mine.data["plates"] == "闽A-10001"
        assert next(t for t in tasks if t.data["driver"] == "vehdriver2").data["breaches"] == [
            "drinking"
        ]
        await complete(h, mine, OFFICE, "done", {"vehicle_condition": "良好", "deductions": [
            {"item": "车辆清洁不到位", "points": 3}, {"item": "未按规定里程例保", "points": 2}]})  # fmt: skip
        (score,) = await records(session_factory, h.id, "assessment", 1)
        assert (score.data["points_lost"], score.data["score"]) == (5, 95)
        assert "工资" in score.data["pay_note"]
        # 四.12 rewards from the trip log and the registers; 四.13 the fleet, then 经理室.
        (rew,) = await records(session_factory, h.id, "rewards", 1)
        got = {r["person"]: (r["safe"], r["award_yuan"], r["subsidy_yuan"])
               for r in rew.data["people"]}  # fmt: skip
        assert got == {"driver": (True, "100.00", "0.40"), "vehdriver2": (False, "0.00", "0.00"),
                       "fleet": (True, "150.00", "0.00")}  # fmt: skip
        assert rew.data["total_yuan"] == "250.40"
        assert not [r for r in await rows(session_factory, models.LedgerEntry, case_id=h.id)
                    if r.kind == "reward"]  # fmt: skip
        await approve(h, "rewards_approval", FLEET, "fleet_leader")
        await approve(h, "rewards_approval", MGR, "vehicle_mgr_office")
        ledger = await penalties(session_factory, h.id, 5)
        rewards = sorted((r.party, r.amount_yuan) for r in ledger if r.kind == "reward")
        assert rewards == [("driver", D("0.40")), ("driver", D("100.00")), ("fleet", D("150.00"))]
