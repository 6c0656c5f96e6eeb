"""R1 `revisit` — 公司客户回访管理规定 (seed 第1篇, lines 11–161).

One case per customer (`revisit-<customer id>`), running for as long as the customer is served:

- 4.2(1) the staff member drafts the 《客户回访计划》 (purpose, methods, content; the schedule is
  computed from the regulation's numbers).
- 4.3(2) mandatory revisits: the first phone revisit 1 month after go-live, a routine phone
  revisit every 6 months after the first, on-site revisits yearly for large customers and
  every 6 months for key customers; 4.3(1) an on-site visit for a customer who made a valuable
  suggestion; a problem that cannot be solved by phone triggers an on-site visit.
- 4.2(2) each visit starts with an appointment; 4.3(4) the 《客户回访记录表》 holds every question
  and suggestion verbatim; 4.3(2)3) the visited customer signs it after an on-site visit.
- 4.3(2) problems are routed: solved / R&D feedback 《研发反馈单》 / on-site visit / 总裁办's
  quality specialist, who may open a project (立项).
- 4.4(1) the 《客户回访报告》 on the day after the visit; all materials to the supervisor within
  3 days, within 1 week only with the supervisor's approved extension.
- 4.4(2) supervisor review: charge the responsible person, commendation request or fine request
  to 总裁办, criticism. 4.5 the clerk archives per customer category. 4.6 expense claim signed by
  supervisor and division leader, paid by finance up to the company cap; the excess is the
  staff member's.
- 5.1 / 5.2 penalties into the ledger.

Choices where the text is silent (a careful customer-service manager's reading):
- Every number is a `RevisitPolicy` field. Durations the text does not give (plan 3 working days,
  review / archive 3 working days, suggestion on-site within 14 days, problem on-site within
  7 days, supervisory revisit 2 working days as in R5) are defaults a company can change.
- The schedule is a fixed grid from go-live (09:00 China time): phone at +1 month, then every
  6 months from the first; on-site at every 12 (large) / 6 (key) months from go-live. A case
  started long after go-live does only the latest overdue visit of each grid, not every missed one.
- One visit is worked per run (appointment → visit → report + materials → review → archive,
  expense claim beside them); then the case continues as new, so history stays small for years.
- A task nobody acts on is reminded before its due time, breaches (the supervisor is told; the
  regulation's penalty is booked where section 5 names one) and lapses `lapse_after` past due,
  so the plan never stalls. A visit that lapses is recorded as missed; nothing is reported for it.
- 5.1(1) (incomplete archive, 1000 元 from the department budget) is booked when the clerk's
  archive task breaches, or when the archive is declared incomplete or the report is missing.
- 5.2 a supervisory phone revisit after a handled complaint (signal from the complaint process or
  an action by staff) not done in time books 500 元 on the regional manager and 300 元 on the
  department manager; falsified (supervisor review) books dismissal and 500 元.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import (
        BaseModel,
        ConfigDict,
        Field,
        ValidationError,
        field_validator,
        model_validator,
    )

    from workflows.engine import CaseCore, CaseWorkflow, refuse
    from workflows.model import (
        CHINA_TZ,
        Actor,
        CompleteTaskInput,
        Deadline,
        TaskState,
    )
    from workflows.registry import ActionSpec, RegulationEntry

CODE = "revisit"
CustomerClass = Literal["regular", "large", "key"]
VisitKind = Literal[
    "first_phone", "routine_phone", "onsite", "onsite_suggestion", "onsite_problem", "supervisory"
]
ONSITE_KINDS = ("onsite", "onsite_suggestion", "onsite_problem")

KIND_ZH: dict[str, str] = {
    "first_phone": "首次电话回访",
    "routine_phone": "常规电话回访",
    "onsite": "现场回访",
    "onsite_suggestion": "上门回访（客户提出中肯意见或良好建议）",
    "onsite_problem": "现场回访（电话无法解决的问题）",
    "supervisory": "投诉处理后的监督调查性电话回访",
}
KIND_CLAUSE: dict[str, str] = {
    "first_phone": "R1 4.3(2)1)",
    "routine_phone": "R1 4.3(2)2)",
    "onsite": "R1 4.3(2)3)",
    "onsite_suggestion": "R1 4.3(1)",
    "onsite_problem": "R1 4.3(2)1)",
    "supervisory": "R1 5.2",
}


# ---- input, policy ---------------------------------------------------------------------------


class Contact(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    title: str | None = Field(None, max_length=100, description="职务")
    phone: str | None = Field(None, max_length=50)
    email: str | None = Field(None, max_length=200)


class RevisitInput(BaseModel):
    """Start a revisit plan for one customer."""

    customer_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="客户编号")
    customer_name: str = Field(min_length=1, max_length=200, description="客户名称")
    customer_class: CustomerClass = Field(
        "regular", description="regular 普通 / large 大客户 / key 特大或重要客户"
    )
    go_live: date = Field(description="产品安装或上线日期")
    owner: str = Field(min_length=1, max_length=64, description="负责的销售/客服人员（用户名）")
    supervisor: str | None = Field(
        None, max_length=64, description="部门主管（用户名），空则由任一主管处理"
    )
    department: str = Field("客户服务部", min_length=1, max_length=100, description="部门")
    contacts: list[Contact] = Field(
        min_length=1, description="客户联系人（设备负责人、行政管理人员、使用人员）"
    )

    @field_validator("go_live")
    @classmethod
    def _plausible(cls, v: date) -> date:
        if v.year < 2000 or v.year > 2100:
            raise ValueError("go_live must be a real date between 2000 and 2100")
        return v


class Period(BaseModel):
    """A calendar period of the schedule ("1 month", "every 6 months")."""

    months: int = Field(0, ge=0)
    days: float = Field(0, ge=0)
    seconds: float = Field(0, ge=0)

    def times(self, start: datetime, k: int) -> datetime:
        """start + k periods (months clamp to the month's last day)."""
        months = self.months * k
        y, m = divmod(start.month - 1 + months, 12)
        year, month = start.year + y, m + 1
        last = (date(year + (month // 12), month % 12 + 1, 1) - timedelta(days=1)).day
        moved = start.replace(year=year, month=month, day=min(start.day, last))
        return moved + k * timedelta(days=self.days, seconds=self.seconds)


class RevisitPenalties(BaseModel):
    archive_incomplete_yuan: float = Field(
        1000, description="5.1(1) 未完整准确建立客户档案，部门经费"
    )
    falsification_yuan: float = Field(100, description="5.1(2) 弄虚作假")
    serious_yuan: float = Field(500, description="5.1(3) 情节特别严重")
    supervisory_missed_regional_yuan: float = Field(500, description="5.2(1) 未回访，当事人")
    supervisory_missed_department_yuan: float = Field(300, description="5.2(1) 未回访，部门经理")
    supervisory_falsified_department_yuan: float = Field(
        500, description="5.2(2) 弄虚作假，部门经理"
    )


class RevisitPolicy(BaseModel):
    """R1's numbers. Defaults are the regulation's; a company overrides them in its policy file."""

    first_phone_after: Period = Period(months=1)  # 4.3(2)1)
    routine_phone_every: Period = Period(months=6)  # 4.3(2)2)
    onsite_every: dict[str, Period | None] = {  # 4.3(2)3)
        "regular": None,
        "large": Period(months=12),
        "key": Period(months=6),
    }
    plan_due: Deadline = Deadline(working_days=3)  # 4.2(1), not stated
    appointment_lead: Deadline = Deadline(days=7)  # 4.2(2): contact before the visit date
    late_appointment_within: Deadline = Deadline(days=1)
    max_postpone: Deadline = Deadline(days=30)
    visit_window: Deadline = Deadline(end_of_day=True)  # 4.3(4) 日清日结: recorded the same day
    visit_extend_max: Deadline = Deadline(days=14)
    suggestion_onsite_within: Deadline = Deadline(days=14)  # 4.3(1)
    problem_onsite_within: Deadline = Deadline(days=7)  # 4.3(2)1)
    supervisory_revisit_due: Deadline = Deadline(working_days=2)  # 5.2
    report_due: Deadline = Deadline(days=1, end_of_day=True)  # 4.4(1)1) 第二天
    materials_due: Deadline = Deadline(days=3)  # 4.4(1)2) 三天内
    materials_extended_max: Deadline = Deadline(days=7)  # 4.4(1)2) 经主管同意一周内
    review_due: Deadline = Deadline(working_days=3)  # 4.4(2)
    archive_due: Deadline = Deadline(working_days=3)  # 4.5(1)
    approval_due: Deadline = Deadline(working_days=3)  # 4.6(1), 总裁办 decisions
    rd_feedback_due: Deadline = Deadline(working_days=10)  # 4.3(2)1)
    reminder_before: Deadline = Deadline(hours=24)
    lapse_after: Deadline = Deadline(days=30)
    expense_cap_yuan: float = Field(
        500, ge=0, description="4.6(2) 公司限定的回访费用额度（每次回访）"
    )
    penalties: RevisitPenalties = RevisitPenalties()


# ---- task data (validated when a task is completed) --------------------------------------------


class TaskData(BaseModel):
    """Base of what people send when completing a task: unknown keys are refused, so a client
    cannot slip values the workflow relies on (record ids, flags) into a task's data."""

    model_config = ConfigDict(extra="forbid")


TD = TypeVar("TD", bound=TaskData)


class NoteData(TaskData):
    """Tasks whose outcome is the decision itself (approve / reject / paid …): an optional note."""

    note: str = Field("", max_length=2000)


class PlanData(TaskData):
    """《客户回访计划》 4.2(1)."""

    purposes: list[Literal["product_use", "archive_service", "relationship"]] = Field(min_length=1)
    methods: list[Literal["phone", "letter", "email", "im", "onsite"]] = Field(min_length=1)
    content: str = Field(min_length=2)


class AppointmentData(TaskData):
    appointment_at: datetime
    place: str | None = None

    @field_validator("appointment_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("appointment_at needs a time zone, e.g. 2026-12-01T10:00:00+08:00")
        return v


class Problem(TaskData):
    text: str = Field(min_length=1, description="问题原文")
    route: Literal["solved", "rd_feedback", "onsite", "president_office"]
    note: str | None = None


class CustomerSignature(TaskData):
    signer_name: str = Field(min_length=1)
    method: Literal["drawing", "otp"]
    # drawing: the image data URL drawn on screen; otp: "otp:<code id>:<code hash>", set only
    # by the server after it checked the one-time code the customer received
    evidence: str = Field(min_length=8)

    @model_validator(mode="after")
    def _evidence_matches_method(self) -> CustomerSignature:
        prefix = "data:image/" if self.method == "drawing" else "otp:"
        if not self.evidence.startswith(prefix):
            raise ValueError(f"evidence of a {self.method} signature must start with {prefix!r}")
        return self


class VisitRecordData(TaskData):
    """《客户回访记录表》 4.3(4): every question and suggestion verbatim."""

    contact_person: str = Field(min_length=1)
    method: Literal["phone", "letter", "email", "im", "onsite"]
    product_needs: str = ""
    usage: str = Field(min_length=1, description="产品使用情况")
    service_rating: int = Field(ge=1, le=5)
    questions: list[str] = Field(default_factory=list, description="客户提出的问题（原始记录）")
    suggestions: list[str] = Field(default_factory=list, description="客户的意见与建议（原始记录）")
    valuable_suggestion: bool = False
    problems: list[Problem] = Field(default_factory=list)
    customer_signature: CustomerSignature | None = None


class ReportData(TaskData):
    """《客户回访报告》 4.4(1)1)."""

    summary: str = Field(min_length=2)
    evaluation: str = Field(min_length=1)


class ExpenseItem(TaskData):
    item: str = Field(min_length=1)
    amount_yuan: float = Field(gt=0)
    receipt_no: str | None = None


class MaterialsData(TaskData):
    note: str = ""
    expenses: list[ExpenseItem] = Field(default_factory=list)


class ReviewData(TaskData):
    """4.4(2) supervisor's guidance."""

    guidance: str = Field(min_length=2)
    charge_to: str | None = None
    charge_yuan: float = Field(0, ge=0)
    severity: Literal["falsification", "serious"] | None = None
    sanction: str | None = Field(None, description="5.1(3) 降薪/降职/调岗/辞退")


class ArchiveData(TaskData):
    complete: bool
    note: str = ""


def given(model: type[TD], task: TaskState) -> TD:
    """What the person supplied when completing `task` (the task's data also holds the
    workflow's own keys, which the strict model would refuse)."""
    return model.model_validate({k: v for k, v in task.data.items() if k in model.model_fields})


TASK_DATA: dict[str, type[BaseModel]] = {
    "plan": PlanData,
    "report": ReportData,
    "materials": MaterialsData,
    "review": ReviewData,
    "archive": ArchiveData,
}


# ---- case state ---------------------------------------------------------------------------------


class PlannedVisit(BaseModel):
    kind: VisitKind
    planned_at: datetime
    due_within: Deadline | None = None
    reason: str = ""
    complaint_ref: str | None = None
    regional_manager: str | None = None
    department_manager: str | None = None


class RevisitCarry(BaseModel):
    core: CaseCore
    phone_k: int = 0  # 0 = first phone revisit; k >= 1 = routine revisit k
    onsite_k: int = 1
    extras: list[PlannedVisit] = Field(default_factory=list)
    visits_done: int = 0
    visits_missed: int = 0
    plan_record_id: str | None = None


class RevisitRun(BaseModel):
    input: RevisitInput
    policy: RevisitPolicy
    started_by: str | None = None
    carry: RevisitCarry | None = None


class ClosePlanInput(BaseModel):
    actor: Actor
    reason: str = Field(min_length=2, max_length=1000)


class ComplaintHandledInput(BaseModel):
    actor: Actor
    complaint_ref: str = Field(min_length=1, max_length=100)
    summary: str = Field(min_length=1, max_length=2000)
    regional_manager: str = Field(
        min_length=1, max_length=64, description="当事人（区域销售经理或服务经理）"
    )
    department_manager: str = Field(min_length=1, max_length=64)


def anchor(go_live: date) -> datetime:
    return datetime.combine(go_live, time(9, 0), CHINA_TZ)


# ---- the workflow ---------------------------------------------------------------------------------


@workflow.defn(name="zhidu.revisit")
class RevisitWorkflow(CaseWorkflow):
    REGULATION = CODE

    def __init__(self) -> None:
        super().__init__()
        self.inp: RevisitInput | None = None
        self.policy = RevisitPolicy()
        self.carry = RevisitCarry(core=CaseCore())
        self.schedule_version = 0
        self.side: list[asyncio.Task[Any]] = []

    @workflow.run
    async def run(self, arg: RevisitRun) -> str:
        inp, self.policy, self.inp = arg.input, arg.policy, arg.input
        self.setup(
            arg.carry.core if arg.carry else None,
            title=f"客户回访：{inp.customer_name}（{inp.customer_id}）",
            case_input=inp,
            policy=arg.policy,
            customer_id=inp.customer_id,
            started_by=arg.started_by,
        )
        if arg.carry is None:
            self.carry = RevisitCarry(core=self.core)
            self._catch_up()
            self.event("plan_started", "R1 4.1", arg.started_by, customer_class=inp.customer_class)
            self.side.append(asyncio.create_task(self._plan()))
        else:
            self.carry = arg.carry
            self.core.run += 1
            self.event("run_continued", None, None, run=self.core.run)
        self.carry.core = self.core
        self._summarize(self._next_visit())
        await self.flush()

        visit = None
        while not self.closing:
            visit = self._next_visit()
            self._summarize(visit)
            opens = visit.planned_at - self.policy.appointment_lead.wall
            if await self._sleep_until_visit_opens(opens):
                continue
            self._take(visit)
            await self._visit(visit)
            break

        if self.side:
            await asyncio.gather(*self.side)
        if not self.closing:
            await self.drain()
        if self.closing:  # also when close_plan arrived while draining
            return await self._close()
        self.carry.core = self.core
        workflow.continue_as_new(
            RevisitRun(input=inp, policy=self.policy, started_by=arg.started_by, carry=self.carry)
        )

    async def _sleep_until_visit_opens(self, opens: datetime) -> bool:
        """Sleep until the visit's appointment opens; True if woken early (closing, or a new
        visit was scheduled that may come first)."""
        version = self.schedule_version
        return await self.sleep_until(
            opens, lambda: bool(self.closing) or self.schedule_version != version
        )

    # ---- schedule 4.3(2) -------------------------------------------------------------------------

    def _first_phone_at(self) -> datetime:
        assert self.inp
        return self.policy.first_phone_after.times(anchor(self.inp.go_live), 1)

    def _phone_at(self, k: int) -> datetime:
        first = self._first_phone_at()
        return first if k == 0 else self.policy.routine_phone_every.times(first, k)

    def _onsite_period(self) -> Period | None:
        assert self.inp
        return self.policy.onsite_every.get(self.inp.customer_class)

    def _onsite_at(self, k: int) -> datetime | None:
        assert self.inp
        period = self._onsite_period()
        return period.times(anchor(self.inp.go_live), k) if period else None

    def _catch_up(self) -> None:
        """A plan started after go-live does the latest overdue visit of each grid only."""
        now = self.now
        while self._phone_at(self.carry.phone_k + 1) <= now:
            self.carry.phone_k += 1
        while (nxt := self._onsite_at(self.carry.onsite_k + 1)) is not None and nxt <= now:
            self.carry.onsite_k += 1

    def _next_visit(self) -> PlannedVisit:
        k = self.carry.phone_k
        options = [
            PlannedVisit(
                kind="first_phone" if k == 0 else "routine_phone", planned_at=self._phone_at(k)
            )
        ]
        onsite = self._onsite_at(self.carry.onsite_k)
        if onsite is not None:
            options.append(PlannedVisit(kind="onsite", planned_at=onsite))
        options.extend(self.carry.extras)
        return min(options, key=lambda v: v.planned_at)

    def _take(self, visit: PlannedVisit) -> None:
        if visit in self.carry.extras:
            self.carry.extras.remove(visit)
        elif visit.kind == "onsite":
            self.carry.onsite_k += 1
        else:
            self.carry.phone_k += 1

    def _add_extra(self, visit: PlannedVisit, clause: str, actor: str | None) -> None:
        self.carry.extras.append(visit)
        self.schedule_version += 1
        self.event(
            "visit_scheduled",
            clause,
            actor,
            kind=visit.kind,
            planned_at=visit.planned_at,
            reason=visit.reason,
        )

    def _summarize(self, nxt: PlannedVisit | None) -> None:
        assert self.inp
        self.summary = {
            "customer_id": self.inp.customer_id,
            "customer_class": self.inp.customer_class,
            "next_visit": {"kind": nxt.kind, "planned_at": nxt.planned_at.isoformat()}
            if nxt
            else None,
            "visits_done": self.carry.visits_done,
            "visits_missed": self.carry.visits_missed,
            "pending_extra_visits": [v.kind for v in self.carry.extras],
        }

    # ---- plan 4.2(1) -------------------------------------------------------------------------

    async def _plan(self) -> None:
        assert self.inp
        task = await self.open_task(
            "plan",
            role="staff",
            assignee=self.inp.owner,
            title=f"制订《客户回访计划》：{self.inp.customer_name}",
            clause="R1 4.2(1)",
            deadline=self.policy.plan_due,
            remind_before=self.policy.reminder_before,
        )
        await self.await_task(task, lapse_after=self.policy.lapse_after)

    # ---- one visit ------------------------------------------------------------------------------

    async def _visit(self, visit: PlannedVisit) -> None:
        assert self.inp
        p, inp = self.policy, self.inp
        clause, name = KIND_CLAUSE[visit.kind], KIND_ZH[visit.kind]
        self.event("visit_due", clause, None, kind=visit.kind, planned_at=visit.planned_at)
        when = visit.planned_at
        if visit.kind != "supervisory":
            # 4.2(2) appointment first.
            appt_due = visit.planned_at
            if appt_due <= self.now + p.late_appointment_within.wall:
                appt_due, _ = await self.due_after(self.now, p.late_appointment_within)
            appt = await self.open_task(
                "appointment",
                role="staff",
                assignee=inp.owner,
                title=f"预约{name}：{inp.customer_name}",
                clause="R1 4.2(2)",
                due_at=appt_due,
                outcomes=["agreed", "declined"],
                extend_limits={"supervisor": p.max_postpone},
                remind_before=p.reminder_before,
                data={"visit_kind": visit.kind, "planned_at": visit.planned_at.isoformat()},
            )
            await self.await_task(appt, lapse_after=p.lapse_after)
            if self.closing:
                return
            if appt.status == "done" and appt.outcome == "declined":
                self.event("visit_declined", "R1 4.2(2)", appt.closed_by, kind=visit.kind)
                self.carry.visits_missed += 1
                return
            if appt.status == "done":
                when = given(AppointmentData, appt).appointment_at
            when = max(when, self.now)
        if visit.due_within is not None:
            # "within 2 working days" counts from when the visit became due, not from when this
            # plan got round to it.
            due, _ = await self.due_after(visit.planned_at, visit.due_within)
        else:
            due, _ = await self.due_after(when, p.visit_window)
        task = await self.open_task(
            "visit",
            role="staff",
            assignee=visit.regional_manager if visit.kind == "supervisory" else inp.owner,
            title=f"{name}：{inp.customer_name}",
            clause=clause,
            due_at=due,
            outcomes=["done", "unreachable"],
            extend_limits={"supervisor": p.visit_extend_max},
            remind_before=p.reminder_before,
            data={
                "visit_kind": visit.kind,
                "appointment_at": when.isoformat(),
                "reason": visit.reason,
            },
        )

        async def supervisory_breach(t: TaskState) -> None:
            # An extension moves the deadline, it does not waive 5.2(1): a breach of the new
            # due is fined too (once: the penalty ids are per task).
            if visit.kind != "supervisory":
                return
            pen = p.penalties
            self.penalty(
                f"{t.id}/5.2(1)/regional",
                clause="R1 5.2(1)",
                party=visit.regional_manager or inp.owner,
                amount_yuan=pen.supervisory_missed_regional_yuan,
                rule=f"投诉 {visit.complaint_ref} 处理后未进行监督调查性电话回访（当事人）",
            )
            self.penalty(
                f"{t.id}/5.2(1)/department",
                clause="R1 5.2(1)",
                party=visit.department_manager or inp.department,
                amount_yuan=pen.supervisory_missed_department_yuan,
                rule=f"投诉 {visit.complaint_ref} 处理后未进行监督调查性电话回访（部门经理）",
            )

        await self.await_task(task, on_breach=supervisory_breach, lapse_after=p.lapse_after)
        if task.status != "done" or task.outcome != "done":
            self.carry.visits_missed += 1
            self.event("visit_missed", clause, None, kind=visit.kind, status=task.status)
            await self.flush()
            return
        self.carry.visits_done += 1
        record = given(VisitRecordData, task)
        self._route(record, task, visit)
        await self._follow_up(task, visit)

    def _route(self, record: VisitRecordData, task: TaskState, visit: PlannedVisit) -> None:
        """4.3(2) problems: solved / R&D / on-site / 总裁办; 4.3(1) suggestions → on-site."""
        assert self.inp
        p = self.policy
        for i, prob in enumerate(record.problems, start=1):
            if prob.route == "solved":
                self.event("problem_solved", "R1 4.3(2)", task.closed_by, text=prob.text)
            elif prob.route == "rd_feedback":
                rec = self.add_record(
                    "rd_feedback",
                    "《研发反馈单》",
                    {
                        "customer_id": self.inp.customer_id,
                        "problem": prob.text,
                        "note": prob.note,
                        "visit_task": task.id,
                    },
                    created_by=task.closed_by,
                    clause="R1 4.3(2)1)",
                )
                self.side.append(
                    asyncio.create_task(
                        self._side_task(
                            "rd_feedback",
                            "rd",
                            f"处理客户技术反馈：{prob.text[:40]}",
                            "R1 4.3(2)1)",
                            p.rd_feedback_due,
                            ["accepted", "rejected"],
                            {"record_id": rec, "n": i},
                        )
                    )
                )
            elif prob.route == "onsite":
                if visit.kind in ONSITE_KINDS:
                    self.event(
                        "problem_escalation_needed", "R1 4.3(2)3)", task.closed_by, text=prob.text
                    )
                else:
                    self._add_extra(
                        PlannedVisit(
                            kind="onsite_problem",
                            planned_at=self.now,
                            due_within=p.problem_onsite_within,
                            reason=prob.text,
                        ),
                        "R1 4.3(2)1)",
                        task.closed_by,
                    )
            else:
                self.side.append(
                    asyncio.create_task(
                        self._side_task(
                            "project_review",
                            "quality_specialist",
                            f"评估是否立项：{prob.text[:40]}",
                            "R1 4.3(2)3)",
                            p.approval_due,
                            ["project", "no_project"],
                            {"problem": prob.text},
                        )
                    )
                )
        if record.valuable_suggestion and visit.kind not in ONSITE_KINDS:
            self._add_extra(
                PlannedVisit(
                    kind="onsite_suggestion",
                    planned_at=self.now,
                    due_within=p.suggestion_onsite_within,
                    reason="；".join(record.suggestions)[:200],
                ),
                "R1 4.3(1)",
                task.closed_by,
            )

    async def _side_task(
        self,
        kind: str,
        role: str,
        title: str,
        clause: str,
        deadline: Deadline,
        outcomes: list[str],
        data: dict[str, Any],
    ) -> TaskState:
        task = await self.open_task(
            kind,
            role=role,
            title=title,
            clause=clause,
            deadline=deadline,
            outcomes=outcomes,
            remind_before=self.policy.reminder_before,
            data=data,
        )
        return await self.await_task(task, lapse_after=self.policy.lapse_after)

    async def _follow_up(self, visit_task: TaskState, visit: PlannedVisit) -> None:
        """4.4 report, materials, review; 4.5 archive; 4.6 expenses."""
        assert self.inp
        p, inp = self.policy, self.inp
        report = await self.open_task(
            "report",
            role="staff",
            assignee=inp.owner,
            title=f"编制《客户回访报告》：{inp.customer_name}",
            clause="R1 4.4(1)1)",
            deadline=p.report_due,
            remind_before=p.reminder_before,
            start=visit_task.closed_at,
            data={"visit_task": visit_task.id},
        )
        materials = await self.open_task(
            "materials",
            role="staff",
            assignee=inp.owner,
            title=f"回访资料提交部门主管审核：{inp.customer_name}",
            clause="R1 4.4(1)2)",
            deadline=p.materials_due,
            remind_before=p.reminder_before,
            start=visit_task.closed_at,
            extend_limits={"supervisor": p.materials_extended_max},
            data={"visit_task": visit_task.id},
        )
        await asyncio.gather(
            self.await_task(report, lapse_after=p.lapse_after),
            self.await_task(materials, lapse_after=p.lapse_after, escalate_to=inp.supervisor),
        )
        if self.closing:
            return
        if materials.status == "done":
            expenses = given(MaterialsData, materials).expenses
            if expenses:
                self.side.append(asyncio.create_task(self._expenses(expenses, visit_task)))

        review = await self.open_task(
            "review",
            role="supervisor",
            assignee=inp.supervisor,
            title=f"审阅回访记录与报告：{inp.customer_name}",
            clause="R1 4.4(2)",
            deadline=p.review_due,
            remind_before=p.reminder_before,
            outcomes=["accept", "commend", "criticise", "fine_request"],
            data={"visit_task": visit_task.id, "report_task": report.id},
        )
        await self.await_task(review, lapse_after=p.lapse_after, escalate_to="role:division_leader")
        if review.status == "done":
            self._review_decisions(review, visit)
        if self.closing:
            return

        archive = await self.open_task(
            "archive",
            role="clerk",
            title=f"回访资料汇总存档：{inp.customer_name}",
            clause="R1 4.5(1)",
            deadline=p.archive_due,
            remind_before=p.reminder_before,
            data={"category": inp.customer_class, "report_done": report.status == "done"},
        )

        async def archive_breach(t: TaskState) -> None:
            self._archive_penalty(t, "回访资料未按期汇总存档，客户档案不完整")

        await self.await_task(archive, on_breach=archive_breach, lapse_after=p.lapse_after)
        if archive.status == "done":
            complete = given(ArchiveData, archive).complete
            if not complete or report.status != "done":
                self._archive_penalty(archive, "客户档案未完整准确建立（回访报告缺失或资料不全）")
        await self.flush()

    def _archive_penalty(self, task: TaskState, rule: str) -> None:
        assert self.inp
        if task.data.get("penalised"):
            return
        task.data["penalised"] = True
        self._touch(task)
        self.penalty(
            f"{task.id}/5.1(1)",
            clause="R1 5.1(1)",
            party=self.inp.department,
            party_kind="department",
            amount_yuan=self.policy.penalties.archive_incomplete_yuan,
            rule=rule,
        )

    def _review_decisions(self, review: TaskState, visit: PlannedVisit) -> None:
        assert self.inp
        inp = self.inp
        data = given(ReviewData, review)
        if data.charge_yuan > 0:
            self.penalty(
                f"{review.id}/charge",
                clause="R1 4.4(2)1)",
                party=data.charge_to or inp.owner,
                amount_yuan=data.charge_yuan,
                kind="charge",
                rule="谁的问题谁负责：由公司安排他人处理，相关差旅和服务费用从当事人费用中扣除",
            )
        if review.outcome == "criticise":
            self.event(
                "criticised",
                "R1 4.4(2)3)",
                review.closed_by,
                staff=inp.owner,
                guidance=data.guidance,
            )
            self.notify(f"{review.id}/criticised", inp.owner, "【批评】回访工作", data.guidance)
        elif review.outcome in ("commend", "fine_request"):
            self.side.append(asyncio.create_task(self._president_decision(review, visit, data)))

    async def _president_decision(
        self, review: TaskState, visit: PlannedVisit, data: ReviewData
    ) -> None:
        """4.4(2)2)/3): commendation or fine, decided by 总裁办."""
        assert self.inp
        inp, pen = self.inp, self.policy.penalties
        commend = review.outcome == "commend"
        task = await self._side_task(
            "commendation" if commend else "fine_approval",
            "president_office",
            f"{'表扬申请' if commend else '罚款审批'}：{inp.owner}（{inp.customer_name}）",
            "R1 4.4(2)2)" if commend else "R1 4.4(2)3)",
            self.policy.approval_due,
            ["approve", "decline"],
            {"review_task": review.id, "severity": data.severity},
        )
        if task.status != "done" or task.outcome != "approve":
            return
        if commend:
            self.penalty(
                f"{task.id}/commend",
                clause="R1 4.4(2)2)",
                party=inp.owner,
                amount_yuan=0,
                kind="commendation",
                rule="回访效果好，总裁办批准表扬",
            )
        elif visit.kind == "supervisory" and data.severity == "falsification":
            self.penalty(
                f"{task.id}/5.2(2)/regional",
                clause="R1 5.2(2)",
                party=visit.regional_manager or inp.owner,
                amount_yuan=0,
                kind="dismissal",
                rule=f"投诉 {visit.complaint_ref} 监督回访弄虚作假：当事人辞退",
            )
            self.penalty(
                f"{task.id}/5.2(2)/department",
                clause="R1 5.2(2)",
                party=visit.department_manager or inp.department,
                amount_yuan=pen.supervisory_falsified_department_yuan,
                rule=f"投诉 {visit.complaint_ref} 监督回访弄虚作假：部门经理罚款",
            )
        elif data.severity == "serious":
            self.penalty(
                f"{task.id}/5.1(3)",
                clause="R1 5.1(3)",
                party=inp.owner,
                amount_yuan=pen.serious_yuan,
                rule=f"情节特别严重{('，并处' + data.sanction) if data.sanction else ''}",
            )
        else:
            self.penalty(
                f"{task.id}/5.1(2)",
                clause="R1 5.1(2)",
                party=inp.owner,
                amount_yuan=pen.falsification_yuan,
                rule="回访弄虚作假",
            )
        await self.flush()

    async def _expenses(self, items: list[ExpenseItem], visit_task: TaskState) -> None:
        """4.6: supervisor and division leader sign, finance pays up to the cap."""
        assert self.inp
        inp, p = self.inp, self.policy
        total = round(sum(i.amount_yuan for i in items), 2)
        claim = self.add_record(
            "expense_claim",
            "《回访费用报销单》",
            {
                "customer_id": inp.customer_id,
                "staff": inp.owner,
                "items": [i.model_dump() for i in items],
                "total_yuan": total,
                "visit_task": visit_task.id,
            },
            created_by=inp.owner,
            clause="R1 4.6(1)",
        )
        for role, title in (
            ("supervisor", "部门主管审核签字"),
            ("division_leader", "分管领导审核签字"),
        ):
            task = await self._side_task(
                "expense_sign",
                role,
                f"回访费用报销{title}：{total:.2f} 元",
                "R1 4.6(1)",
                p.approval_due,
                ["approve", "reject"],
                {"record_id": claim, "total_yuan": total},
            )
            if task.status != "done" or task.outcome != "approve":
                self.event("expense_rejected", "R1 4.6(1)", task.closed_by, record_id=claim)
                await self.flush()
                return
        pay = await self._side_task(
            "expense_pay",
            "finance",
            f"回访费用报销：{total:.2f} 元",
            "R1 4.6(2)",
            p.approval_due,
            ["paid"],
            {"record_id": claim, "total_yuan": total, "cap_yuan": p.expense_cap_yuan},
        )
        if pay.status == "done":
            reimbursed = min(total, p.expense_cap_yuan)
            self.add_record(
                "expense_payment",
                "回访费用报销结果",
                {
                    "claim": claim,
                    "total_yuan": total,
                    "cap_yuan": p.expense_cap_yuan,
                    "reimbursed_yuan": reimbursed,
                    "borne_by_staff_yuan": round(total - reimbursed, 2),
                    "staff": inp.owner,
                },
                created_by=pay.closed_by,
                clause="R1 4.6(2)",
            )
            await self.flush()

    # ---- completion hooks -----------------------------------------------------------------------

    @staticmethod
    def _data_model(task: TaskState, outcome: str) -> type[BaseModel]:
        """The model a task's completion data must match, by task kind and outcome."""
        if task.kind == "visit":
            return VisitRecordData if outcome == "done" else NoteData
        if task.kind == "appointment":
            return AppointmentData if outcome == "agreed" else NoteData
        return TASK_DATA.get(task.kind, NoteData)

    def check_completion(self, task: TaskState, inp: CompleteTaskInput) -> None:
        try:
            data = self._data_model(task, inp.outcome).model_validate(inp.data)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise refuse("Invalid", f"data.{loc}: {first['msg']}") from None
        if isinstance(data, VisitRecordData):
            if task.data.get("visit_kind") in ONSITE_KINDS and data.customer_signature is None:
                raise refuse(
                    "Invalid",
                    "data.customer_signature: the visited customer must sign the "
                    "《客户回访记录表》 after an on-site revisit (R1 4.3(2)3))",
                )
        elif isinstance(data, AppointmentData):
            latest = datetime.fromisoformat(task.data["planned_at"]) + self.policy.max_postpone.wall
            if data.appointment_at < self.now - timedelta(hours=1):
                raise refuse("Invalid", "data.appointment_at: the appointment is in the past")
            if data.appointment_at > max(latest, self.now + self.policy.max_postpone.wall):
                raise refuse(
                    "Invalid",
                    "data.appointment_at: more than "
                    f"{self.policy.max_postpone.label()} after the planned date",
                )
        elif isinstance(data, ReviewData) and inp.outcome == "fine_request" and not data.severity:
            raise refuse(
                "Invalid", "data.severity: a fine request names falsification or serious (R1 5.1)"
            )

    def on_task_completed(self, task: TaskState, inp: CompleteTaskInput) -> None:
        assert self.inp
        cust = {
            "customer_id": self.inp.customer_id,
            "customer_name": self.inp.customer_name,
            "customer_class": self.inp.customer_class,
        }
        cat = self.inp.customer_class
        if task.kind == "plan":
            plan = PlanData.model_validate(inp.data)
            nxt = self._next_visit()
            self.carry.plan_record_id = self.add_record(
                "revisit_plan",
                "《客户回访计划》",
                {
                    **cust,
                    **plan.model_dump(),
                    "go_live": self.inp.go_live.isoformat(),
                    "first_phone_at": self._first_phone_at().isoformat(),
                    "routine_phone_every": self.policy.routine_phone_every.model_dump(),
                    "onsite_every": (p.model_dump() if (p := self._onsite_period()) else None),
                    "next_visit": {"kind": nxt.kind, "planned_at": nxt.planned_at.isoformat()},
                },
                created_by=inp.actor.id,
                category=cat,
                clause="R1 4.2(1)",
            )
        elif task.kind == "visit" and inp.outcome == "done":
            rec = VisitRecordData.model_validate(inp.data)
            body = rec.model_dump(exclude={"customer_signature"})
            rid = self.add_record(
                "revisit_record",
                "《客户回访记录表》",
                {
                    **cust,
                    **body,
                    "visit_kind": task.data.get("visit_kind"),
                    "visited_at": self.now.isoformat(),
                    "staff": inp.actor.id,
                    "contacts": [c.model_dump() for c in self.inp.contacts],
                },
                created_by=inp.actor.id,
                category=cat,
                clause=task.clause,
            )
            self.sign(
                rid, signer=inp.actor.id, role="staff", method="staff_login", clause="R1 4.3(4)"
            )
            if rec.customer_signature:
                sig = rec.customer_signature
                self.sign(
                    rid,
                    signer=sig.signer_name,
                    role="customer",
                    method=sig.method,
                    evidence=sig.evidence,
                    clause="R1 4.3(2)3)",
                )
        elif task.kind == "report":
            self.add_record(
                "revisit_report",
                "《客户回访报告》",
                {**cust, **inp.data},
                created_by=inp.actor.id,
                category=cat,
                clause="R1 4.4(1)1)",
            )
        elif task.kind == "review":
            self.add_record(
                "revisit_review",
                "主管审阅意见",
                {**cust, "decision": inp.outcome, **inp.data},
                created_by=inp.actor.id,
                category=cat,
                clause="R1 4.4(2)",
            )
        elif task.kind == "archive":
            self.add_record(
                "revisit_archive",
                "客户档案（回访资料汇总）",
                {**cust, **inp.data, "plan_record": self.carry.plan_record_id},
                created_by=inp.actor.id,
                category=cat,
                clause="R1 4.5(1)",
            )
        elif task.kind == "expense_sign" and inp.outcome == "approve":
            self.sign(
                task.data["record_id"],
                signer=inp.actor.id,
                role=task.role,
                method="staff_login",
                clause="R1 4.6(1)",
            )

    # ---- plan-level messages ------------------------------------------------------------------

    @workflow.update(name="close_plan")
    def close_plan(self, inp: ClosePlanInput) -> str:
        self.closing = inp.reason
        self.closed_by = inp.actor.id
        self.event("close_requested", None, inp.actor.id, reason=inp.reason)
        for t in self.tasks:
            if t.status == "open":
                t.status = "cancelled"
                t.closed_at = self.now
                t.closed_by = inp.actor.id
                self._touch(t)
        return "closing"

    @close_plan.validator
    def _validate_close(self, inp: ClosePlanInput) -> None:
        if not {"supervisor", "admin"} & set(inp.actor.roles):
            raise refuse("Forbidden", f"{inp.actor.id}: only 部门主管 may close a revisit plan")
        if self.closing:
            raise refuse("Conflict", "the plan is already closing")

    @workflow.update(name="complaint_handled")
    def complaint_handled(self, inp: ComplaintHandledInput) -> str:
        """5.2: after a complaint is handled, a supervisory phone revisit is mandatory."""
        self._add_extra(
            PlannedVisit(
                kind="supervisory",
                planned_at=self.now,
                due_within=self.policy.supervisory_revisit_due,
                reason=inp.summary,
                complaint_ref=inp.complaint_ref,
                regional_manager=inp.regional_manager,
                department_manager=inp.department_manager,
            ),
            "R1 5.2",
            inp.actor.id,
        )
        return "scheduled"

    @complaint_handled.validator
    def _validate_complaint(self, inp: ComplaintHandledInput) -> None:
        if not {"staff", "supervisor"} & set(inp.actor.roles):
            raise refuse(
                "Forbidden",
                f"{inp.actor.id}: only staff or 部门主管 may report a handled complaint",
            )
        if self.closing:
            raise refuse("Conflict", "the plan is closing")

    async def _close(self) -> str:
        self.set_status("closed")
        self.event("plan_closed", None, self.closed_by, reason=self.closing)
        await self.drain()
        return "closed"


def _start_arg(inp: RevisitInput, policy: RevisitPolicy, actor: Actor) -> RevisitRun:
    return RevisitRun(input=inp, policy=policy, started_by=actor.id)


REVISIT = RegulationEntry(
    code=CODE,
    title_zh="公司客户回访管理规定",
    title_en="Customer revisits",
    workflow=RevisitWorkflow,
    workflow_name="zhidu.revisit",
    input_model=RevisitInput,
    policy_model=RevisitPolicy,
    start_roles=("staff", "supervisor"),
    people={"owner": "staff", "supervisor": "supervisor"},
    workflow_id=lambda i: f"revisit-{i.customer_id}",
    case_title=lambda i: f"客户回访：{i.customer_name}（{i.customer_id}）",
    customer_id=lambda i: i.customer_id,
    start_arg=_start_arg,
    actions=(
        ActionSpec(
            "close_plan",
            ClosePlanInput,
            ("supervisor", "admin"),
            "update",
            "结束回访计划",
            "Close the plan",
        ),
        ActionSpec(
            "complaint_handled",
            ComplaintHandledInput,
            ("staff", "supervisor"),
            "update",
            "投诉已处理（安排监督回访）",
            "Complaint handled (supervisory revisit)",
            people={"regional_manager": "staff", "department_manager": "supervisor"},
        ),
    ),
    source="seed/000_76f73c1f8f00814b.txt lines 11–161 (第1篇)",
)
