"""The engine's gaps found writing R5 (complaints), closed one by one and each tested here on
the test regulation (tests/blocks_regulation.py): the time-skipping server with the real
activities and PostgreSQL, one case per test; declarations that are refused when a class is
defined are tested without a server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import ActivityEnvironment

from activities.signing import Sealer
from activities.store_step import CaseStore
from starter import users
from starter.app import create_app
from store import models, queries
from tests.blocks_regulation import BlocksInput, BlocksPolicy, BlocksWorkflow, ScaledBlocksWorkflow
from tests.helpers import (
    STARTED,
    TEST_REGISTRY,
    case_worker,
    complete,
    ensure_people,
    eventually,
    eventually_rows,
    library_calendar,
    open_task,
    penalties,
    replayer,
    rows,
    skip,
    sleep_to,
    state,
    wait_begun,
)
from tests.test_blocks import DRAWING, STAFF, notes, start
from tests.test_store_step import T0, step
from workflows.authority import may_act
from workflows.engine import FIXED_DEFAULTS, CaseWorkflow, local_text
from workflows.model import (
    Actor,
    CaseMessage,
    CaseStart,
    Deadline,
    DisciplineWrite,
    StepChanges,
    TaskState,
)
from workflows.regulations.revisit.clauses import RevisitWorkflow
from workflows.spec import SCALED_DEFAULTS, OfSpan, TaskSpec, after, on_breach

HEAD = Actor(id="head", roles=["center_head"])

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


# ---- gap 1: a ladder's clock from its start; a level counts from the start or from being told --


@on_server
async def test_a_ladder_counts_from_its_start(ts_env, session_factory, clean_db, settings_factory):
    """An alarm raised 2 minutes after the intake: level 1 is due 5 minutes from the intake when
    it opens (its notice says so; no due is moved afterwards), level 2 (counting from the
    ladder) 10 minutes from the intake, level 3 (counting from being told) 5 minutes after it
    was reached."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "G1", units=[], deposit_yuan="0")
        intake = await env.get_current_time() - timedelta(minutes=2)
        alarm = {"actor": STAFF.model_dump(), "intake_at": intake.isoformat(), "source": "热线"}
        await h.execute_update("raise_alarm", alarm)
        duty = await open_task(h, "alarm_duty")
        assert duty.due_at == intake + timedelta(minutes=5)
        opened = await notes(session_factory, "blocks-G1", "【待办】值班处置")
        assert opened and all(f"截止：{local_text(duty.due_at)}" in n.body for n in opened)

        await sleep_to(env, intake + timedelta(minutes=5, seconds=5))
        center = await open_task(h, "alarm_center")
        assert center.due_at == intake + timedelta(minutes=10)
        await sleep_to(env, intake + timedelta(minutes=10, seconds=5))
        director = await open_task(h, "alarm_director")
        assert director.created_at >= intake + timedelta(minutes=10)
        assert director.due_at - director.created_at == timedelta(minutes=5)
        view = await state(h)
        assert "deadline_moved" not in [e.kind for e in view.events]
        assert [e.detail["level"] for e in view.events if e.kind == "escalated"] == [1, 2, 3]


# ---- gap 2: every level gets the ladder's base data, not the lower level's ---------------------


