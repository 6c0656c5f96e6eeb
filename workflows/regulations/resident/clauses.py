"""R12 `resident` — 荔园小区客户管理规定 (seed 第14篇, lines 1279–1319).

One workflow, four kinds of case (input `case_kind`):

- `customer_contact` — a customer's complaint or need (二, 三). Whoever receives it is the first receiver
  (首接责任制, `case.started_by`; any 管理处 staff member may start it). The first receiver
  writes it at once in the 《客户沟通登记表》 and reads it back to the customer (`comm_register`: the
  read-back confirmation is required, refused without it); it is solved at once, or a promised
  time is given (required then) that becomes the due of the handling (`promised_service`, the one it
  was passed to, recorded again in the 《客户沟通登记表》, 三.4). When the customer names a place,
  the office sends someone there within 3 minutes (三分钟服务原则, `dispatch_staff`; a breach is told
  to the office head).
- `archive` — the resident archive of one flat (一): one case per building + unit number (its
  business key `resident-archive-<栋>-<单元>`, so a second archive of a flat cannot start). Each
  listed document is attached (a file the app stores, `workflows.model.Attachment`) or marked
  missing; missing ones come back as a task to supplement them until the archive is complete.
  The "双档案" (a second copy) is the input's flag, and the archive records whether the copy was
  kept.
- `archive_view` — one building's archives, flat by flat (complete or not, what is missing),
  as a record, read from the database (the `case_summaries` report).
- `revisit_sampling` — 四.2 the complaint revisit, started monthly by a schedule: last month's
  closed complaints (the `closed_cases` report), 10 % sampled (at least one), at least 30 % of
  the sample on site with the customer's signature (required), the rest by phone. The sample
  is drawn with a seed the case draws from Temporal's seeded random and records, so it replays
  the same and anyone can draw it again: `random.Random(seed).sample(sorted(complaints), k)`
  (the on-site share with `seed + 1`).

Choices where the text is silent (a customer-service manager's reading):
- 登记 within 10 minutes of receiving (第一时间), 建档 within 5 working days, missing documents
  supplemented within 30 days (again and again until complete), a sampled revisit within 5
  working days: policy defaults.
- The office head (管理处办公室主任, a role of this regulation) may act for the office; a late
  dispatch is told to the head and the office and marked on the case (`dispatched_late`).
- The handling with a promised time is the person the office sent, else the first receiver.
- Reception etiquette (二.3–6, 二.8: stand at 3 m, order of receiving, bow at leave) is
  guidance only, shown to the receptionist on their work page (`ENTRY.guidance`).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import add_months
    from workflows.engine import CaseWorkflow
    from workflows.engine.blocks.join import Closed
    from workflows.model import CHINA_TZ, CaseStart, TaskState, UnitState
    from workflows.regulations.resident.forms import (
        DOCUMENTS,
        ArchiveData,
        DispatchData,
        HandleData,
        RegisterData,
        ResidentInput,
        ResidentPolicy,
        ResidentVars,
        RevisitData,
    )
    from workflows.regulations.resident.people import ROLES
    from workflows.spec import (
        Breach,
        NoteData,
        RecordSpec,
        Sign,
        TaskSpec,
        after,
        after_all,
        check,
        on_breach,
        on_result,
    )

CODE = "resident"
_HEAD, _OFFICE = "role:office_head", "role:office"

TASKS = (
    # 二.7 written at once in the 《客户沟通登记表》 and read back to the customer.
    TaskSpec("comm_register", "登记《客户沟通登记表》并复述确认：{customer_name}", "R12 二.7", "",
             assignee="case.started_by", deadline="register_within",
             outcomes={"logged": RegisterData},
             record=RecordSpec("communication_log", "《客户沟通登记表》", ("logged",))),
    # 二.2 三分钟服务原则: the office sends someone to the place the customer named.
    TaskSpec("dispatch_staff", "派人到客户指定地点：{place}（{customer_name}）", "R12 二.2", "office",
             deadline="dispatch_within", outcomes={"staff_sent": DispatchData},
             breach=Breach(notify=(_HEAD, "task.holder"))),
    # 二.7, 三.2 not solved at once: handled by the promised time, recorded (三.4).
    TaskSpec("promised_service", "按承诺时间处理：{customer_name}", "R12 三.2", "",
             assignee="unit.handler", outcomes={"resolved": HandleData},
             record=RecordSpec("communication_followup", "《客户沟通登记表》（处理记录）", ("resolved",)),
             breach=Breach(notify=("task.holder", _OFFICE))),
    # 一 the resident archive of one flat.
    TaskSpec("archive_documents", "建立住户档案：{building}栋 {unit_no}", "R12 一", "office",
             deadline="archive_due", outcomes={"filed": ArchiveData}),
    TaskSpec("archive_supplement", "补齐住户档案：{building}栋 {unit_no}", "R12 一", "office",
             deadline="supplement_due", outcomes={"filed": ArchiveData}),
    # 四.2 the complaint revisit of a sampled complaint.
    TaskSpec("complaint_revisit", "投诉回访（{method_name}）：{complaint_title}", "R12 四.2", "staff",
             deadline="revisit_due", outcomes={"revisited": RevisitData, "unreachable": NoteData},
             record=RecordSpec("complaint_revisit_record", "《投诉回访记录》", ("revisited",)),
             signatures=(Sign("actor", "staff"),
                         Sign("customer", "customer", ("drawing", "otp"), required="onsite",
                              outcomes=("revisited",)))),
)  # fmt: skip


def last_month(now: datetime) -> tuple[datetime, datetime]:
    """The month before `now`'s, China time: [first day 00:00, first day of this month)."""
    first = datetime.combine(now.astimezone(CHINA_TZ).date().replace(day=1), time(0), CHINA_TZ)
    return add_months(first, -1), first


