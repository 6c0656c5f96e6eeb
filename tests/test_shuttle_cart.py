"""R3 `shuttle-cart` — 客户看楼车（电瓶车）管理规定, clause by clause on the time-skipping server
with the real activities writing to a real PostgreSQL. One case (one cart) per test."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from store import models
from tests import helpers
from tests.helpers import (
    STAFF,
    SUPERVISOR,
    case_worker,
    complete,
    eventually,
    open_task,
    penalties,
    records,
    refused,
    rows,
    sleep_to,
    state,
)
from workflows.calendar import is_working_day
from workflows.model import CHINA_TZ, Actor
from workflows.regulations.shuttle_cart.forms import (
    AssignDriverInput,
    CartInput,
    CartPolicy,
    FaultInput,
    TripInput,
    ViolationInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

DRIVER = Actor(id="driver", roles=["driver"])
TECH = Actor(id="tech", roles=["technician"])
CASE = "shuttle-cart-EC1"
ALL_OK = {"brakes_ok": True, "steering_ok": True, "battery_ok": True, "tyres_ok": True,
          "lights_ok": True, "safety_rules_read": True}  # fmt: skip
CARED = {"charged": True, "battery_water_ok": True, "brakes_ok": True, "steering_ok": True,
         "cleaned": True}  # fmt: skip


def china(dt: datetime) -> datetime:
    return dt.astimezone(CHINA_TZ)


def at_china(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), CHINA_TZ)


async def start_cart(
    env: Any, queue: str, policy: CartPolicy | None = None, cart: str = "EC1"
) -> tuple[Any, date]:
    """The cart put into service at 06:00 China time of the next day; its case and that day."""
    day = china(await env.get_current_time()).date() + timedelta(days=1)
    await sleep_to(env, at_china(day, 6))
    inp = CartInput(cart_id=cart, cart_name="1号电瓶车", driver="driver", seats=8)
    h = await helpers.start_case(env, queue, "shuttle-cart", inp, policy, started_by="supervisor")
    return h, day


async def trip(h: Any, actor: Actor, passengers: int = 3) -> str:
    return await h.execute_update("trip", TripInput(actor=actor, passengers=passengers),
                                  result_type=str)  # fmt: skip


async def day_check(h: Any, day: date, **data: Any) -> None:
    task = await open_task(h, "pre_trip_check")
    assert task.data["day"] == day.isoformat()
    await complete(h, task, DRIVER, data={**ALL_OK, **data})


async def events(h: Any, kind: str) -> list[Any]:
    return [e for e in (await state(h)).events if e.kind == kind]


async def test_3_1_one_fixed_driver_and_a_trip_by_anyone_else_is_refused_as_lending(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h, day = await start_cart(env, queue)
        [reg] = await records(session_factory, CASE, "cart_register", 1)
        assert (reg.data["driver"], reg.data["cart_name"]) == ("driver", "1号电瓶车")
        # 4.2 不得转借: 张晓明 takes the cart: refused, recorded on the driver's account (5.2).
        assert await trip(h, STAFF) == "refused"
        [lend] = await records(session_factory, CASE, "lending_record", 1)
        assert (lend.data["driver"], lend.data["taken_by"]) == ("driver", "staff")
        [row] = await penalties(session_factory, CASE, 1)
        assert (row.party, row.clause, row.kind) == ("driver", "R3 5.2", "criticism")
        assert "一切后果由当班司机负责" in row.rule
        view = await state(h)
        assert view.summary["lendings"] == 1 and view.summary["trips"] == 0
        # 3.1 only the supervisor changes the register: a new entry, the old one kept.
        change = AssignDriverInput(actor=DRIVER, driver="tech", reason="x")
        await refused(h.execute_update("assign_driver", change), "Forbidden")
        await h.execute_update("assign_driver", AssignDriverInput(
            actor=SUPERVISOR, driver="driver", reason="司机续任"))  # fmt: skip
        regs = await records(session_factory, CASE, "cart_register", 2)
        assert regs[-1].data["previous"] == reg.id


async def test_3_2_the_pre_trip_check_comes_before_the_first_trip_of_every_day(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h, day = await start_cart(env, queue)
        await sleep_to(env, at_china(day, 7, 1))
        task = await open_task(h, "pre_trip_check")
        assert (task.assignee, task.clause, task.data["day"]) == ("driver", "R3 3.2", str(day))
        assert task.due_at == at_china(day, 9)
        assert "禁止超载" in task.data["safety_rules"]  # 4.x on the driver's own task
        await refused(trip(h, DRIVER), "Conflict", "pre-trip check is not done")
        await refused(complete(h, task, DRIVER, data={**ALL_OK, "safety_rules_read": False}),
                      "Invalid", "safety rules")  # fmt: skip
        await day_check(h, day)
        [rec] = await records(session_factory, CASE, "pre_trip_record", 1)
        assert rec.data["brakes_ok"] is True and rec.data["day"] == str(day)
        assert await trip(h, DRIVER) == "ok"
        assert await trip(h, DRIVER) == "ok"  # first trip of the day only (the default)
        await refused(trip(h, DRIVER, passengers=9), "Invalid", "seats")
        # The next day's check opens at 07:00 and again comes before the first trip.
        await sleep_to(env, at_china(day + timedelta(days=1), 7, 1))
        await eventually(lambda: state(h), lambda v: any(
            t.kind == "pre_trip_check" and t.status == "open" for t in v.tasks))  # fmt: skip
        await refused(trip(h, DRIVER), "Conflict", "pre-trip check is not done")
        assert (await state(h)).summary["trips"] == 2


async def test_3_2_every_trip_policy_needs_a_check_before_each_trip(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h, day = await start_cart(env, queue, CartPolicy(check_before="every_trip"))
        await sleep_to(env, at_china(day, 7, 1))
        await day_check(h, day)
        assert await trip(h, DRIVER) == "ok"
        await refused(trip(h, DRIVER), "Conflict", "pre-trip check is not done")
        await day_check(h, day)
        assert await trip(h, DRIVER) == "ok"


async def test_3_2_a_fault_blocks_the_cart_until_it_is_repaired(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h, day = await start_cart(env, queue, cart="EC2")
        await sleep_to(env, at_china(day, 7, 1))
        await day_check(h, day, brakes_ok=False, fault="刹车偏软")
        [fault] = await records(session_factory, "shuttle-cart-EC2", "fault_report", 1)
        assert fault.data["fault"] == "刹车：刹车偏软"
        repair = await open_task(h, "repair")
        assert (repair.role, repair.clause) == ("technician", "R3 3.2")
        await refused(trip(h, DRIVER), "Conflict", "open fault")
        assert (await state(h)).summary["blocked"] is True
        # A fault reported during the day blocks it as well; both must be repaired.
        await h.execute_update("report_fault", FaultInput(actor=DRIVER, text="右前灯不亮"))
        await complete(h, repair, TECH, "repaired", {"work": "更换刹车片", "cost_yuan": "120"})
        await refused(trip(h, DRIVER), "Conflict", "F2")
        await complete(h, await open_task(h, "repair"), TECH, "repaired", {"work": "换灯泡"})
        assert await trip(h, DRIVER) == "ok"
        assert len(await records(session_factory, "shuttle-cart-EC2", "repair_record", 2)) == 2
        # An ordinary repair is the company's cost: nothing on the driver's account.
        assert await rows(session_factory, models.LedgerEntry, case_id="shuttle-cart-EC2") == []


async def test_3_3_the_end_of_day_care_and_a_missed_check_is_a_breach_to_the_supervisor(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h, day = await start_cart(env, queue, cart="EC3")
        # The pre-trip check is not made by 09:00: a breach, told to the supervisor.
        await sleep_to(env, at_china(day, 9, 1))
        [missed] = await eventually(lambda: events(h, "check_missed"), bool)
        assert missed.clause == "R3 3.2" and missed.detail["day"] == str(day)
        [breach] = await events(h, "breach")
        key = f"{breach.detail['task_id']}/breach/0/role:supervisor"
        notes = await eventually(
            lambda: rows(session_factory, models.Notification, case_id="shuttle-cart-EC3"),
            lambda ns: any(n.key.startswith(key) for n in ns),
        )
        assert any(n.key.startswith(key) and "【超时】出车前例行检查" in n.subject for n in notes), [
            (n.key, n.subject) for n in notes]  # fmt: skip
        await day_check(h, day)  # late, but made
        # 3.3 at 17:30 the end-of-day care: charging, battery water, brakes, steering, clean.
        await sleep_to(env, at_china(day, 17, 31))
        care = await open_task(h, "end_of_day_care")
        assert care.due_at == at_china(day, 20, 30) and care.clause == "R3 3.3"
        await complete(h, care, DRIVER, data=CARED)
        [rec] = await records(session_factory, "shuttle-cart-EC3", "end_of_day_record", 1)
        assert rec.data["charged"] and rec.data["cleaned"]
        # The next day nothing is done: both duties breach; the day after cancels them.
        nxt = day + timedelta(days=1)
        await sleep_to(env, at_china(nxt + timedelta(days=1), 7, 1))
        missed = await eventually(lambda: events(h, "check_missed"), lambda m: len(m) == 3)
        assert [m.clause for m in missed] == ["R3 3.2", "R3 3.2", "R3 3.3"]
        view = await state(h)
        assert view.summary["checks_missed"] == 3
        cancelled = [t for t in view.tasks if t.status == "cancelled"]
        assert [t.data["day"] for t in cancelled] == [str(nxt)]
        assert [t.kind for t in cancelled] == ["pre_trip_check"]


async def test_3_2_rest_days_as_the_policy_says(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h, day = await start_cart(env, queue, CartPolicy(on_rest_days=False))
        cal = helpers.library_calendar(await env.get_current_time())
        while is_working_day(cal, day)[0]:
            day += timedelta(days=1)
        await sleep_to(env, at_china(day, 7, 1))
        rest = await eventually(lambda: events(h, "rest_day"),
                                lambda es: any(e.detail["day"] == str(day) for e in es))  # fmt: skip
        assert any(e.detail["day"] == str(day) for e in rest)
        view = await state(h)
        assert not [t for t in view.tasks if t.status == "open" and t.data.get("day") == str(day)]


async def test_5_1_damage_from_a_violation_is_booked_to_the_driver(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h, day = await start_cart(env, queue, None, "EC4")
        await sleep_to(env, at_china(day, 7, 1))
        await day_check(h, day)
        await violation_damage_and_injury(h, session_factory, "shuttle-cart-EC4")
        assert await trip(h, DRIVER) == "ok"  # repaired: the cart runs again


async def violation_damage_and_injury(h: Any, session_factory: Any, case_id: str) -> None:
    """A lending refused; speeding damages the cart (a fault until the repair, its cost charged
    to the driver); a guest hurt getting off before the cart stopped (charged at once)."""
    assert await trip(h, STAFF) == "refused"  # a lending
    await refused(h.execute_update("report_violation", ViolationInput(
        actor=DRIVER, rule="speeding", text="x")), "Forbidden")  # fmt: skip
    await h.execute_update("report_violation", ViolationInput(
        actor=SUPERVISOR, rule="speeding", text="下坡超速撞上花坛", damage=True))  # fmt: skip
    await refused(trip(h, DRIVER), "Conflict", "open fault")
    await complete(h, await open_task(h, "repair"), TECH, "repaired",
                   {"work": "更换前保险杠", "cost_yuan": "350.50"})  # fmt: skip
    await h.execute_update("report_violation", ViolationInput(
        actor=SUPERVISOR, rule="unseated", text="未停稳落客", injury=True,
        cost_yuan=Decimal("800")))  # fmt: skip
    rows_ = await penalties(session_factory, case_id, 3)
    charges = sorted((r.amount_yuan, r.clause, r.party) for r in rows_ if r.kind == "charge")
    assert charges == [(Decimal("350.50"), "R3 5.1", "driver"),
                       (Decimal("800.00"), "R3 5.1", "driver")]  # fmt: skip
    assert all("不得报销" in r.rule for r in rows_ if r.kind == "charge")
    [_, v2] = await records(session_factory, case_id, "violation_record", 2)
    assert (v2.data["rule"], v2.data["injury"]) == ("unseated", True)


async def test_5_1_the_lending_and_the_charges_survive_continue_as_new(
    local_env, session_factory, clean_db, settings_factory
):
    """On the dev server (the time-skipping server stalls around continue-as-new on a loaded
    machine): a run that reaches its event limit continues as new with the cart's lending,
    charges and faults."""
    env = local_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        inp = CartInput(cart_id="EC5", cart_name="5号电瓶车", driver="driver", seats=8)
        h = await helpers.start_case(env, queue, "shuttle-cart", inp,
                                     CartPolicy(continue_as_new_after_events=40),
                                     started_by="supervisor")  # fmt: skip
        await violation_damage_and_injury(h, session_factory, "shuttle-cart-EC5")
        view = await eventually(lambda: state(h), lambda v: v.run > 1, within=60)
        assert view.run > 1
        assert view.summary["lendings"] == 1 and view.summary["charged_yuan"] == "1150.50"
        assert view.summary["blocked"] is False and view.summary["driver"] == "driver"
        assert await trip(h, STAFF) == "refused"  # the fixed driver, still
        view = await eventually(lambda: state(h), lambda v: v.summary["lendings"] == 2)
        assert view.summary["lendings"] == 2