@on_server
async def test_each_level_gets_the_ladders_base_data(
    ts_env, session_factory, clean_db, settings_factory
):
    """What a level's task gathered (its note, the workflow's keys on it) stays with it: the
    next level gets what `escalate` was given, and its level."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "G2", units=[], deposit_yuan="0")
        now = await env.get_current_time()
        alarm = {"actor": STAFF.model_dump(), "intake_at": now.isoformat(), "source": "网站"}
        await h.execute_update("raise_alarm", alarm)
        duty = await open_task(h, "alarm_duty")
        assert duty.data == {"source": "网站", "level": 1}
        done = await complete(h, duty, STAFF, "escalate", {"note": "需中心处理"})
        assert done.data["note"] == "需中心处理"
        center = await open_task(h, "alarm_center")
        assert center.data == {"source": "网站", "level": 2}
        assert center.title == "中心处置：网站"
        await sleep_to(env, center.due_at + timedelta(seconds=5))  # a breach climbs alike
        director = await open_task(h, "alarm_director")
        assert director.data == {"source": "网站", "level": 3}


# ---- gap 3: end a ladder from outside its levels -----------------------------------------------


@on_server
async def test_end_ladder_from_outside(ts_env, session_factory, clean_db, settings_factory):
    """The matter is settled elsewhere: the open level tasks are cancelled, the written report
    already owed stays open, the timeline says who ended it and why, the @after_ladder handler
    runs and learns it was ended (ladder_ended); nothing climbs any more."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "G3", units=["emergency"], deposit_yuan="0")
        await open_task(h, "notify_department")
        await skip(env, timedelta(minutes=3, seconds=5))
        report24 = await open_task(h, "written_report_24h")
        await open_task(h, "report_company")
        why = {"actor": HEAD.model_dump(), "ladder": "emergency", "reason": "业主自行处理完毕"}
        assert await h.execute_update("stand_down", why) is True
        assert await h.execute_update("stand_down", why) is False  # not running any more
        view = await state(h)
        status = {t.kind: t.status for t in view.tasks}
        assert status == {
            "notify_department": "cancelled",
            "report_company": "cancelled",
            "written_report_24h": "open",
        }
        [ended] = [e for e in view.events if e.kind == "ladder_ended"]
        assert (ended.actor, ended.clause) == ("head", "B 4(2)")
        assert ended.detail == {"ladder": "emergency", "level": 2, "reason": "业主自行处理完毕"}
        [closed] = [e for e in view.events if e.kind == "emergency_closed"]
        assert closed.detail == {"level": 2, "ended": "业主自行处理完毕"}
        assert "ladder_resolved" not in [e.kind for e in view.events]

        await skip(env, timedelta(minutes=10))  # the cancelled level 2 never breaches nor climbs
        view = await state(h)
        assert "report_board" not in {t.kind for t in view.tasks}
        await complete(
            h, report24, Actor(id="dh", roles=["department_head"]), "done", {"content": "书面报告"}
        )
        view = await state(h)
        assert [u.status for u in view.units if u.kind == "emergency"] == ["done"]
        stored = await eventually(
            lambda: rows(session_factory, models.Event, case_id="blocks-G3"),
            lambda evs: "ladder_ended" in [e.kind for e in evs],
        )
        assert "ladder_ended" in [e.kind for e in stored]


# ---- gap 5: task defaults that scale with the deadline -----------------------------------------


def test_the_engines_first_defaults_stay_where_declared_or_not() -> None:
    """The engine's default scales with each deadline; R1 and the test regulation declare the
    fixed defaults they were written with and keep their reminder, lapse and breach notice; a
    spec's own values always win."""
    assert CaseWorkflow.TASK_DEFAULTS is SCALED_DEFAULTS
    assert RevisitWorkflow.TASK_DEFAULTS is BlocksWorkflow.TASK_DEFAULTS is FIXED_DEFAULTS
    for cls, kind in ((RevisitWorkflow, "plan"), (RevisitWorkflow, "archive"),
                      (RevisitWorkflow, "expense_sign"), (BlocksWorkflow, "monthly")):  # fmt: skip
        spec = cls._specs[kind]
        assert (spec.remind, spec.lapse) == ("reminder_before", "lapse_after"), kind
        assert spec.breach.notify == ("role:supervisor",), kind
    assert RevisitWorkflow._specs["review"].breach.notify == ("role:division_leader",)
    assert BlocksWorkflow._specs["fix"].remind is None
    assert BlocksWorkflow._specs["fix"].lapse == Deadline(days=30)
    scaled = ScaledBlocksWorkflow._specs
    assert scaled["quick"].remind == OfSpan(0.25) and scaled["quick"].breach.notify == (
        "task.holder",
    )
    assert scaled["intake"].breach.notify == ("role:center_head", "input.owner")  # its own
    with pytest.raises(ValueError, match="wall-clock"):
        OfSpan(2, at_least=Deadline(working_days=1))


