"""R12 `resident` — 荔园小区客户管理规定: each clause on the time-skipping server, with the real
activities writing to a real PostgreSQL. One case per test; the many-case clauses (the monthly
complaint revisit sampling, a building's archive view) read cases seeded in the database."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from starter.app import create_app
from store import models
from tests import helpers
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
    state,
)
from workflows.model import Actor
from workflows.regulations import REGISTRY, roles_of
from workflows.regulations.resident.clauses import last_month
from workflows.regulations.resident.forms import DOCUMENTS, ResidentInput

STAFF = Actor(id="staff", roles=["staff"])
RECEPTION = Actor(id="receptionist", roles=["receptionist"])
OFFICE = Actor(id="office", roles=["office"])
DRAWING = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


async def request(env: Any, queue: str, place: str = "5栋1203室门口") -> Any:
    """A complaint the receptionist receives first (首接人)."""
    inp = ResidentInput(building="5", unit_no="1203", customer_name="陈先生", phone="13700000000",
                        content="楼上装修噪音，晚上九点后仍在施工", place=place)  # fmt: skip
    return await helpers.start_case(env, queue, "resident", inp, started_by="receptionist")


def logged(**over: Any) -> dict[str, Any]:
    return {"content": "楼上装修噪音，晚上九点后仍在施工", "read_back_confirmed": True,
            "solved_at_once": False, **over}  # fmt: skip


async def closed(session_factory: Any, case_id: str, status: str = "closed") -> bool:
    found = await eventually(
        lambda: rows(session_factory, models.Case, id=case_id),
        lambda cs: bool(cs) and cs[0].status == status,
    )
    return bool(found) and found[0].status == status


async def notices(session_factory: Any, case_id: str, subject: str) -> list[models.Notification]:
    found = await eventually(
        lambda: rows(session_factory, models.Notification, case_id=case_id),
        lambda ns: any(subject in n.subject for n in ns),
    )
    return [n for n in found if subject in n.subject]


# ---- 二 首接责任制 and 三分钟服务原则 ------------------------------------------------------------


async def test_2_2_the_office_sends_someone_within_three_minutes(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await request(env, queue)
        dispatch = await open_task(h, "dispatch_staff")
        assert (dispatch.role, dispatch.clause) == ("office", "R12 二.2")
        assert dispatch.due_at == dispatch.created_at + timedelta(minutes=3)
        assert "5栋1203室门口" in dispatch.title
        # 二.1 the first receiver is whoever received it, and owns the log.
        register = await open_task(h, "comm_register")
        assert register.assignee == "receptionist"
        first = [e for e in (await state(h)).events if e.kind == "first_received"]
        assert first and first[0].actor == "receptionist"
        await skip(env, timedelta(minutes=2))
        await complete(h, dispatch, OFFICE, "staff_sent", {"sent": "staff"})
        await skip(env, timedelta(minutes=5))
        view = await state(h)
        assert view.summary["dispatched_to"] == "staff" and not view.summary["dispatched_late"]
        assert not [e for e in view.events if e.kind == "breach"]


async def test_2_2_a_dispatch_past_three_minutes_is_told_to_the_office_head(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await request(env, queue)
        dispatch = await open_task(h, "dispatch_staff")
        await skip(env, timedelta(minutes=2, seconds=50))
        assert not [e for e in (await state(h)).events if e.kind == "breach"]
        await skip(env, timedelta(seconds=20))
        late = await notices(session_factory, h.id, "【超时】")
        assert {"role:office_head", "role:office"} <= {n.recipient for n in late}
        view = await state(h)
        assert view.summary["dispatched_late"] is True
        # The office still sends someone; the lateness stays on the case.
        await complete(h, dispatch, OFFICE, "staff_sent", {"sent": "staff"})
        assert (await state(h)).summary["dispatched_to"] == "staff"


async def test_2_7_the_log_is_read_back_to_the_customer_and_confirmed(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await request(env, queue, place="")
        assert not [t for t in (await state(h)).tasks if t.kind == "dispatch_staff"]
        register = await open_task(h, "comm_register")
        assert register.clause == "R12 二.7"
        assert register.due_at == register.created_at + timedelta(minutes=10)
        await refused(complete(h, register, STAFF, "logged", logged(solved_at_once=True)),
                      "Forbidden")  # fmt: skip
        msg = await refused(
            complete(h, register, RECEPTION, "logged",
                     logged(read_back_confirmed=False, solved_at_once=True)), "Invalid")  # fmt: skip
        assert "复述" in msg or "read it back" in msg
        await complete(h, register, RECEPTION, "logged",
                       logged(solved_at_once=True, solution="当场致电楼上业主停止夜间施工"))  # fmt: skip
        [log] = await records(session_factory, h.id, "communication_log", 1)
        assert log.title == "《客户沟通登记表》"
        assert log.data["content"] == "楼上装修噪音，晚上九点后仍在施工"
        assert log.data["read_back_confirmed"] is True and log.data["received_by"] == "receptionist"
        assert await closed(session_factory, h.id)
        [case] = await rows(session_factory, models.Case, id=h.id)
        assert case.summary["registered"] and case.summary["solved_at_once"]


async def test_2_7_a_promised_time_becomes_the_deadline(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        h = await request(env, queue)
        await complete(
            h, await open_task(h, "dispatch_staff"), OFFICE, "staff_sent", {"sent": "staff"}
        )
        register = await open_task(h, "comm_register")
        await refused(complete(h, register, RECEPTION, "logged", logged()), "Invalid", "promised")
        now = await env.get_current_time()
        promised = (now + timedelta(hours=2)).replace(microsecond=0)
        await complete(h, register, RECEPTION, "logged",
                       logged(promised_at=promised.isoformat(), explanation="需与楼上业主协调"))  # fmt: skip
        service = await open_task(h, "promised_service")
        # 三.2 the promised time is the due; the one the office sent handles it.
        assert service.due_at == promised and service.assignee == "staff"
        await skip(env, timedelta(hours=2, minutes=1))
        late = await notices(session_factory, h.id, "【超时】")
        assert {"staff", "role:office"} <= {n.recipient for n in late}
        await complete(h, service, STAFF, "resolved",
                       {"result": "已协调楼上业主，夜间停止施工", "customer_satisfied": True})  # fmt: skip
        [follow] = await records(session_factory, h.id, "communication_followup", 1)
        assert follow.data["result"] == "已协调楼上业主，夜间停止施工"
        assert await closed(session_factory, h.id)


# ---- 四.2 the complaint revisit ------------------------------------------------------------------


async def seed_requests(session_factory: Any, now: datetime) -> list[str]:
    """Last month 40 closed complaints and 5 closed needs; this month 3 closed complaints."""
    start, end = last_month(now)
    complaints = []
    async with session_factory() as s:
        for i in range(48):
            kind = "need" if 40 <= i < 45 else "complaint"
            at = start + timedelta(hours=10 + i * 12) if i < 45 else end + timedelta(hours=i)
            cid = f"resident-seed-{i:02d}-{now.timestamp():.0f}"
            s.add(models.Case(id=cid, regulation="resident", title=f"客户投诉：业主{i}",
                              status="closed", started_at=at - timedelta(hours=5), updated_at=at,
                              closed_at=at, input={}, policy={},
                              summary={"kind": "customer_contact", "request_type": kind}))  # fmt: skip
            if i < 40:
                complaints.append(cid)
        await s.commit()
    return complaints


async def test_4_2_ten_percent_sampled_thirty_percent_on_site_with_a_signature_reproducibly(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    [duty] = REGISTRY["resident"].schedules
    assert duty.cron == "0 9 1 * *" and duty.input == {"case_kind": "revisit_sampling"}
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        complaints = await seed_requests(session_factory, await env.get_current_time())
        h = await helpers.start_case(env, queue, "resident",
                                     ResidentInput(case_kind="revisit_sampling"),
                                     started_by="system")  # fmt: skip
        [sample] = await records(session_factory, h.id, "revisit_sample", 1)
        d = sample.data
        assert d["complaint_count"] == 40 and d["complaint_ids"] == sorted(complaints)
        assert (
            len(d["sampled_complaints"]) == 4 and len(d["onsite_complaints"]) == 2
        )  # 10 %, and ≥ 30 % of those
        assert set(d["onsite_complaints"]) <= set(d["sampled_complaints"]) <= set(complaints)
        # Reproducible from the record: anyone draws the same sample from its seed.
        assert random.Random(d["seed"]).sample(sorted(complaints), 4) == d["sampled_complaints"]
        assert (
            random.Random(d["seed"] + 1).sample(sorted(d["sampled_complaints"]), 2)
            == d["onsite_complaints"]
        )
        tasks = await eventually(
            lambda: state(h),
            lambda v: len([t for t in v.tasks if t.kind == "complaint_revisit"]) == 4,
        )
        visits = [t for t in tasks.tasks if t.kind == "complaint_revisit"]
        onsite = [t for t in visits if t.data["onsite"]]
        assert sorted(t.data["complaint"] for t in onsite) == sorted(d["onsite_complaints"])
        assert all(t.role == "staff" and "上门回访" in t.title for t in onsite)
        said = {"contact_person": "业主本人", "satisfied": True, "opinion": "处理及时"}
        msg = await refused(complete(h, onsite[0], STAFF, "revisited", said), "Invalid")
        assert "signature" in msg or "签" in msg
        await complete(h, onsite[0], STAFF, "revisited", said,
                       [{"signer_name": "业主本人", "method": "drawing", "evidence": DRAWING}])  # fmt: skip
        [rec] = await records(session_factory, h.id, "complaint_revisit_record", 1)
        sigs = await eventually_rows(session_factory, models.Signature, 2, record_id=rec.id)
        assert {s.role for s in sigs} == {"staff", "customer"}
        await complete(h, onsite[1], STAFF, "revisited", said,
                       [{"signer_name": "业主", "method": "drawing", "evidence": DRAWING}])  # fmt: skip
        for t in visits:
            if not t.data["onsite"]:
                await complete(h, t, STAFF, "revisited", said)
        assert await closed(session_factory, h.id, "done")


# ---- 一 the resident archive --------------------------------------------------------------------


def attached(doc: str, n: int) -> dict[str, Any]:
    return {"document": doc, "file": {"id": f"att_r12test{n:04d}", "name": f"{doc}.pdf",
            "media_type": "application/pdf", "size": 1000 + n, "sha256": f"{n:064x}"}}  # fmt: skip


async def test_1_the_archive_is_complete_when_every_document_is_attached(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        inp = ResidentInput(case_kind="archive", building="3", unit_no="1201",
                            customer_name="刘女士", double_archive=True)  # fmt: skip
        h = await helpers.start_case(env, queue, "resident", inp, started_by="office")
        assert h.id == "resident-archive-3-1201"  # one archive per flat
        task = await open_task(h, "archive_documents")
        assert (task.role, task.clause) == ("office", "R12 一")
        docs = list(DOCUMENTS)
        first = [attached(d, i) for i, d in enumerate(docs[:12])]
        # Every listed document is attached or marked missing: none left out, not both.
        msg = await refused(complete(h, task, OFFICE, "filed", {"documents": first}), "Invalid")
        assert "房屋结构图" in msg or "floor_plan" in msg
        both = [
            *first,
            {**attached(docs[12], 12), "missing": True},
            {"document": docs[13], "missing": True},
        ]
        await refused(complete(h, task, OFFICE, "filed", {"documents": both}), "Invalid")
        missing = [{"document": d, "missing": True, "note": "业主未提供"} for d in docs[12:]]
        await complete(h, task, OFFICE, "filed", {"documents": [*first, *missing]})
        [rec] = await records(session_factory, h.id, "resident_archive", 1)
        assert (rec.data["present"], rec.data["total"], rec.data["complete"]) == (12, 14, False)
        assert rec.data["missing"] == docs[12:] and rec.data["double_archive"] is True
        supplement = await open_task(h, "archive_supplement")
        assert supplement.data["missing"] == docs[12:]
        await complete(h, supplement, OFFICE, "filed",
                       {"documents": [attached(d, 20 + i) for i, d in enumerate(docs[12:])],
                        "second_copy_kept": True})  # fmt: skip
        recs = await records(session_factory, h.id, "resident_archive", 2)
        last = max(recs, key=lambda r: r.created_at)
        assert (last.data["present"], last.data["complete"], last.data["second_copy_kept"]) == (
            14,
            True,
            True,
        )
        assert await closed(session_factory, h.id)
        [case] = await rows(session_factory, models.Case, id=h.id)
        assert case.summary["complete"] and case.summary["building"] == "3"


async def test_1_the_completeness_view_of_one_building(
    ts_env, session_factory, clean_db, settings_factory
):
    env = ts_env
    async with case_worker(env.client, session_factory, settings_factory()) as queue:
        now = await env.get_current_time()
        async with session_factory() as s:
            for cid, building, unit, present, missing, double in [
                ("resident-archive-3-1202", "3", "1202", 13, ["floor_plan"], False),
                ("resident-archive-3-1201", "3", "1201", 14, [], True),
                ("resident-archive-5-0101", "5", "0101", 10, ["interim_rules"], False),
            ]:  # fmt: skip
                s.add(models.Case(id=cid, regulation="resident", title=f"住户档案：{building}栋 {unit}",
                                  status="open", started_at=now - timedelta(days=30), updated_at=now,
                                  input={}, policy={},
                                  summary={"kind": "archive", "building": building, "unit_no": unit,
                                           "present": present, "total": 14, "missing": missing,
                                           "complete": not missing, "double_archive": double}))  # fmt: skip
            await s.commit()
        inp = ResidentInput(case_kind="archive_view", building="3")
        h = await helpers.start_case(env, queue, "resident", inp, started_by="office")
        [view] = await records(session_factory, h.id, "archive_completeness", 1)
        assert (view.data["flat_count"], view.data["complete_count"]) == (2, 1)
        assert view.data["double_archive_count"] == 1
        assert [(f["unit_no"], f["complete"], f["missing"]) for f in view.data["flats"]] == [
            ("1201", True, []), ("1202", False, ["floor_plan"])]  # fmt: skip
        assert await closed(session_factory, h.id, "done")


# ---- 二.3–二.8 reception etiquette: guidance on the receptionist's work page ----------------------


async def test_2_4_reception_etiquette_is_guidance_on_the_receptionists_page(
    session_factory, clean_db, settings_factory
):
    """The /work page reads the database only: no Temporal client is needed."""
    from starter import users

    for uid, role in (("receptionist", "receptionist"), ("office", "office")):
        await users.create_user(session_factory, uid, f"测试 {uid}", f"{uid}-pass-1", [role],
                                "管理处", book=roles_of(REGISTRY))  # fmt: skip
    app = create_app(settings_factory(), session_factory=session_factory,
                     registry=REGISTRY)  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as http:  # fmt: skip
        pages = {}
        for uid in ("receptionist", "office"):
            http.cookies.clear()
            login = await http.get("/login", params={"next": "/work"})
            token = re.search(r'name="csrftoken" value="([^"]+)"', login.text)
            assert token
            r = await http.post("/login", data={"login": uid, "password": f"{uid}-pass-1",
                                                "next": "/work", "csrftoken": token.group(1)})  # fmt: skip
            assert r.status_code == 303, r.text
            pages[uid] = (await http.get("/work")).text
    assert 'id="guidance"' in pages["receptionist"]
    assert (
        "3 米时起身接待" in pages["receptionist"] and "左2、右2、左1、右1" in pages["receptionist"]
    )
    assert "鞠躬" in pages["receptionist"]
    assert 'id="guidance"' not in pages["office"]  # shown to the receptionist, nobody else


def test_archive_key_is_one_per_flat() -> None:
    key = REGISTRY["resident"].workflow_id
    assert key is not None
    a = ResidentInput(case_kind="archive", building="3", unit_no="1201")
    assert key(a) == key(a.model_copy()) == "resident-archive-3-1201"
    assert key(ResidentInput(customer_name="陈", content="投诉内容")) is None
