"""R1 `revisit` — 公司客户回访管理规定 (seed 第1篇, lines 11–161).

One case per customer (`revisit-<customer id>`), running for as long as the customer is served.
Each visit is a unit of work of its own; visits, the supervisory revisit after a complaint,
expense claims and 总裁办 decisions overlap freely. This module is the clauses; what people type
(the input, the policy with every number, each outcome's data) is in forms.py beside it.

Choices where the text is silent (a careful customer-service manager's reading):
- Every number is a `RevisitPolicy` field. Durations the text does not give (plan 3 working
  days, review / archive 3 working days, suggestion on-site within 14 days, problem on-site
  within 7 days, supervisory revisit 2 working days as in R5) are defaults a company can change.
- The schedule is a fixed grid from go-live (09:00 China time): phone at +1 month, then every
  6 months from the first; on-site at every 12 (large) / 6 (key) months from go-live. A plan
  started long after go-live makes only the latest overdue visit of each grid.
- A visit's appointment task opens `appointment_lead` before the planned date. The visit task
  opens when the appointment is agreed (due the end of the agreed day) or, failing that, on the
  planned date itself (due the end of that day): the 1-month phone revisit is never postponed
  by a missing appointment. A visit made without an appointment closes the appointment task.
- On-site visits for a valuable suggestion (4.3(1)) or a problem phone cannot solve open at
  once, with their own deadline; so does the 5.2 supervisory revisit (no appointment: it is a
  phone call), due 2 working days after the complaint was reported handled.
- A task nobody acts on is reminded, breaches (the spec names who is told and what is booked)
  and lapses `lapse_after` past due, so the plan never stalls. A lapsed visit is recorded as
  missed; nothing is reported for it.
- 5.1(1) (incomplete archive, 1000 元 from the department budget) is booked when the clerk's
  archive task breaches, or when the archive is declared incomplete or the report is missing;
  once per archive. 5.2(1) is booked when the supervisory revisit breaches (an extension moves
  the deadline, it does not waive the fine: a breach of the new due books it, once).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import end_of_day
    from workflows.engine import FIXED_DEFAULTS, CaseWorkflow, refuse
    from workflows.engine.blocks.join import Closed
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import (
        CHINA_TZ,
        CaseStart,
        Deadline,
        TaskState,
        UnitState,
    )
    from workflows.regulations.revisit.forms import (
        AppointmentData,
        ArchiveData,
        ClosePlanInput,
        ComplaintHandledInput,
        ExpenseItem,
        MaterialsData,
        PlanData,
        ReportData,
        ReviewData,
        RevisitInput,
        RevisitPolicy,
        RevisitVars,
        VisitRecordData,
        VisitUnit,
    )
    from workflows.regulations.revisit.people import ROLES
    from workflows.spec import (
        ActionSpec,
        ApprovalSpec,
        Book,
        Breach,
        NoteData,
        RecordSpec,
        Sign,
        TaskSpec,
        Tier,
        after,
        after_all,
        after_approval,
        at,
        check,
        on_event,
    )

CODE = "revisit"
VisitKind = Literal[
    "first_phone", "routine_phone", "onsite", "onsite_suggestion", "onsite_problem", "supervisory"
]
ONSITE_KINDS = ("onsite", "onsite_suggestion", "onsite_problem")
VISITS: dict[str, tuple[str, str]] = {  # kind -> (name, clause)
    "first_phone": ("首次电话回访", "R1 4.3(2)1)"),
    "routine_phone": ("常规电话回访", "R1 4.3(2)2)"),
    "onsite": ("现场回访", "R1 4.3(2)3)"),
    "onsite_suggestion": ("上门回访（客户提出中肯意见或良好建议）", "R1 4.3(1)"),
    "onsite_problem": ("现场回访（电话无法解决的问题）", "R1 4.3(2)1)"),
    "supervisory": ("投诉处理后的监督调查性电话回访", "R1 5.2"),
}


def anchor(go_live: date) -> datetime:
    return datetime.combine(go_live, time(9, 0), CHINA_TZ)


# ---- the clauses ----------------------------------------------------------------------------------

_SUPERVISOR = "input.supervisor|role:supervisor"
TASKS = (
    TaskSpec("plan", "制订《客户回访计划》：{customer_name}", "R1 4.2(1)", "staff",
             assignee="input.owner", deadline="plan_due", outcomes={"done": PlanData},
             record=RecordSpec("revisit_plan", "《客户回访计划》", category="input.customer_class")),
    TaskSpec("appointment", "预约{visit_name}：{customer_name}", "R1 4.2(2)", "staff",
             assignee="input.owner", outcomes={"agreed": AppointmentData, "declined": NoteData},
             extend={"supervisor": "max_postpone"}),
    TaskSpec("visit", "{visit_name}：{customer_name}", "R1 4.3", "staff", assignee="unit.assignee",
             outcomes={"done": VisitRecordData, "unreachable": NoteData},
             record=RecordSpec("revisit_record", "《客户回访记录表》", category="input.customer_class"),
             signatures=(Sign("actor", "staff"),
                         Sign("customer", "customer", ("drawing", "otp"), required="onsite", outcomes=("done",))),
             extend={"supervisor": "visit_extend_max"}),
    # 5.2 the supervisory phone revisit after a handled complaint; not done in time: 5.2(1).
    TaskSpec("supervisory_visit", "{visit_name}：{customer_name}", "R1 5.2", "staff",
             assignee="unit.assignee", outcomes={"done": VisitRecordData, "unreachable": NoteData},
             record=RecordSpec("revisit_record", "《客户回访记录表》", category="input.customer_class"),
             signatures=(Sign("actor", "staff"),), extend={"supervisor": "visit_extend_max"},
             breach=Breach(notify=(_SUPERVISOR,), book=(
                 Book("5.2(1)/regional", "R1 5.2(1)", "unit.regional_manager",
                      "penalties.supervisory_missed_regional_yuan",
                      "投诉 {complaint_ref} 处理后未进行监督调查性电话回访（当事人）"),
                 Book("5.2(1)/department", "R1 5.2(1)", "unit.department_manager",
                      "penalties.supervisory_missed_department_yuan",
                      "投诉 {complaint_ref} 处理后未进行监督调查性电话回访（部门经理）")))),
    TaskSpec("report", "编制《客户回访报告》：{customer_name}", "R1 4.4(1)1)", "staff",
             assignee="input.owner", deadline="report_due", outcomes={"done": ReportData},
             record=RecordSpec("revisit_report", "《客户回访报告》", category="input.customer_class")),
    TaskSpec("materials", "回访资料提交部门主管审核：{customer_name}", "R1 4.4(1)2)", "staff",
             assignee="input.owner", deadline="materials_due", outcomes={"done": MaterialsData},
             extend={"supervisor": "materials_extended_max"}, breach=Breach(notify=(_SUPERVISOR,))),
    TaskSpec("review", "审阅回访记录与报告：{customer_name}", "R1 4.4(2)", "supervisor",
             assignee="input.supervisor", deadline="review_due",
             outcomes={o: ReviewData for o in ("accept", "commend", "criticise", "fine_request")},
             record=RecordSpec("revisit_review", "主管审阅意见",
                               ("accept", "commend", "criticise", "fine_request"),
                               category="input.customer_class"),
             breach=Breach(notify=("role:division_leader",))),
    TaskSpec("archive", "回访资料汇总存档：{customer_name}", "R1 4.5(1)", "clerk",
             deadline="archive_due", outcomes={"done": ArchiveData},
             record=RecordSpec("revisit_archive", "客户档案（回访资料汇总）",
                               category="input.customer_class"),
             breach=Breach(book=(Book("5.1(1)", "R1 5.1(1)", "input.department",
                                      "penalties.archive_incomplete_yuan",
                                      "回访资料未按期汇总存档，客户档案不完整",
                                      party_kind="department"),))),
    TaskSpec("commendation", "表扬申请：{owner}（{customer_name}）", "R1 4.4(2)2)",
             "president_office", deadline="approval_due",
             outcomes={"approve": NoteData, "decline": NoteData}),
    TaskSpec("fine_approval", "罚款审批：{owner}（{customer_name}）", "R1 4.4(2)3)",
             "president_office", deadline="approval_due",
             outcomes={"approve": NoteData, "decline": NoteData}),
    TaskSpec("rd_feedback", "处理客户技术反馈：{problem}", "R1 4.3(2)1)", "rd",
             deadline="rd_feedback_due", outcomes={"accepted": NoteData, "rejected": NoteData}),
    TaskSpec("project_review", "评估是否立项：{problem}", "R1 4.3(2)3)", "quality_specialist",
             deadline="approval_due", outcomes={"project": NoteData, "no_project": NoteData}),
    TaskSpec("expense_pay", "回访费用报销：{total_yuan} 元", "R1 4.6(2)", "finance",
             deadline="approval_due", outcomes={"paid": NoteData},
             record=RecordSpec("expense_payment", "回访费用报销结果", ("paid",))),
)  # fmt: skip

EXPENSE = ApprovalSpec(  # 4.6(1): supervisor, then division leader, sign the receipts
    "expense", "expense_sign", "回访费用报销审核签字：{total_yuan} 元", "R1 4.6(1)",
    tiers=(Tier(None, ("supervisor", "division_leader")),),
)  # fmt: skip


@workflow.defn(name="zhidu.revisit")
class RevisitWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "客户回访：{customer_name}（{customer_id}）"
    INPUT = RevisitInput
    POLICY = RevisitPolicy
    VARS = RevisitVars
    TASKS = TASKS
    APPROVALS = (EXPENSE,)
    # The named supervisor acts as the case's supervisor; without one, a supervisor of the
    # case's department; a division leader always may (roles.ROLES_ABOVE).
    ROLE_HOLDERS = {"supervisor": "input.supervisor"}
    ROLES = ROLES
    TASK_DEFAULTS = FIXED_DEFAULTS  # remind 24 h before, lapse 30 days after, tell the supervisor
    ACTIONS = (
        ActionSpec("close_plan", ClosePlanInput, ("supervisor", "admin"), "update",
                   "结束回访计划", "Close the plan"),
        ActionSpec("complaint_handled", ComplaintHandledInput, ("staff", "supervisor"), "update",
                   "投诉已处理（安排监督回访）", "Report a handled complaint",
                   people={"regional_manager": "staff", "department_manager": "supervisor"}),
    )  # fmt: skip
    DEPARTMENT = "input.department"
    inp: RevisitInput
    policy: RevisitPolicy
    v: RevisitVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        self._catch_up()
        self.event(
            "plan_started", "R1 4.1", self.started_by, customer_class=self.inp.customer_class
        )
        self.open("plan")
        self._schedule_next()

    def summarize(self) -> dict[str, Any]:
        visits = [u.data["kind"] for u in self.s.units if u.kind == "visit" and u.status == "open"]
        return {"customer_id": self.inp.customer_id, "customer_class": self.inp.customer_class,
                "next_visit": self.v.next_visit, "visits_done": self.v.visits_done,
                "visits_missed": self.v.visits_missed, "open_visits": visits}  # fmt: skip

    def record_context(self, task: TaskState) -> dict[str, Any]:
        base = {k: getattr(self.inp, k) for k in ("customer_id", "customer_name", "customer_class")}
        unit = self.unit(task.unit)
        if task.kind == "plan":
            (kind, planned), onsite = self._next_grid_visit(), self._grids()[1]
            return {**base, "go_live": self.inp.go_live.isoformat(),
                    "first_phone_at": self._grids()[0].at(0).isoformat(),
                    "routine_phone_every": self.policy.routine_phone_every.model_dump(mode="json"),
                    "onsite_every": onsite.every.model_dump(mode="json") if onsite else None,
                    "next_visit": {"kind": kind, "planned_at": planned.isoformat()}}  # fmt: skip
        if task.kind in ("visit", "supervisory_visit") and unit is not None:
            return {**base, "visit_kind": unit.data["kind"], "visited_at": self.now.isoformat(),
                    "staff": task.assignee,
                    "contacts": [c.model_dump() for c in self.inp.contacts]}  # fmt: skip
        if task.kind == "archive":
            return {**base, "plan_record": self.v.plan_record_id}
        if task.kind == "expense_pay" and unit is not None:  # 4.6(2) the cap; the rest is staff's
            total, cap = Decimal(unit.data["total_yuan"]), self.policy.expense_cap_yuan
            paid = min(total, cap)
            return {"claim": unit.data["record_id"], "total_yuan": str(total), "cap_yuan": str(cap),
                    "reimbursed_yuan": str(paid), "borne_by_staff_yuan": str(total - paid),
                    "staff": self.inp.owner}  # fmt: skip
        return base

    # ---- 4.3(2) the visit grid ------------------------------------------------------------------

    def _grids(self) -> tuple[Grid, Grid | None]:
        """Phone: 1 month after go-live, then every 6 months; on site: every 12 (large) / 6
        (key) months from go-live (09:00 China time)."""
        start = anchor(self.inp.go_live)
        onsite = self.policy.onsite_every.get(self.inp.customer_class)
        phone = Grid(start, self.policy.routine_phone_every, self.policy.first_phone_after)
        return phone, Grid(start, onsite) if onsite else None

    def _catch_up(self) -> None:
        """A plan started after go-live makes the latest overdue visit of each grid only."""
        phone, onsite = self._grids()
        self.v.phone_k = phone.caught_up(self.v.phone_k, self.now)
        if onsite is not None:
            self.v.onsite_k = onsite.caught_up(self.v.onsite_k, self.now)

    def _next_grid_visit(self) -> tuple[str, datetime]:
        phone, onsite = self._grids()
        kind = "first_phone" if self.v.phone_k == 0 else "routine_phone"
        options = [(kind, phone.at(self.v.phone_k))]
        if onsite is not None:
            options.append(("onsite", onsite.at(self.v.onsite_k)))
        return min(options, key=lambda o: o[1])

    def _schedule_next(self) -> None:
        kind, planned = self._next_grid_visit()
        self.v.next_visit = {"kind": kind, "planned_at": planned.isoformat()}
        self.wake_at(
            planned - self.policy.appointment_lead.wall,
            "visit_opens",
            kind=kind,
            planned_at=planned.isoformat(),
        )

    @at("visit_opens")
    def _grid_visit_opens(self, data: dict[str, Any]) -> None:
        if data["kind"] == "onsite":
            self.v.onsite_k += 1
        else:
            self.v.phone_k += 1
        self._open_visit(data["kind"], datetime.fromisoformat(data["planned_at"]))
        self._schedule_next()

    # ---- one visit: 4.2(2) appointment, 4.3 visit -------------------------------------------------

    def _open_visit(
        self, kind: str, planned: datetime, within: Deadline | None = None, **extra: Any
    ) -> UnitState:
        name, clause = VISITS[kind]
        assignee = extra.get("regional_manager") or self.inp.owner
        unit = self.open_unit("visit", f"{name}：{self.inp.customer_name}", VisitUnit(
            kind=kind, visit_name=name, clause=clause, planned_at=planned, assignee=assignee,
            within=within, **extra))  # fmt: skip
        self.event("visit_due", clause, None, kind=kind, planned_at=planned, unit=unit.id)
        if kind != "supervisory":  # 4.2(2) appointment first (5.2's revisit is a phone call)
            appt_due = planned
            if appt_due <= self.now + self.policy.late_appointment_within.wall:
                appt_due = self.now + self.policy.late_appointment_within.wall
            self.open(
                "appointment",
                unit,
                due=appt_due,
                data={"visit_kind": kind, "planned_at": planned.isoformat()},
            )
        if within is not None or planned <= self.now:
            self._open_visit_task(unit, planned)
        else:
            self.wake_at(planned, "visit_day", unit=unit.id)
        return unit

    def _open_visit_task(self, unit: UnitState, when: datetime) -> TaskState:
        v = self.unit_data(unit, VisitUnit)
        # "within N working days" counts from when the visit became due.
        due = self.due_after(*((v.planned_at, v.within) if v.within else
                               (max(when, self.now), "visit_window")))[0]  # fmt: skip
        data = {"visit_kind": v.kind, "appointment_at": when.isoformat(),
                "onsite": v.kind in ONSITE_KINDS, "reason": v.reason}  # fmt: skip
        kind_of_task = "supervisory_visit" if v.kind == "supervisory" else "visit"
        return self.open(kind_of_task, unit, due=due, clause=v.clause, data=data)

    @at("visit_day")
    def _visit_day(self, data: dict[str, Any]) -> None:
        """The planned day came: the visit opens whether or not an appointment was booked."""
        unit = self.unit(data["unit"])
        if unit is not None and unit.status == "open" and not self.open_tasks("visit", unit):
            self._open_visit_task(unit, self.unit_data(unit, VisitUnit).planned_at)

    @check("appointment")
    def _check_appointment(
        self, task: TaskState, outcome: str, data: Any
    ) -> tuple[str, str] | None:
        if not isinstance(data, AppointmentData):
            return None
        latest = datetime.fromisoformat(task.data["planned_at"]) + self.policy.max_postpone.wall
        if data.appointment_at < self.now - timedelta(hours=1):
            return "data.appointment_at: the appointment is in the past", "已经过去"
        if data.appointment_at > max(latest, self.now + self.policy.max_postpone.wall):
            most = self.policy.max_postpone.label()
            return (
                f"data.appointment_at: more than {most} after the planned date",
                f"不能晚于计划日期 {most} 以上",
            )
        return None

    @after("appointment")
    def _appointment_done(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or unit.status != "open" or task.status != "done":
            return
        if task.outcome == "declined":
            self.event("visit_declined", "R1 4.2(2)", task.closed_by, kind=unit.data["kind"])
            self.v.visits_missed += 1
            self.close_unit(unit, "done", missed=True)
            return
        agreed = datetime.fromisoformat(task.data["appointment_at"])
        visit = self.open_tasks("visit", unit)
        if not visit:
            self._open_visit_task(unit, agreed)
        elif (
            not unit.data.get("within") and visit[0].due_at and end_of_day(agreed) > visit[0].due_at
        ):
            self.move_due(visit[0], end_of_day(agreed), "按预约时间回访")

    @after("visit", "supervisory_visit")
    def _visit_done(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None:
            return
        for appt in self.open_tasks("appointment", unit):
            self.cancel(appt, "回访已进行")
        if task.status != "done" or task.outcome != "done":
            self.v.visits_missed += 1
            self.event(
                "visit_missed", task.clause, None, kind=unit.data["kind"], status=task.status
            )
            self.close_unit(unit, "done", missed=True)
            return
        self.v.visits_done += 1
        self._route(self.given(VisitRecordData, task), task, unit)
        # 4.4(1) the report on the day after the visit, all materials within 3 days.
        self.open("report", unit, start=task.closed_at, data={"visit_task": task.id})
        self.open("materials", unit, start=task.closed_at, data={"visit_task": task.id})

    def _route(self, record: VisitRecordData, task: TaskState, unit: UnitState) -> None:
        """4.3(2) problems: solved / R&D / on-site / 总裁办; 4.3(1) suggestions → on-site."""
        onsite = unit.data["kind"] in ONSITE_KINDS
        for prob in record.problems:
            if prob.route == "solved":
                self.event("problem_solved", "R1 4.3(2)", task.closed_by, text=prob.text)
            elif prob.route == "rd_feedback":
                rec = self.record("rd_feedback", "《研发反馈单》", {
                    "customer_id": self.inp.customer_id, "problem": prob.text, "note": prob.note,
                    "visit_task": task.id}, created_by=task.closed_by, clause="R1 4.3(2)1)")  # fmt: skip
                self.open("rd_feedback", data={"record_id": rec, "problem": prob.text[:40]})
            elif prob.route == "onsite" and onsite:
                self.event(
                    "problem_escalation_needed", "R1 4.3(2)3)", task.closed_by, text=prob.text
                )
            elif prob.route == "onsite":
                self._extra("onsite_problem", self.policy.problem_onsite_within, prob.text,
                            "R1 4.3(2)1)", task.closed_by)  # fmt: skip
            else:
                self.open("project_review", data={"problem": prob.text[:40]})
        if record.valuable_suggestion and not onsite:
            self._extra("onsite_suggestion", self.policy.suggestion_onsite_within,
                        "；".join(record.suggestions)[:200], "R1 4.3(1)", task.closed_by)  # fmt: skip

    def _extra(
        self, kind: str, within: Deadline, reason: str, clause: str, actor: str | None, **extra: Any
    ) -> None:
        self.event("visit_scheduled", clause, actor, kind=kind, planned_at=self.now, reason=reason)
        self._open_visit(kind, self.now, within, reason=reason, **extra)

    # ---- 4.4 report, materials, review; 4.5 archive; 4.6 expenses ---------------------------------

    @after_all("report", "materials")
    def _follow_up(self, unit: UnitState, closed: dict[str, Closed]) -> None:
        """The report and the materials both closed: the expense claim, the review. (A visit
        whose report or materials closed on the code before joins kept `report_done` and
        `expenses` on its unit.)"""
        if unit.status != "open":
            return
        report, materials = closed.get("report"), closed.get("materials")
        unit.data["report_done"] = report.done if report else unit.data.get("report_done", False)
        if materials is None:
            spent = unit.data.get("expenses", [])
        else:
            spent = materials.data.get("expenses", []) if materials.done else []
        expenses = [ExpenseItem.model_validate(e) for e in spent]
        if expenses:
            self._expense_claim(expenses, unit)
        last = materials or report
        assert last is not None  # the task that just closed
        self.open("review", unit, data={"visit_task": last.data["visit_task"]})

    def _expense_claim(self, items: list[ExpenseItem], visit: UnitState) -> None:
        total = sum((i.amount_yuan for i in items), Decimal(0))
        claim = self.open_unit("expense", f"回访费用报销：{total} 元", total_yuan=str(total))
        rid = self.record(
            "expense_claim",
            "《回访费用报销单》",
            {
                "customer_id": self.inp.customer_id,
                "staff": self.inp.owner,
                "items": [i.model_dump(mode="json") for i in items],
                "total_yuan": str(total),
                "visit_unit": visit.id,
            },
            created_by=self.inp.owner,
            clause="R1 4.6(1)",
        )
        claim.data["record_id"] = rid
        self.request_approval("expense", claim, rid, measure=total)

    @after_approval("expense")
    def _expense_signed(self, claim: UnitState, approved: bool, record_id: str) -> None:
        if approved:
            self.open(
                "expense_pay",
                claim,
                data={"record_id": record_id, "cap_yuan": str(self.policy.expense_cap_yuan)},
            )
        else:
            self.close_unit(claim, "done", rejected=True)

    @after("expense_pay")
    def _expense_paid(self, task: TaskState) -> None:
        if (claim := self.unit(task.unit)) is not None:
            self.close_unit(claim)

    @check("review")
    def _check_review(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if outcome == "fine_request" and not data.severity:
            return (
                "data.severity: a fine request names falsification or serious (R1 5.1)",
                "申请罚款时须选择：弄虚作假或情节特别严重（R1 5.1）",
            )
        return None

    @after("review")
    def _reviewed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or unit.status != "open":
            return
        if task.status == "done":
            data = self.given(ReviewData, task)
            if data.charge_yuan > 0:  # 4.4(2)1) 谁的问题谁负责
                self.book(f"{task.id}/charge", clause="R1 4.4(2)1)", kind="charge",
                          party=data.charge_to or self.inp.owner, amount=data.charge_yuan,
                          rule="谁的问题谁负责：由公司安排他人处理，相关差旅和服务费用从当事人费用中扣除")  # fmt: skip
            if task.outcome == "criticise":  # 4.4(2)3)
                self.event("criticised", "R1 4.4(2)3)", task.closed_by, staff=self.inp.owner,
                           guidance=data.guidance)  # fmt: skip
                self.notify(
                    f"{task.id}/criticised", self.inp.owner, "【批评】回访工作", data.guidance
                )
            elif task.outcome in ("commend", "fine_request"):  # decided by 总裁办
                v = self.unit_data(unit, VisitUnit)
                self.open("commendation" if task.outcome == "commend" else "fine_approval", data={
                    "review_task": task.id, "severity": data.severity, "sanction": data.sanction,
                    "visit_kind": v.kind, "complaint_ref": v.complaint_ref,
                    "regional_manager": v.regional_manager,
                    "department_manager": v.department_manager})  # fmt: skip
        self.open("archive", unit, data={"category": self.inp.customer_class,
                                         "report_done": unit.data.get("report_done", False)})  # fmt: skip

    @after("commendation", "fine_approval")
    def _president_decided(self, task: TaskState) -> None:
        """4.4(2)2)/3), 5.1(2)(3), 5.2(2): 总裁办's decision goes into the ledger."""
        if task.status != "done" or task.outcome != "approve":
            return
        pen, d, owner = self.policy.penalties, task.data, self.inp.owner
        if task.kind == "commendation":
            self.book(f"{task.id}/commend", clause="R1 4.4(2)2)", party=owner, kind="commendation",
                      rule="回访效果好，总裁办批准表扬")  # fmt: skip
        elif d["visit_kind"] == "supervisory" and d["severity"] == "falsification":
            what = f"投诉 {d['complaint_ref']} 监督回访弄虚作假"
            self.book(f"{task.id}/5.2(2)/regional", clause="R1 5.2(2)", kind="dismissal",
                      party=d["regional_manager"], rule=f"{what}：当事人辞退")  # fmt: skip
            self.book(f"{task.id}/5.2(2)/department", clause="R1 5.2(2)",
                      party=d["department_manager"], rule=f"{what}：部门经理罚款",
                      amount=pen.supervisory_falsified_department_yuan)  # fmt: skip
        elif d["severity"] == "serious":
            sanction = f"，并处{d['sanction']}" if d.get("sanction") else ""
            self.book(f"{task.id}/5.1(3)", clause="R1 5.1(3)", party=owner,
                      amount=pen.serious_yuan, rule=f"情节特别严重{sanction}")  # fmt: skip
        else:
            self.book(f"{task.id}/5.1(2)", clause="R1 5.1(2)", party=owner,
                      amount=pen.falsification_yuan, rule="回访弄虚作假")  # fmt: skip

    @after("archive")
    def _archived(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if task.status == "done" and (not task.data["complete"] or not task.data["report_done"]):
            self.book(f"{task.id}/5.1(1)", clause="R1 5.1(1)", party=self.inp.department,
                      party_kind="department", amount=self.policy.penalties.archive_incomplete_yuan,
                      rule="客户档案未完整准确建立（回访报告缺失或资料不全）")  # fmt: skip
        if unit is not None:
            self.close_unit(unit)

    @after("plan")
    def _planned(self, task: TaskState) -> None:
        self.v.plan_record_id = task.data.get("record_id")

    # ---- plan-level messages -------------------------------------------------------------------

    @workflow.update(name="close_plan")
    def close_plan(self, inp: ClosePlanInput) -> str:
        self.event("close_requested", None, inp.actor.id, reason=inp.reason)
        self.event("plan_closed", None, inp.actor.id, reason=inp.reason)
        self.finish("closed", actor=inp.actor.id, reason=inp.reason)
        return "closing"

    @close_plan.validator
    def _validate_close(self, inp: ClosePlanInput) -> None:
        self.check_action("close_plan", inp.actor)
        if self._finished:
            raise refuse("Conflict", "the plan is already closed", "回访计划已经结束")

    @on_event("complaint_handled")
    def complaint_handled(self, inp: ComplaintHandledInput) -> str:
        """5.2: after a complaint is handled, a supervisory phone revisit is mandatory; the same
        whether a person reports it or a complaint case (R5) sends it as a message. Whom 5.2(1)
        fines, when the report does not name them, this case says: its owner (当事人) and its
        supervisor, else its department (部门经理)."""
        self._extra("supervisory", self.policy.supervisory_revisit_due, inp.summary, "R1 5.2",
                    inp.actor.id, complaint_ref=inp.complaint_ref,
                    regional_manager=inp.regional_manager or self.inp.owner,
                    department_manager=inp.department_manager or self.inp.supervisor
                    or self.inp.department)  # fmt: skip
        return "scheduled"

    @complaint_handled.validator
    def _validate_complaint(self, inp: ComplaintHandledInput) -> None:
        self.check_action("complaint_handled", inp.actor)
        if self._finished:
            raise refuse("Conflict", "the plan is closed", "回访计划已经结束")