@on_server
async def test_scaled_defaults_on_a_three_minute_task(
    ts_env, session_factory, clean_db, settings_factory
):
    """SCALED_DEFAULTS: a 3-minute task is reminded when three quarters of it have passed,
    lapses three spans (9 minutes) after its due, and its breach is told to its holder only:
    the assignee, or the role when nobody is named."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        h = await env.client.start_workflow(
            "test.blocks_scaled",
            CaseStart(
                input=BlocksInput(customer_id="SC1", units=[], deposit_yuan=0).model_dump(
                    mode="json"
                ),
                policy=BlocksPolicy().model_dump(mode="json"),
                started_by="staff",
                calendar=library_calendar(now),
            ),
            id="blocks-SC1",
            task_queue=queue,
        )
        STARTED.append(h)
        await wait_begun(h)
        quick, anyone = await open_task(h, "quick"), await open_task(h, "quick_any")
        for task in (quick, anyone):
            assert task.due_at - task.created_at == timedelta(minutes=3)
            assert task.remind_at - task.created_at == timedelta(minutes=2, seconds=15)
            assert task.lapse_at - task.due_at == timedelta(minutes=9)
        assert (quick.assignee, anyone.assignee) == ("staff", None)

        await sleep_to(env, quick.remind_at + timedelta(seconds=5))
        reminded = await notes(session_factory, "blocks-SC1", "【提醒】")
        assert not any("【超时】" in n.subject for n in reminded)
        await sleep_to(env, quick.due_at + timedelta(seconds=5))
        found = await eventually(
            lambda: rows(session_factory, models.Notification, case_id="blocks-SC1"),
            lambda ns: sum("【超时】" in n.subject for n in ns) >= 2,
        )
        assert {(n.subject, n.recipient) for n in found if "【超时】" in n.subject} == {
            ("【超时】三分钟答复：测试客户", "staff"),
            ("【超时】三分钟响应：测试客户", "role:staff"),
        }
        assert {t.kind: t.status for t in (await state(h)).tasks} == {
            "quick": "open",
            "quick_any": "open",
        }
        await sleep_to(env, quick.lapse_at + timedelta(seconds=5))
        assert {t.kind: t.status for t in (await state(h)).tasks} == {
            "quick": "lapsed",
            "quick_any": "lapsed",
        }


# ---- gap 6: the person who started the case (首问人) -------------------------------------------


@on_server
async def test_a_task_and_a_notice_for_whoever_started_the_case(
    ts_env, session_factory, clean_db, settings_factory
):
    """`case.started_by` names the first receiver: bob starts the case (its owner is staff), the
    follow-up is his and so is the notice when it is late."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        h = await env.client.start_workflow(
            "test.blocks",
            CaseStart(
                input=BlocksInput(customer_id="F1", units=["first"], deposit_yuan=0).model_dump(
                    mode="json"
                ),
                policy=BlocksPolicy().model_dump(mode="json"),
                started_by="bob",
                calendar=library_calendar(now),
            ),
            id="blocks-F1",
            task_queue=queue,
        )
        STARTED.append(h)
        await wait_begun(h)
        task = await open_task(h, "first_contact")
        assert (task.assignee, task.role) == ("bob", "staff")
        await sleep_to(env, task.due_at + timedelta(seconds=5))
        late = await notes(session_factory, "blocks-F1", "【超时】首问跟进")
        assert {n.recipient for n in late} == {"bob"}
        opened = await notes(session_factory, "blocks-F1", "【待办】首问跟进")
        assert {n.recipient for n in opened} == {"bob"}


# ---- gap 7: a task for a named person, whatever their role -------------------------------------