@workflow.defn(name="zhidu.resident")
class ResidentWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "{case_title}"
    INPUT = ResidentInput
    POLICY = ResidentPolicy
    VARS = ResidentVars
    CUSTOMER_FIELD = None
    TASKS = TASKS
    ROLES = ROLES
    inp: ResidentInput
    policy: ResidentPolicy
    v: ResidentVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        kind = self.inp.case_kind
        if kind == "archive":
            self.open("archive_documents")
        elif kind == "archive_view":
            self.run_job("zhidu.report", {
                "report": "case_summaries", "regulation": CODE,
                "period_start": datetime(2000, 1, 1, tzinfo=UTC).isoformat(),
                "period_end": self.now.isoformat()}, "archives")  # fmt: skip
        elif kind == "revisit_sampling":
            start, end = last_month(self.now)
            self.run_job("zhidu.report", {
                "report": "closed_cases", "regulation": CODE,
                "period_start": start.isoformat(), "period_end": end.isoformat()},
                "complaints", month=start.strftime("%Y-%m"))  # fmt: skip
        else:  # 二.1 首接责任制: whoever received it
            self.event("first_received", "R12 二.1", self.started_by,
                       request_type=self.inp.request_type, place=self.inp.place)  # fmt: skip
            self.open("comm_register")
            if self.inp.place:
                self.open("dispatch_staff")

    def summarize(self) -> dict[str, Any]:
        kind, inp = self.inp.case_kind, self.inp
        if kind == "archive":
            return {"kind": "archive", "building": inp.building, "unit_no": inp.unit_no,
                    "present": len(self.v.present), "total": len(DOCUMENTS),
                    "missing": self.v.missing, "complete": self._archive_complete(),
                    "double_archive": inp.double_archive,
                    "second_copy_kept": self.v.second_copy_kept}  # fmt: skip
        if kind == "customer_contact":
            return {"kind": "customer_contact", "request_type": inp.request_type,
                    "customer_name": inp.customer_name, "building": inp.building,
                    "unit_no": inp.unit_no, "registered": self.v.registered,
                    "solved_at_once": self.v.solved_at_once,
                    "promised_at": self.v.promised_at.isoformat() if self.v.promised_at else None,
                    "dispatched_to": self.v.dispatched_to,
                    "dispatched_late": self.v.dispatched_late}  # fmt: skip
        return {"kind": kind, "sampled": len(self.v.sampled), "onsite": len(self.v.onsite)}

    def record_context(self, task: TaskState) -> dict[str, Any]:
        inp = self.inp
        if task.kind in ("comm_register", "promised_service"):
            return {"customer_name": inp.customer_name, "phone": inp.phone,
                    "building": inp.building, "unit_no": inp.unit_no,
                    "request_type": inp.request_type, "place": inp.place,
                    "received_by": self.started_by}  # fmt: skip
        if task.kind == "complaint_revisit":
            return {"complaint": task.data.get("complaint"),
                    "complaint_title": task.data.get("complaint_title"),
                    "onsite": task.data.get("onsite"), "staff": task.closed_by}  # fmt: skip
        return {}

    # ---- 二.7 the 《客户沟通登记表》 read back; solved at once or a promised time --------------------

    @check("comm_register")
    def _check_register(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if not isinstance(data, RegisterData):
            return None
        if not data.read_back_confirmed:
            return ("data.read_back_confirmed: read it back to the customer and have it confirmed",
                    "须把登记内容向客户复述一遍并经客户确认（二.7）")  # fmt: skip
        if not data.solved_at_once and data.promised_at is None:
            return ("data.promised_at: not solved at once, a service time is promised",
                    "当场解决不了的，须向客户承诺服务时间（二.7）")  # fmt: skip
        if (
            not data.solved_at_once
            and data.promised_at is not None
            and data.promised_at <= self.now
        ):
            return "data.promised_at: the promised time is in the past", "承诺时间已经过去"
        return None

    @after("comm_register")
    def _registered(self, task: TaskState) -> None:
        if task.status != "done":
            self._maybe_finish()
            return
        data = self.given(RegisterData, task)
        self.v.registered = True
        if data.solved_at_once:
            self.v.solved_at_once = True
            self.event("solved_at_once", "R12 二.7", task.closed_by, solution=data.solution)
        else:
            assert data.promised_at is not None  # the check asked for it
            self.v.promised_at = data.promised_at
            handler = self.v.dispatched_to or self.started_by
            unit = self.open_unit(
                "handling", f"承诺处理：{self.inp.customer_name}", handler=handler
            )
            self.event("service_promised", "R12 二.7", task.closed_by,
                       promised_at=data.promised_at, handler=handler)  # fmt: skip
            self.open("promised_service", unit, due=data.promised_at)
        self._maybe_finish()

    # ---- 二.2 三分钟服务原则 ----------------------------------------------------------------------

    @after("dispatch_staff")
    def _dispatched(self, task: TaskState) -> None:
        if task.status == "done":
            self.v.dispatched_to = self.given(DispatchData, task).sent
            self.event("staff_dispatched", "R12 二.2", task.closed_by, sent=self.v.dispatched_to,
                       place=self.inp.place)  # fmt: skip
        self._maybe_finish()

    @on_breach("dispatch_staff")
    def _dispatch_late(self, task: TaskState) -> None:
        self.v.dispatched_late = True

    @after("promised_service")
    def _handled(self, task: TaskState) -> None:
        self.v.handled = task.status == "done"
        if (unit := self.unit(task.unit)) is not None:
            self.close_unit(unit)
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if not self.open_tasks():
            self.finish("closed")

    # ---- 一 the resident archive ------------------------------------------------------------------

    def _archive_complete(self) -> bool:
        return not self.v.missing and len(self.v.present) == len(DOCUMENTS)

    @check("archive_documents")
    def _check_archive(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        return self._check_documents(data, set(DOCUMENTS))

    @check("archive_supplement")
    def _check_supplement(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        return self._check_documents(data, set(task.data.get("missing", [])))

    @staticmethod
    def _check_documents(data: Any, expected: set[str]) -> tuple[str, str] | None:
        if not isinstance(data, ArchiveData):
            return None
        given = [d.document for d in data.documents]
        if len(given) != len(set(given)):
            return "data.documents: a document is listed twice", "同一份资料列了两次"
        if set(given) != expected:
            names = "、".join(DOCUMENTS[d] for d in DOCUMENTS if d in expected - set(given))
            return (f"data.documents: every document is attached or marked missing: {sorted(expected ^ set(given))}",
                    f"每份资料须上传文件或标明缺失：{names or '有不属于本档案的资料'}")  # fmt: skip
        for d in data.documents:
            if (d.file is None) == (not d.missing):
                return (f"data.documents: {d.document} is either attached or missing",
                        f"{DOCUMENTS[d.document]}：须上传文件或标明缺失（二者选一）")  # fmt: skip
        return None

    @after("archive_documents", "archive_supplement")
    def _filed(self, task: TaskState) -> None:
        if task.status != "done":
            if task.kind == "archive_supplement":  # still missing: ask again
                self.open("archive_supplement", data={"missing": task.data.get("missing", [])})
            return
        data = self.given(ArchiveData, task)
        present = set(self.v.present)
        for d in data.documents:
            if d.file is not None:
                present.add(d.document)
        self.v.present = [d for d in DOCUMENTS if d in present]
        self.v.missing = [d for d in DOCUMENTS if d not in present]
        self.v.second_copy_kept = self.v.second_copy_kept or data.second_copy_kept
        self.record("resident_archive", "住户档案", {
            "building": self.inp.building, "unit_no": self.inp.unit_no,
            "documents": [d.model_dump(mode="json") for d in data.documents],
            "present": len(self.v.present), "total": len(DOCUMENTS),
            "missing": self.v.missing, "complete": self._archive_complete(),
            "double_archive": self.inp.double_archive,
            "second_copy_kept": self.v.second_copy_kept,
        }, created_by=task.closed_by, clause="R12 一")  # fmt: skip
        if self.v.missing:
            self.open("archive_supplement", data={"missing": self.v.missing})
        else:
            self.finish("closed", actor=task.closed_by)

    @on_result("archives")
    def _building_view(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        flats = sorted(
            ({"unit_no": c["summary"].get("unit_no"), "case": c["id"],
              "present": c["summary"].get("present", 0), "total": c["summary"].get("total"),
              "missing": c["summary"].get("missing", []),
              "complete": bool(c["summary"].get("complete")),
              "double_archive": bool(c["summary"].get("double_archive"))}
             for c in result.get("cases", [])
             if c.get("summary", {}).get("kind") == "archive"
             and c["summary"].get("building") == self.inp.building),
            key=lambda f: str(f["unit_no"]),
        )  # fmt: skip
        self.record("archive_completeness", "住户档案完整性一览", {
            "building": self.inp.building, "flats": flats, "flat_count": len(flats),
            "complete_count": sum(1 for f in flats if f["complete"]),
            "double_archive_count": sum(1 for f in flats if f["double_archive"]),
        }, created_by=self.started_by, clause="R12 一")  # fmt: skip
        self.finish("done")

    # ---- 四.2 the complaint revisit: 10 % sampled, ≥ 30 % of them on site -------------------------

    @on_result("complaints")
    def _complaints(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        found = {
            c["id"]: c for c in result.get("cases", [])
            if c.get("summary", {}).get("kind") == "customer_contact"
            and c["summary"].get("request_type") == "complaint"
        }  # fmt: skip
        if not found:
            self.event("nothing_to_sample", "R12 四.2", None, month=context["month"])
            self.finish("done")
            return
        self.v.seed = seed = workflow.random().randint(1, 2**31 - 1)
        self.v.sampled = self.sample(list(found), self.policy.sample_rate, seed=seed)
        self.v.onsite = self.sample(self.v.sampled, self.policy.onsite_rate, seed=seed + 1)
        self.record("revisit_sample", "投诉回访抽样", {
            "month": context["month"], "complaint_ids": sorted(found),
            "complaint_count": len(found), "sample_rate": self.policy.sample_rate,
            "onsite_rate": self.policy.onsite_rate, "seed": seed,
            "sampled_complaints": self.v.sampled, "onsite_complaints": self.v.onsite,
        }, created_by=None, clause="R12 四.2")  # fmt: skip
        unit = self.open_unit("revisits", f"投诉回访（{context['month']}）")
        for cid in self.v.sampled:
            onsite = cid in self.v.onsite
            c = found[cid]
            self.open("complaint_revisit", unit, data={
                "complaint": cid, "complaint_title": c.get("title") or cid, "onsite": onsite,
                "method_name": "上门回访" if onsite else "电话回访"})  # fmt: skip

    @after_all("complaint_revisit")
    def _revisits_done(self, unit: UnitState, closed: dict[str, Closed]) -> None:
        self.close_unit(unit)
        self.finish("done")