async def refusal(coro: Any) -> tuple[str, str, str]:
    """An update a validator refuses: its kind, its reason in English and in Chinese."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    cause: Any = info.value.cause
    return cause.type, str(cause.message), cause.details[0]["zh"]


def test_a_personal_task_is_its_persons_alone() -> None:
    assert may_act("", "ann", "ann", [])  # whatever roles she holds
    assert may_act("", "ann", "ann", ["clerk"])
    assert not may_act("", "ann", "bob", ["admin"])  # not an administrator
    assert not may_act("", None, "ann", ["staff"])  # no role, no person: nobody
    assert may_act("staff", None, "ann", ["staff"])  # tasks with a role as before
    with pytest.raises(TypeError, match="'orphan' has neither a role nor a person"):

        class Orphan(CaseWorkflow):
            TASKS = (TaskSpec("orphan", "无人负责", "X 1", ""),)


@on_server
async def test_a_task_for_a_named_person_whatever_their_role(
    ts_env, session_factory, clean_db, settings_factory
):
    """The first receiver's call-back has no role: only bob (who started the case) may do it,
    whatever roles he holds; other staff, a director and an administrator are refused, saying
    why in English and Chinese; it is on bob's work list and nobody else's."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        h = await env.client.start_workflow(
            "test.blocks",
            CaseStart(
                input=BlocksInput(customer_id="F2", units=["first"], deposit_yuan=0).model_dump(
                    mode="json"
                ),
                policy=BlocksPolicy().model_dump(mode="json"),
                started_by="bob",
                calendar=library_calendar(now),
            ),
            id="blocks-F2",
            task_queue=queue,
        )
        STARTED.append(h)
        await wait_begun(h)
        task = await open_task(h, "first_callback")
        assert (task.role, task.assignee) == ("", "bob")
        for other in (
            STAFF,
            Actor(id="dir", roles=["director"]),
            Actor(id="admin", roles=["admin"]),
        ):
            kind, en, zh = await refusal(complete(h, task, other, "done"))
            assert kind == "Forbidden"
            assert f"{other.id} may not complete task {task.id}" in en
            assert "it is bob's own task: only they may act on it" in en
            assert "须由 bob 本人处理" in zh
        stored = await eventually(
            lambda: rows(session_factory, models.Task, id=task.id), lambda found: bool(found)
        )
        assert stored[0].role == ""
        bob, staff = models.User(id="bob", roles=[]), models.User(id="staff", roles=["staff"])
        assert task.id in [t["id"] for t in await queries.my_tasks(session_factory, bob)]
        assert task.id not in [t["id"] for t in await queries.my_tasks(session_factory, staff)]
        assert task.id in [t["id"] for t in await queries.work_list(session_factory, bob)]
        done = await complete(h, task, Actor(id="bob", roles=["clerk"]), "done", {"note": "已回电"})
        assert (done.status, done.closed_by) == ("done", "bob")


# ---- gap 9: checks see the signatures; a signature required by the completion's data ----------


@on_server
async def test_signatures_required_by_the_completion_and_seen_by_checks(
    ts_env, session_factory, clean_db, settings_factory
):
    """The owner's signature is required when the completion says the owner was present, not
    when absent, and never for the outcome its Sign is not for; the check sees the signatures
    sent (the signer must be the contact named)."""
    env = ts_env
    drawing = {"signer_name": "赵女士", "method": "drawing", "evidence": DRAWING}
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "SG1", units=["inspect"], deposit_yuan="0")
        await open_task(h, "inspection")
        first, second, third = [t for t in (await state(h)).tasks if t.kind == "inspection"]
        present = {"customer_present": True, "contact_name": "赵女士", "findings": "正常"}
        kind, en, zh = await refusal(complete(h, first, STAFF, "done", present))
        assert kind == "Invalid" and "the customer must sign 《入户查验记录》" in en
        assert "需要客户在《入户查验记录》上签字" in zh
        wrong = {**drawing, "signer_name": "王五"}
        kind, en, zh = await refusal(complete(h, first, STAFF, "done", present, [wrong]))
        assert kind == "Invalid" and "王五 is not the contact 赵女士" in en
        assert zh == "签字人 王五 不是在场联系人 赵女士"
        await complete(h, first, STAFF, "done", present, [drawing])
        absent = {**present, "customer_present": False}
        await complete(h, second, STAFF, "done", absent)  # absent: no signature needed
        await complete(h, third, STAFF, "refused", {"note": "业主拒绝入户"})  # not for this outcome
        kinds = {t.id: t.status for t in (await state(h)).tasks}
        assert [kinds[t.id] for t in (first, second, third)] == ["done", "done", "done"]
        found = await eventually(
            lambda: rows(session_factory, models.Record, case_id="blocks-SG1"),
            lambda rs: len(rs) == 2,
        )
        assert len(found) == 2  # the refused visit wrote no record
        signed = await eventually(
            lambda: rows(session_factory, models.Signature, case_id="blocks-SG1"), bool
        )
        assert [(s.signer, s.method) for s in signed] == [("赵女士", "drawing")]


# ---- gap 10: one event, by a person's update or by another case's message ----------------------


@on_server
async def test_one_event_by_update_or_by_message(
    ts_env, session_factory, clean_db, settings_factory
):
    """A person's update and another case's message reach the same handler with the same
    effect; the message's actor is the system whatever its payload says, the handler knows the
    sender, the message is handled once per key, and a payload the model refuses is not
    handled but shown."""
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        target = await start(env, queue, "EV1", units=[], deposit_yuan="0")
        sender = await start(env, queue, "EV2", units=[], deposit_yuan="0")
        report = {"actor": STAFF.model_dump(), "ref": "INC-1", "text": "电梯困人"}
        kind, en, _ = await refusal(
            target.execute_update("incident", {**report, "actor": Actor(id="c", roles=["clerk"])})
        )
        assert kind == "Forbidden" and "only staff" in en
        first = await target.execute_update("incident", report)
        forged = {"actor": {"id": "boss", "roles": ["staff"]}, "ref": "INC-2", "text": "水管爆裂"}
        forward = {"actor": STAFF.model_dump(), "target_customer": "EV1", "key": "k1",
                   "payload": forged}  # fmt: skip
        assert await sender.execute_update("forward_incident", forward) == "blocks-EV1"
        await sender.execute_update("forward_incident", forward)  # the same key again
        view = await eventually(
            lambda: state(target),
            lambda v: len([t for t in v.tasks if t.kind == "incident_followup"]) == 2,
        )
        await eventually(
            lambda: rows(session_factory, models.Event, case_id="blocks-EV2"),
            lambda evs: sum(e.kind == "message_sent" for e in evs) == 2,
        )
        await skip(env, timedelta(seconds=5))
        view = await state(target)
        by_person, by_case = [t for t in view.tasks if t.kind == "incident_followup"]
        assert by_person.id == first
        assert (by_person.title, by_case.title) == ("事件跟进：INC-1", "事件跟进：INC-2")
        for t in (by_person, by_case):  # the same effect
            assert (t.role, t.status, t.due_at - t.created_at) == (
                "staff",
                "open",
                timedelta(hours=24),
            )
        assert by_case.data == {"ref": "INC-2", "text": "水管爆裂"}
        units = {u.data["ref"]: u.data for u in view.units if u.kind == "incident"}
        assert units["INC-1"] == {"ref": "INC-1", "reported_by": "staff", "via": None}
        assert units["INC-2"] == {"ref": "INC-2", "reported_by": "system", "via": "blocks-EV2"}
        received = [e for e in view.events if e.kind == "message_received"]
        assert [(e.detail["key"], e.detail["handled"]) for e in received] == [("k1", True)]

        bad = CaseMessage(key="k2", name="incident", sender="blocks-EV2", payload={"text": "?"})
        await target.signal("case_message", bad)
        view = await eventually(lambda: state(target), lambda v: v.attention is not None)
        [invalid] = [e for e in view.events if e.kind == "message_invalid"]
        assert invalid.detail["key"] == "k2" and invalid.detail["error"].startswith("ref:")
        assert len([t for t in view.tasks if t.kind == "incident_followup"]) == 2
        history = await target.fetch_history()
    await replayer([BlocksWorkflow]).replay_workflow(history)


# ---- gap 8: the discipline register, written when an approval approves ------------------------


def discipline_step(party: str = "wang") -> StepChanges:
    """A first step of a case that writes one entry of the discipline register."""
    changes = step()
    changes.discipline = [
        DisciplineWrite(
            id="revisit-C1/discipline/d1", clause="R5 6.2", party=party, kind="demerit",
            rule="首问不负责", record_id="revisit-C1/revisit_record/1", proposed_by="boss",
            approved_by=["dh", "gm"], at=T0,
        )
    ]  # fmt: skip
    return changes


async def test_discipline_entries_are_written_once(clean_db: Any) -> None:
    """In the step's transaction, once under activity retries; a party too long for its column
    is stored cut, the case marked (as the ledger's)."""
    await ensure_people(clean_db)
    store = CaseStore(clean_db, Sealer.generate(), channels=["console"])
    changes = discipline_step()
    await ActivityEnvironment().run(store.record_step, changes)
    await store.record_step(changes)
    [entry] = await rows(clean_db, models.DisciplineEntry)
    assert (entry.id, entry.case_id, entry.regulation, entry.kind, entry.party) == (
        "revisit-C1/discipline/d1", "revisit-C1", "revisit", "demerit", "wang",
    )  # fmt: skip
    assert (entry.approved_by, entry.amount_yuan, entry.party_kind) == (
        ["dh", "gm"],
        Decimal("0.00"),
        "person",
    )
    long = discipline_step("王" * 250)
    long.discipline[0].id = "revisit-C1/discipline/d2"
    result = await store.record_step(long)
    assert result["repairs"] == ["step.discipline[0].party"]
    [_, cut] = await rows(clean_db, models.DisciplineEntry)
    assert cut.party == "王" * 200


@on_server
async def test_discipline_register_written_when_approved(
    ts_env, session_factory, clean_db, settings_factory
):
    """A sanction proposed goes to its approval chain (a dismissal to the general manager); the
    entry is in the register only once approved, naming party, kind, clause, rule, proposal and
    approvers; a rejected one leaves none; a bonus is in the ledger too. Read through
    store.queries.case_discipline and GET /api/cases/{id}/discipline."""
    env = ts_env
    dh, gm = Actor(id="dh", roles=["department_head"]), Actor(id="gm", roles=["general_manager"])
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await start(env, queue, "DS1", units=[], deposit_yuan="0")
        demerit = {"actor": HEAD.model_dump(), "key": "d1", "party": "wang", "kind": "demerit",
                   "rule": "首问不负责，客户投诉"}  # fmt: skip
        rid = await h.execute_update("propose_discipline", demerit)
        approval = await open_task(h, "discipline_approval")
        assert (approval.role, approval.title) == (
            "department_head",
            "奖惩审批：wang（部门负责人）",
        )
        await complete(h, approval, dh, "approve", {"note": "同意"})
        [entry] = await eventually_rows(session_factory, models.DisciplineEntry, 1)
        assert (entry.id, entry.kind, entry.party, entry.clause, entry.rule) == (
            "blocks-DS1/discipline/d1", "demerit", "wang", "B 10", "首问不负责，客户投诉",
        )  # fmt: skip
        assert (entry.record_id, entry.proposed_by, entry.approved_by) == (rid, "head", ["dh"])
        [proposal] = await eventually_rows(session_factory, models.Record, 1, id=rid)
        assert proposal.title == "《奖惩审批表》" and proposal.data["kind_zh"] == "记过"
        [sig] = await eventually_rows(session_factory, models.Signature, 1, record_id=rid)
        assert sig.signer == "dh"

        dismissal = {**demerit, "key": "d2", "party": "li", "kind": "dismissal"}
        await h.execute_update("propose_discipline", dismissal)
        approval = await open_task(h, "discipline_approval")
        assert approval.role == "general_manager"
        await complete(h, approval, gm, "reject", {"reason": "情节不足以开除"})
        bonus = {**demerit, "key": "b1", "party": "zhao", "kind": "bonus",
                 "rule": "妥善处理重大投诉", "amount_yuan": "500.00"}  # fmt: skip
        await h.execute_update("propose_discipline", bonus)
        await complete(h, await open_task(h, "discipline_approval"), dh, "approve")
        entries = await eventually_rows(session_factory, models.DisciplineEntry, 2)
        assert sorted((e.kind, e.party, e.amount_yuan) for e in entries) == [
            ("bonus", "zhao", Decimal("500.00")),
            ("demerit", "wang", Decimal("0.00")),
        ]
        [reward] = await penalties(session_factory, "blocks-DS1", 1)
        assert (reward.kind, reward.party, reward.amount_yuan, reward.account) == (
            "reward", "zhao", Decimal("500.00"), "blocks-DS1/discipline/b1",
        )  # fmt: skip
        await skip(env, timedelta(seconds=5))
        assert len(await rows(session_factory, models.DisciplineEntry)) == 2  # none for li
        view = await state(h)
        assert [e.detail["party"] for e in view.events if e.kind == "discipline"] == [
            "wang",
            "zhao",
        ]
        assert all(u.status == "done" for u in view.units if u.kind == "discipline")

        read = await queries.case_discipline(session_factory, "blocks-DS1")
        assert [(e["kind"], e["approved_by"]) for e in read] == [
            ("demerit", ["dh"]),
            ("bonus", ["dh"]),
        ]
        settings = settings_factory()
        app = create_app(
            settings, client=env.client, session_factory=session_factory, registry=TEST_REGISTRY
        )
        token = await users.issue_token(session_factory, "staff", "test")
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            got = await http.get("/api/cases/blocks-DS1/discipline", headers=auth)
            assert got.status_code == 200 and got.json() == read
            assert (
                await http.get("/api/cases/blocks-NONE/discipline", headers=auth)
            ).status_code == 404
            assert (await http.get("/api/cases/blocks-DS1/discipline")).status_code == 401
