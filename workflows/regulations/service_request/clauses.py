"""R4 `service-request` — 物业客户服务部工作管理规定 (seed 第4篇 = 第13篇, lines 1001–1277).

Two kinds of case run on this workflow:

- **an owner's request** (`case_type="request"`): the receptionist's entry in 《业主反映情况记录》
  starts it; dispatch (or the center head's decision), the department's 《业主需求处置单》, the
  paid-work fee and the owner's consent, the work with its time limit and its extensions, the
  《维修单》 with the owner's acceptance signature, 退单, cleaning / security services and
  special contractors, the follow-up call, chasing;
- **the service center's month** (`case_type="month"`, started by the schedule at 09:00 on the
  1st): the monthly report of the month before (6.3) and this month's household visits (8(二))
  with the complaint register (8(一)); it ends when the month does.

Choices where the text is silent (a property-management service center's reading):
- Every number is a `ServiceRequestPolicy` field; the 《有偿服务价目表》 is policy data
  (`price_list`: per item a material price per unit and a labour price per unit), maintained by
  an administrator on the policy page; a case keeps the price list it started with.
- 5.1.2 "及时" is 30 minutes for the receptionist's call, 5.1.4 the center head decides within
  2 hours, 5.1.3 the supervisor opens the form within 1 hour; an emergency's work task is due in
  15 minutes and its form within 24 hours ("先作业，后补单").
- The clock of the job (5.2.4/5.2.5/5.2.6) starts when the 《业主需求处置单》 is opened. Standard
  jobs: 3 working days; the center head may extend up to 2 weeks from the start, the director
  (who stands above the center head) without limit: the engine's extension limits per role.
  24-hour jobs (drains, toilets, leaking pipes) and lamps / door locks ("24 小时（工作日）": one
  working day) take no ordinary extension: only `urgent_delay`, which the center head sends
  with the owner's consent recorded (up to `urgent_delay_max` from the start). Internal work:
  the department head agrees the deadline first (a task); the job is then due then.
- 5.2.1 paid work: the technician quotes from the price list and tells the owner; the owner's
  consent is a signature (drawn or one-time code) on the fee confirmation; the 《维修单》 is
  refused while the consent is missing or when the work started before it. The 《维修单》's
  material fee and labour fee are computed by the workflow from the price list in Decimal.
- 5.2.3 "填写不完整、签字不全有权拒收": the completion of the 《维修单》 is refused with the
  reason (no content, no hours, preparation hours missing or above the total, no time, the
  owner's signature missing).
- 5.3 cleaning / security services: the supervisor agrees time and requirements with the owner
  within a working day (a paid service needs the written agreement's number); the returned form
  is due the end of the agreed day for pre-move-in cleaning, 2 days before month end for work
  under an agreement (refused without the agreement copy), else in 3 working days; only the
  center head extends it (a delay the owner caused), and a service that cannot be done is the
  center head's signed 退单 with the owner told.
- 5.4 special contractors: the supervisor handles the job (5 working days, the text is silent);
  its acceptance record holds the contractor's evaluation and the requester's signature.
- 6.2: a job past its due is chased: the receptionist gets a chase task, the supervisor is
  told; the chase is a 《催办登记》 record (counted in the month's report).
- 6.5: paid fees are collected at the follow-up (the receptionist notes the amount; a
  《有偿服务收费记录》 is written).
- 8(二): each visitor's monthly quota is a task due at the month's end that the visitor closes
  once the quota is reached (refused before); still open at the end it breaches (the visitor
  and the center head are told). A visit is 'handled' when its feedback was dealt with; the
  revisit handling rate is handled / visits, the valid complaint rate valid complaints /
  `households`; both are on the next month's report beside their targets.
- 8(一): a logged complaint is investigated by a receptionist the same day (or explained to the
  owner's satisfaction, which ends it); the result and proposal go to the director, who decides
  the handling and names the responsible department within a working day (the text is silent);
  a department head of that department handles it and replies to the owner in writing within 3
  working days (silent too), signed, and the director is told. The month's case stays open past
  its end until every complaint logged in it is answered (a complaint logged after the end is
  refused: it belongs to the new month's case).
- 5.2.3 / 6.5: the month's forms are reviewed and signed by a department head and summarised by
  the receptionist, the settlement copies handed to finance, both by the month's last day; the
  month's case stays open until both are done. Cases started before these existed
  (`workflow.patched`) run as they did.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from workflows.calendar import add_months, end_of_day
    from workflows.engine import CaseWorkflow, refuse
    from workflows.model import CHINA_TZ, CaseStart, Deadline, TaskState, yuan
    from workflows.regulations.service_request.forms import (
        AgreeDeadlineData,
        AgreeServiceData,
        CannotFixData,
        ChaseData,
        ComplaintDecisionData,
        ComplaintExplainedData,
        ComplaintFindingsData,
        ComplaintInput,
        ComplaintReplyData,
        ContractorData,
        DeclineData,
        DiffersData,
        DispatchData,
        EnergyData,
        FollowupData,
        HouseholdVisitInput,
        OrderFormData,
        QuoteData,
        ReferData,
        RepairOrderData,
        ReturnData,
        ServiceReportData,
        ServiceRequestInput,
        ServiceRequestPolicy,
        SettlementData,
        SiteCheckData,
        UrgentDelayInput,
        VisitTallyData,
    )
    from workflows.regulations.service_request.people import ROLES
    from workflows.spec import (
        ActionSpec,
        Breach,
        NoteData,
        RecordSpec,
        Sign,
        TaskSpec,
        after,
        at,
        check,
        on_breach,
        on_result,
    )

CODE = "service-request"
FEN = Decimal("0.01")


class ServiceVars(BaseModel):
    """What a case carries besides its tasks."""

    department: str = ""
    service_type: str = "engineering"
    worker: str | None = None
    paid: bool = False
    job_class: str = "standard"
    consent_at: datetime | None = None
    fee_yuan: str = "0.00"
    order_record: str | None = None
    chases: int = 0
    # the month
    figures: dict[str, Any] | None = None
    energy: dict[str, Any] | None = None
    report_written: bool = False
    visits: dict[str, int] = Field(default_factory=dict)
    handled: int = 0
    complaints: int = 0
    valid_complaints: int = 0
    month_over: bool = False  # past its end, waiting for its complaints and its paperwork


# ---- the clauses ----------------------------------------------------------------------------

_OWNER_SIGNS = Sign("customer", "customer", ("drawing", "otp"), outcomes=("done",))
_ORDER = RecordSpec("repair_order", "《维修单》", ("done",), category="input.category")
_CHASE = Breach(notify=("role:receptionist", "role:supervisor"))


def _job(kind: str, title: str, clause: str, deadline: str | None,
         extend: dict[str, str | None]) -> TaskSpec:  # fmt: skip
    return TaskSpec(kind, title, clause, "technician", deadline=deadline,
                    outcomes={"done": RepairOrderData, "cannot_fix": CannotFixData},
                    record=_ORDER, signatures=(Sign("actor", "technician"), _OWNER_SIGNS),
                    extend=extend, breach=_CHASE)  # fmt: skip


TASKS = (
    TaskSpec(
        "dispatch_call",
        "派单：{room} {owner_name}（{content_short}）",
        "R4 5.1.2",
        "receptionist",
        deadline="dispatch_due",
        outcomes={"to_department": DispatchData, "refer": ReferData},
    ),  # fmt: skip
    TaskSpec(
        "decide",
        "确认能否满足业主要求：{room}",
        "R4 5.1.4",
        "center_head",
        deadline="decide_due",
        outcomes={"accept": DispatchData, "decline": DeclineData},
        record=RecordSpec("decline_note", "《不予受理说明》", ("decline",)),
    ),  # fmt: skip
    TaskSpec(
        "emergency_work",
        "紧急作业：{room}（{content_short}）",
        "R4 5.1.3",
        "technician",
        deadline="emergency_response",
        outcomes={"done": NoteData},
        breach=Breach(notify=("task.holder", "role:supervisor", "role:center_head")),
    ),  # fmt: skip
    TaskSpec(
        "order_form",
        "开《业主需求处置单》：{room}（{content_short}）",
        "R4 5.1.3",
        "supervisor",
        deadline="order_form_due",
        outcomes={"done": OrderFormData},
        record=RecordSpec("order_form", "《业主需求处置单》", category="input.category"),
    ),  # fmt: skip
    TaskSpec(
        "quote",
        "有偿服务告知收费：{room}",
        "R4 5.2.1",
        "technician",
        deadline="quote_due",
        outcomes={"consented": QuoteData, "declined": QuoteData},
        record=RecordSpec("fee_consent", "《有偿服务收费确认》", ("consented", "declined")),
        signatures=(Sign("customer", "customer", ("drawing", "otp"), outcomes=("consented",)),),
    ),  # fmt: skip
    _job(
        "repair",
        "维修：{room}（{content_short}）",
        "R4 5.2.4",
        "standard_due",
        {"center_head": "center_head_extend_max", "director": None},
    ),
    _job("repair_24h", "24 小时维修：{room}（{content_short}）", "R4 5.2.5", "urgent_due", {}),
    _job(
        "repair_workday",
        "维修（工作日 24 小时）：{room}（{content_short}）",
        "R4 5.2.5",
        "working_day_due",
        {},
    ),
    _job(
        "repair_internal",
        "内部维修：{room}（{content_short}）",
        "R4 5.2.6",
        None,
        {"department_head": None},
    ),
    TaskSpec(
        "agree_deadline",
        "协商决定完成期限：{room}（{content_short}）",
        "R4 5.2.6",
        "department_head",
        deadline="agree_deadline_due",
        outcomes={"agreed": AgreeDeadlineData},
    ),  # fmt: skip
    TaskSpec(
        "return_order",
        "退单：{room}（{content_short}）",
        "R4 5.2.4",
        "department_head",
        deadline="return_due",
        outcomes={"returned": ReturnData},
        record=RecordSpec("return_order", "《退单》", ("returned",), category="input.category"),
        signatures=(Sign("actor", "department_head"),),
    ),  # fmt: skip
    TaskSpec(
        "followup",
        "电话回访业主：{room} {owner_name}",
        "R4 6.1",
        "receptionist",
        deadline="followup_due",
        outcomes={"confirmed": FollowupData, "differs": DiffersData},
        record=RecordSpec(
            "followup_note", "《业主反映情况记录》（回访）", ("confirmed", "differs")
        ),
    ),  # fmt: skip
    TaskSpec(
        "site_check",
        "到现场了解实际情况：{room}",
        "R4 6.1",
        "area_manager",
        deadline="site_check_due",
        outcomes={"done": SiteCheckData},
        record=RecordSpec("site_check", "《现场核实记录》"),
    ),  # fmt: skip
    TaskSpec(
        "chase",
        "催办：{room}（{content_short}）",
        "R4 6.2",
        "receptionist",
        deadline="chase_due",
        outcomes={"chased": ChaseData},
        record=RecordSpec("chase_log", "《催办登记》", ("chased",), category="input.category"),
    ),  # fmt: skip
    # ---- 5.3 cleaning and security services, 5.4 special contractors ----
    TaskSpec(
        "agree_service",
        "与业主协商服务时间、要求：{room}",
        "R4 5.3.1",
        "supervisor",
        deadline="agree_service_due",
        outcomes={"agreed": AgreeServiceData},
        record=RecordSpec(
            "service_agreement", "服务约定（书面协议）", ("agreed",), category="input.category"
        ),
    ),  # fmt: skip
    TaskSpec(
        "service_report",
        "服务实施情况回单：{room}（{content_short}）",
        "R4 5.3.2",
        "department_head",
        deadline="status_report_due",
        outcomes={"done": ServiceReportData, "cannot_serve": CannotFixData},
        record=RecordSpec(
            "service_order", "《维修单》（秩序维护、清洁）", ("done",), category="input.category"
        ),
        signatures=(Sign("actor", "department_head"),),
        extend={"center_head": None},
        breach=_CHASE,
    ),  # fmt: skip
    TaskSpec(
        "cancel_service",
        "服务退单：{room}（{content_short}）",
        "R4 5.3.2",
        "center_head",
        deadline="return_due",
        outcomes={"returned": ReturnData},
        record=RecordSpec("return_order", "《退单》", ("returned",), category="input.category"),
        signatures=(Sign("actor", "center_head"),),
    ),  # fmt: skip
    TaskSpec(
        "contractor_job",
        "特约工程队处理：{room}（{content_short}）",
        "R4 5.4",
        "supervisor",
        deadline="contractor_due",
        outcomes={"done": ContractorData},
        record=RecordSpec(
            "contractor_order", "特约工程验收单", ("done",), category="input.category"
        ),
        signatures=(Sign("actor", "supervisor"), _OWNER_SIGNS),
        breach=_CHASE,
    ),  # fmt: skip
    # ---- the month ----
    TaskSpec(
        "energy",
        "录入上月能耗数据与委托情况（{month}）",
        "R4 6.3",
        "receptionist",
        deadline="energy_due",
        outcomes={"done": EnergyData},
        record=RecordSpec("energy_table", "《能耗数据表》"),
    ),  # fmt: skip
    TaskSpec(
        "visit_quota",
        "本月登门回访业主 {quota} 家（{month}）",
        "R4 8(二)2",
        "area_manager",
        outcomes={"done": VisitTallyData},
        lapse=Deadline(days=1),
        breach=Breach(notify=("task.holder", "role:center_head")),
    ),  # fmt: skip
    # ---- 8(一) a complaint: investigated the same day, the director decides, a written reply ----
    TaskSpec(
        "complaint_investigate",
        "当天调查核实投诉：{room}（{subject}）",
        "R4 8(一)3",
        "receptionist",
        deadline="complaint_investigate_due",
        outcomes={"reported": ComplaintFindingsData, "explained": ComplaintExplainedData},
        record=RecordSpec("complaint_findings", "《投诉调查核实记录》", ("reported", "explained")),
        breach=Breach(notify=("task.holder", "role:director")),
    ),  # fmt: skip
    TaskSpec(
        "complaint_decide",
        "决定投诉处理办法、落实责任部门：{room}（{subject}）",
        "R4 8(一)3",
        "director",
        deadline="complaint_decide_due",
        outcomes={"assigned": ComplaintDecisionData},
        record=RecordSpec("complaint_decision", "《投诉处理决定》", ("assigned",)),
        breach=Breach(notify=("task.holder", "role:center_head")),
    ),  # fmt: skip
    TaskSpec(
        "complaint_reply",
        "处理投诉并书面回复业主：{room}（{subject}）",
        "R4 8(一)6",
        "department_head",
        deadline="complaint_reply_due",
        outcomes={"replied": ComplaintReplyData},
        record=RecordSpec("complaint_reply", "《投诉书面回复》", ("replied",)),
        signatures=(Sign("actor", "department_head"),),
        breach=Breach(notify=("task.holder", "role:director")),
    ),  # fmt: skip
    # ---- 5.2.3 / 6.5 the month's forms: reviewed, signed, summarised, settled with finance ----
    TaskSpec(
        "cost_review",
        "审核本月处置单用工用料、费用并签字送回（{month}）",
        "R4 5.2.3",
        "department_head",
        deadline="settlement_due",
        outcomes={"reviewed": SettlementData},
        record=RecordSpec("cost_review", "《处置单用工用料审核》", ("reviewed",)),
        signatures=(Sign("actor", "department_head"),),
        breach=Breach(notify=("task.holder", "role:center_head")),
    ),  # fmt: skip
    TaskSpec(
        "settlement",
        "处置单汇总，结算联交财务部（{month}）",
        "R4 6.5",
        "receptionist",
        deadline="settlement_due",
        outcomes={"handed_over": SettlementData},
        record=RecordSpec("settlement", "《处置单结算汇总》", ("handed_over",)),
        signatures=(Sign("actor", "receptionist"),),
        breach=Breach(notify=("task.holder", "role:center_head")),
    ),  # fmt: skip
)

_SEND_VISIT = ("director", "area_manager")
ACTIONS = (
    ActionSpec("urgent_delay", UrgentDelayInput, ("center_head",), "update",
               "24 小时类延期（业主同意）", "Delay a 24-hour job (owner consents)"),
    ActionSpec("household_visit", HouseholdVisitInput, _SEND_VISIT, "update",
               "登记登门回访", "Log a household visit"),
    ActionSpec("complaint", ComplaintInput, ("receptionist", "director", "center_head"), "update",
               "登记投诉", "Log a complaint"),
)  # fmt: skip

# Patches: a case started before these existed replays as it ran.
COMPLAINT_HANDLING = "service-request-complaint-handling"
MONTH_PAPERWORK = "service-request-month-paperwork"
COMPLAINT_TASKS = ("complaint_investigate", "complaint_decide", "complaint_reply")
COMPLAINT_CONTEXT = ("complaint", "room", "content", "valid", "findings", "proposal", "decision",
                     "department")  # fmt: skip
MONTH_OPEN_ENDS = ("complaint_investigate", "complaint_decide", "complaint_reply",
                   "cost_review", "settlement")  # fmt: skip

JOB_KINDS = ("repair", "repair_24h", "repair_workday", "repair_internal")
JOB_OF_CLASS = {"standard": "repair", "urgent_24h": "repair_24h",
                "working_day": "repair_workday", "internal": "repair_internal"}  # fmt: skip


def month_start(now: datetime) -> datetime:
    local = now.astimezone(CHINA_TZ)
    return datetime.combine(local.date().replace(day=1), time(0), CHINA_TZ)


@workflow.defn(name="zhidu.service-request")
class ServiceRequestWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "{title}"
    INPUT = ServiceRequestInput
    POLICY = ServiceRequestPolicy
    VARS = ServiceVars
    CUSTOMER_FIELD = None
    ROLES = ROLES
    TASKS = TASKS
    ACTIONS = ACTIONS
    inp: ServiceRequestInput
    policy: ServiceRequestPolicy
    v: ServiceVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def _format_fields(self, unit: Any = None, data: dict[str, Any] | None = None) -> Any:
        fields = super()._format_fields(unit, data)
        content = self.inp.content if self.inp is not None else ""
        fields["content_short"] = content[:20]
        fields.setdefault("month", "")
        if self.inp is not None and self.inp.case_type == "month":
            fields["title"] = "物业服务中心月度工作"
        else:
            fields["title"] = f"业主服务申请：{fields.get('room', '')} {content[:20]}"
        return fields

    def record_context(self, task: TaskState) -> dict[str, Any]:
        base: dict[str, Any] = {}
        if self.inp.case_type == "request":
            base = {"room": self.inp.room, "owner_name": self.inp.owner_name}
        if task.kind in COMPLAINT_TASKS:  # the complaint the record is about, and what came before
            base |= {k: task.data[k] for k in COMPLAINT_CONTEXT if k in task.data}
        elif task.kind == "quote":
            material, labour = self._priced(task.data.get("lines", []))
            base |= {"material_fee_yuan": str(material), "labour_fee_yuan": str(labour),
                     "fee_yuan": str(material + labour)}  # fmt: skip
        elif task.kind in JOB_KINDS and task.outcome == "done":
            lines = [*task.data.get("service_lines", []),
                     *(m for m in task.data.get("materials", []) if m.get("code"))]  # fmt: skip
            material, labour = self._priced(lines) if self.v.paid else (yuan(0), yuan(0))
            base |= {"worker": task.closed_by, "paid": self.v.paid,
                     "material_fee_yuan": str(material), "labour_fee_yuan": str(labour),
                     "fee_yuan": str(material + labour)}  # fmt: skip
        return base

    def _priced(self, lines: list[dict[str, Any]]) -> tuple[Decimal, Decimal]:
        """5.2.1 the fee from the 《有偿服务价目表》: Σ quantity × unit price, in Decimal yuan."""
        material = labour = Decimal(0)
        for line in lines:
            item = self.policy.price(str(line.get("code")))
            if item is None:
                continue
            qty = Decimal(str(line["quantity"]))
            material += qty * item.material_yuan
            labour += qty * item.labour_yuan
        return yuan(material), yuan(labour)

    def summarize(self) -> dict[str, Any]:
        if self.inp.case_type == "month":
            return {"visits": dict(self.v.visits), "complaints": self.v.complaints}
        return {"category": self.inp.category, "department": self.v.department,
                "paid": self.v.paid, "fee_yuan": self.v.fee_yuan}  # fmt: skip

    # ---- 5.1 intake --------------------------------------------------------------------------

    def begin(self) -> None:
        if self.inp.case_type == "month":
            self._begin_month()
            return
        # 5.1.2 《业主反映情况记录》: time, room, name, content (and category, source).
        self.record("intake_log", "《业主反映情况记录》", {
            "received_at": self.now.isoformat(), "room": self.inp.room,
            "owner_name": self.inp.owner_name, "owner_phone": self.inp.owner_phone,
            "content": self.inp.content, "category": self.inp.category,
            "source": self.inp.source, "emergency": self.inp.emergency,
            "receptionist": self.started_by}, created_by=self.started_by,
            category=self.inp.category, clause="R4 5.1.2")  # fmt: skip
        if self.inp.emergency:
            # 5.1.3 emergencies: work first, the paperwork after.
            self.event("emergency", "R4 5.1.3", self.started_by, emergency=self.inp.emergency)
            self.open("emergency_work")
            self.open("order_form", due=self.due_after(self.now, "late_form_due")[0],
                      data={"late": True})  # fmt: skip
            return
        self.open("dispatch_call")

    @after("dispatch_call")
    def _dispatched(self, task: TaskState) -> None:
        if task.status != "done":
            return
        if task.outcome == "refer":  # 5.1.4 to the center head
            self.open("decide", data={"reason": task.data.get("reason", "")})
            return
        self._to_department(task)

    @after("decide")
    def _decided(self, task: TaskState) -> None:
        if task.status != "done":
            return
        if task.outcome == "decline":
            self.notify(f"{task.id}/owner", self.started_by or "role:receptionist",
                        f"【不予受理】{self.inp.room} {self.inp.owner_name}",
                        f"请向业主解释：{task.data.get('explanation', '')}")  # fmt: skip
            self.finish("declined", actor=task.closed_by, reason=task.data.get("reason", ""))
            return
        self._to_department(task)

    def _to_department(self, task: TaskState) -> None:
        self.v.department = task.data["department"]
        self.v.service_type = task.data.get("service_type", "engineering")
        self.event("dispatched", "R4 5.1.2", task.closed_by, department=self.v.department)
        self.open("order_form")

    @after("emergency_work")
    def _emergency_done(self, task: TaskState) -> None:
        if task.status == "done":
            self.event("emergency_handled", "R4 5.1.3", task.closed_by)
            if not self.open_tasks("order_form"):
                self._follow_up(task.closed_by)

    # ---- 5.1.3 the form; 5.2 the job -----------------------------------------------------------

    @after("order_form")
    def _form_opened(self, task: TaskState) -> None:
        if task.status != "done":
            return
        form = self.given(OrderFormData, task)
        self.v.order_record = task.data.get("record_id")
        self.v.worker, self.v.paid, self.v.job_class = form.worker, form.paid, form.job_class
        if self.inp.emergency:  # the form follows the work (5.1.3)
            if not self.open_tasks("emergency_work"):
                self._follow_up(task.closed_by)
            return
        if self.v.service_type == "cleaning_security":  # 5.3
            self.open("agree_service")
            return
        if self.v.service_type == "contractor":  # 5.4
            self.open("contractor_job")
            return
        if form.job_class == "internal":  # 5.2.6 the department head agrees the deadline
            self.open("agree_deadline", data={"worker": form.worker})
            return
        self._open_job(form.job_class, None)

    def _open_job(self, job_class: str, due: datetime | None) -> None:
        data: dict[str, Any] = {"worker": self.v.worker, "paid": self.v.paid}
        if job_class in ("urgent_24h", "working_day"):
            # 5.2.5 a delay only with the center head's signature and the owner's consent.
            data["delay_limit"] = self.due_after(self.now, "urgent_delay_max")[0].isoformat()
        job = self.open(JOB_OF_CLASS[job_class], due=due, data=data, assignee=self.v.worker)
        if self.v.paid:
            self.open(
                "quote", data={"worker": self.v.worker, "job": job.id}, assignee=self.v.worker
            )

    @after("agree_deadline")
    def _deadline_agreed(self, task: TaskState) -> None:
        if task.status == "done":
            self._open_job("internal", self.given(AgreeDeadlineData, task).due_at)

    @after("quote")
    def _quoted(self, task: TaskState) -> None:
        if task.status != "done":
            return
        material, labour = self._priced(task.data.get("lines", []))
        if task.outcome == "declined":  # the owner does not accept the fee: no work
            self.event("fee_declined", "R4 5.2.1", task.closed_by, fee_yuan=str(material + labour))
            self.finish("declined", actor=task.closed_by, reason="业主不同意有偿服务收费")
            return
        self.v.consent_at = self.now
        self.v.fee_yuan = str(material + labour)
        self.event("fee_consented", "R4 5.2.1", task.closed_by, fee_yuan=self.v.fee_yuan)

    @check("repair")
    def _check_repair(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        return self._order_problem(task, outcome, data)

    @check("repair_24h")
    def _check_repair_24h(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        return self._order_problem(task, outcome, data)

    @check("repair_workday")
    def _check_repair_workday(
        self, task: TaskState, outcome: str, data: Any
    ) -> tuple[str, str] | None:
        return self._order_problem(task, outcome, data)

    @check("repair_internal")
    def _check_repair_internal(
        self, task: TaskState, outcome: str, data: Any
    ) -> tuple[str, str] | None:
        return self._order_problem(task, outcome, data)

    def _order_problem(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        """5.2.3 the receptionist refuses an incomplete 《维修单》 (the owner's signature is the
        engine's check); 5.2.1 paid work only after the owner consented to the fee."""
        if not isinstance(data, RepairOrderData):
            return None
        missing = [zh for zh, ok in (
            ("作业内容", bool(data.work_content.strip())),
            ("作业开始时间", data.started_at is not None),
            ("作业完成时间", data.finished_at is not None),
            ("总工时", data.total_hours is not None and data.total_hours > 0),
            ("准备工时", data.preparation_hours is not None),
        ) if not ok]  # fmt: skip
        if missing:
            return (f"the repair order is incomplete: {', '.join(missing)} missing (R4 5.2.3)",
                    f"《维修单》填写不完整，缺：{'、'.join(missing)}（R4 5.2.3）")  # fmt: skip
        assert data.total_hours is not None and data.preparation_hours is not None
        if data.preparation_hours > data.total_hours:
            return ("preparation hours exceed the total hours (R4 5.2.2)",
                    "准备工时不能超过总工时（总工时含准备工时，R4 5.2.2）")  # fmt: skip
        assert data.started_at is not None and data.finished_at is not None
        if data.finished_at < data.started_at:
            return "the work finished before it started", "作业完成时间早于开始时间"
        if self.v.paid:
            if self.v.consent_at is None:
                return ("paid work: the owner has not consented to the fee yet (R4 5.2.1)",
                        "有偿服务须在作业前告知业主费用并取得业主同意（R4 5.2.1）")  # fmt: skip
            if data.started_at < self.v.consent_at - timedelta(minutes=1):
                return ("paid work started before the owner consented to the fee (R4 5.2.1)",
                        "作业开始时间早于业主同意收费的时间（R4 5.2.1）")  # fmt: skip
            coded: list[Any] = [*data.service_lines, *(m for m in data.materials if m.code)]
            if not coded:
                return ("paid work: name the price-list items (R4 5.2.2)",
                        "有偿服务须注明材料费、人工费：请选择价目表项目（R4 5.2.2）")  # fmt: skip
            unknown = [c.code for c in coded if self.policy.price(str(c.code)) is None]
            if unknown:
                return (f"not on the price list: {', '.join(map(str, unknown))}",
                        f"《有偿服务价目表》中没有：{'、'.join(map(str, unknown))}")  # fmt: skip
        return None

    @check("quote")
    def _check_quote(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        unknown = [ln.code for ln in data.lines if self.policy.price(ln.code) is None]
        if unknown:
            return (f"not on the price list: {', '.join(unknown)}",
                    f"《有偿服务价目表》中没有：{'、'.join(unknown)}")  # fmt: skip
        return None

    @after("repair", "repair_24h", "repair_workday", "repair_internal")
    def _job_closed(self, task: TaskState) -> None:
        for chase in self.open_tasks("chase"):
            self.cancel(chase, "已收到完成情况")
        if task.status != "done":
            return
        for quote in self.open_tasks("quote"):
            self.cancel(quote, "作业已结束")
        if task.outcome == "cannot_fix":  # 5.2.4 退单 by the department head
            self.open("return_order", data={"reason": task.data.get("reason", "")})
            return
        if task.data.get("fee_yuan"):
            self.v.fee_yuan = task.data["fee_yuan"]
        self.event("job_done", task.clause, task.closed_by, late=bool(
            task.due_at and task.closed_at and task.closed_at > task.due_at))  # fmt: skip
        self._follow_up(task.closed_by)

    @after("return_order")
    def _returned(self, task: TaskState) -> None:
        if task.status != "done":
            return
        self.notify(f"{task.id}/returned", "role:receptionist",
                    f"【退单】{self.inp.room} {self.inp.owner_name}",
                    f"原因：{task.data.get('reason', '')}\n"
                    f"已向业主解释：{task.data.get('explanation', '')}")  # fmt: skip
        self.finish("returned", actor=task.closed_by, reason=task.data.get("reason", ""))

    # ---- 5.3 cleaning and security services; 5.4 special contractors ---------------------------

    @check("agree_service")
    def _check_agreement(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if data.by_agreement and not data.agreement_no.strip():
            return ("paid service: a written agreement is signed first (R4 5.3.1)",
                    "有偿服务须协商费用并签订书面协议：请填写协议编号（R4 5.3.1）")  # fmt: skip
        return None

    @after("agree_service")
    def _service_agreed(self, task: TaskState) -> None:
        if task.status != "done":
            return
        agreed = self.given(AgreeServiceData, task)
        if agreed.by_agreement:  # 5.3.2.2 returned two days before month end
            due = self.due_after(self.now, "agreement_return_due")[0]
        elif agreed.pre_move_in:  # 5.3.1.1 the same day, or the day agreed
            due = end_of_day(max(agreed.agreed_at, self.now))
        else:  # 5.3.2.1 status to the receptionist within three working days
            due = self.due_after(self.now, "status_report_due")[0]
        self.open("service_report", due=due, data={"by_agreement": agreed.by_agreement,
                                                   "agreement_no": agreed.agreement_no})  # fmt: skip

    @check("service_report")
    def _check_service(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if (
            outcome == "done"
            and task.data.get("by_agreement")
            and not (data.agreement_copy_attached)
        ):
            return ("the agreement copy goes with the returned form (R4 5.3.2.2)",
                    "按协议完成的服务须将协议复印件附在《维修单》后面（R4 5.3.2.2）")  # fmt: skip
        return None

    @after("service_report")
    def _service_reported(self, task: TaskState) -> None:
        for chase in self.open_tasks("chase"):
            self.cancel(chase, "已收到完成情况")
        if task.status != "done":
            return
        if task.outcome == "cannot_serve":  # 5.3.2.3 the center head signs the cancellation
            self.open("cancel_service", data={"reason": task.data.get("reason", "")})
            return
        self._follow_up(task.closed_by)

    @after("cancel_service")
    def _service_cancelled(self, task: TaskState) -> None:
        self._returned(task)

    @after("contractor_job")
    def _contractor_done(self, task: TaskState) -> None:
        for chase in self.open_tasks("chase"):
            self.cancel(chase, "已收到完成情况")
        if task.status == "done":
            self._follow_up(task.closed_by)

    @on_breach("service_report", "contractor_job")
    def _service_overdue(self, task: TaskState) -> None:
        self._overdue(task)

    # ---- 5.2.5 the delay of a 24-hour job --------------------------------------------------------

    @workflow.update(name="urgent_delay")
    def urgent_delay(self, inp: UrgentDelayInput) -> str:
        task = self.task(inp.task_id)
        assert task is not None
        self.move_due(task, inp.new_due, inp.reason)
        rid = self.record("delay_approval", "《延期审批》", {
            "task": task.title, "new_due": inp.new_due.isoformat(), "reason": inp.reason,
            "owner_consent": inp.owner_consent, "consent_note": inp.consent_note,
            "approved_by": inp.actor.id}, created_by=inp.actor.id, clause="R4 5.2.5")  # fmt: skip
        self.sign(rid, signer=inp.actor.id, role="center_head", method="staff_login",
                  clause="R4 5.2.5")  # fmt: skip
        self.event("urgent_delayed", "R4 5.2.5", inp.actor.id, task_id=task.id,
                   new_due=inp.new_due, consent_note=inp.consent_note)  # fmt: skip
        return "delayed"

    @urgent_delay.validator
    def _validate_urgent_delay(self, inp: UrgentDelayInput) -> None:
        self.check_action("urgent_delay", inp.actor)
        task = self.task(inp.task_id)
        if (
            task is None
            or task.status != "open"
            or task.kind not in ("repair_24h", "repair_workday")
        ):
            raise refuse("NotFound", f"no open 24-hour job {inp.task_id}",
                         f"没有待办的 24 小时类维修 {inp.task_id}")  # fmt: skip
        if not inp.owner_consent:
            raise refuse("Invalid", "owner_consent: the owner must agree to the delay (R4 5.2.5)",
                         "24 小时类维修延期须取得业主的同意（R4 5.2.5）")  # fmt: skip
        if inp.new_due <= (task.due_at or self.now) or inp.new_due <= self.now:
            raise refuse("Invalid", "new_due must be later than the current due",
                         "新完成期限须晚于当前期限")  # fmt: skip
        limit = datetime.fromisoformat(task.data["delay_limit"])
        if inp.new_due > limit:
            raise refuse("Forbidden", f"a 24-hour job may be delayed to {limit} at the latest",
                         f"24 小时类维修最迟只能延至 {limit.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}")  # fmt: skip

    # ---- 6.1 follow-up, 6.2 chasing ------------------------------------------------------------

    def _follow_up(self, actor: str | None) -> None:
        self.notify("done/receptionist", "role:receptionist",
                    f"【完成】{self.inp.room} {self.inp.owner_name}：请电话回访业主",
                    self.inp.content[:200])  # fmt: skip
        self.open("followup", data={"fee_yuan": self.v.fee_yuan, "paid": self.v.paid})

    @after("followup")
    def _followed_up(self, task: TaskState) -> None:
        if task.status != "done":
            self.finish("done")
            return
        if task.outcome == "differs":  # the area manager goes at once
            self.event("account_differs", "R4 6.1", task.closed_by,
                       owner_account=task.data.get("owner_account", ""))  # fmt: skip
            self.open("site_check")
            return
        fee = Decimal(str(task.data.get("fee_collected_yuan", "0")))
        if fee > 0:  # 6.5 paid fees collected at the follow-up
            self.record("fee_receipt", "《有偿服务收费记录》", {
                "room": self.inp.room, "owner_name": self.inp.owner_name,
                "fee_due_yuan": self.v.fee_yuan, "collected_yuan": str(yuan(fee)),
                "collected_by": task.closed_by}, created_by=task.closed_by,
                category=self.inp.category, clause="R4 6.5")  # fmt: skip
        self.finish("done", actor=task.closed_by)

    @after("site_check")
    def _checked(self, task: TaskState) -> None:
        self.finish("done", actor=task.closed_by)

    @on_breach("repair", "repair_24h", "repair_workday", "repair_internal")
    def _overdue(self, task: TaskState) -> None:
        """6.2 no completion report in time: the receptionist chases and tells the supervisor."""
        self.v.chases += 1
        self.event("chased", "R4 6.2", None, task_id=task.id, department=self.v.department)
        self.open("chase", data={"job": task.id})

    # ---- 6.3 the month's report; 8 household visits and complaints ------------------------------

    def _begin_month(self) -> None:
        this = month_start(self.now)
        last = add_months(this, -1)
        nxt = add_months(this, 1)
        month = f"{this:%Y-%m}"
        self.event("month_opened", "R4 6.3", None, month=month)
        self.run_job("zhidu.report", {
            "report": "record_statistics", "regulation": CODE,
            "period_start": last.isoformat(), "period_end": this.isoformat(),
            "sum_fields": ["collected_yuan", "fee_yuan"]}, "figures",
            period_start=last.isoformat(), period_end=this.isoformat())  # fmt: skip
        self.open("energy", data={"month": f"{last:%Y-%m}"})
        visitors = [(self.inp.director, "director", self.policy.director_visits)]
        visitors += [(a, "area_manager", self.policy.area_manager_visits)
                     for a in self.inp.area_managers]  # fmt: skip
        for who, role, quota in visitors:
            self.v.visits[who] = 0
            self.open("visit_quota", due=nxt, role=role, assignee=who,
                      data={"visitor": who, "quota": quota, "month": month})  # fmt: skip
        if workflow.patched(MONTH_PAPERWORK):
            # 5.2.3 each department head reviews the month's forms (work, materials, fees) and
            # signs them back; 6.5 the receptionist summarises them and hands the settlement
            # copies to finance, at the month's end.
            self.open("cost_review", data={"month": month})
            self.open("settlement", data={"month": month})
        self.wake_at(nxt + timedelta(hours=1), "month_end", month=month)

    @on_result("figures")
    def _figures(self, figures: dict[str, Any], period: dict[str, Any]) -> None:
        self.v.figures = {**figures, **period}
        self._monthly_report()

    @after("energy")
    def _energy(self, task: TaskState) -> None:
        self.v.energy = {"rows": task.data.get("rows", []) if task.status == "done" else [],
                         "commissions": task.data.get("commissions", "")}  # fmt: skip
        self._monthly_report()

    def _monthly_report(self) -> None:
        """6.3 the month before: services by category, chases, on-time rate, fees collected,
        complaints, the revisit handling rate and the valid complaint rate against targets."""
        if self.v.figures is None or self.v.energy is None or self.v.report_written:
            return
        f, recs = self.v.figures, self.v.figures.get("records", {})
        jobs = {k: v for k, v in f.get("tasks", {}).items() if k in JOB_KINDS}
        due = sum(int(j["due"]) for j in jobs.values())
        on_time = sum(int(j["on_time"]) for j in jobs.values())
        visits = recs.get("household_visit", {"count": 0, "categories": {}})
        handled = int(visits["categories"].get("handled", 0))
        complaints = recs.get("complaint", {"count": 0, "categories": {}})
        valid = int(complaints["categories"].get("valid", 0))
        handling = (
            (Decimal(handled) / Decimal(visits["count"])).quantize(Decimal("0.0001"))
            if visits["count"]
            else None
        )
        complaint_rate = (Decimal(valid) / Decimal(self.policy.households)).quantize(
            Decimal("0.0001")
        )
        report = {
            "period_start": f["period_start"], "period_end": f["period_end"],
            "services_by_category": recs.get("intake_log", {}).get("categories", {}),
            "services": recs.get("intake_log", {}).get("count", 0),
            "jobs_due": due, "jobs_on_time": on_time,
            "on_time_rate": str((Decimal(on_time) / Decimal(due)).quantize(Decimal("0.0001")))
            if due else None,
            "chases": recs.get("chase_log", {}).get("count", 0),
            "returned": recs.get("return_order", {}).get("count", 0),
            "fees_collected_yuan": str(yuan(Decimal(
                recs.get("fee_receipt", {}).get("sums", {}).get("collected_yuan", "0")))),
            "complaints": complaints["count"], "valid_complaints": valid,
            "valid_complaint_rate": str(complaint_rate),
            "valid_complaint_max": str(self.policy.valid_complaint_max),
            "valid_complaint_ok": complaint_rate <= self.policy.valid_complaint_max,
            "household_visits": visits["count"], "visits_handled": handled,
            "revisit_handling_rate": str(handling) if handling is not None else None,
            "revisit_handling_target": str(self.policy.revisit_handling_target),
            "revisit_handling_ok": handling is None
            or handling >= self.policy.revisit_handling_target,
            "energy": self.v.energy["rows"], "commissions": self.v.energy["commissions"],
        }  # fmt: skip
        rid = self.record("monthly_report", "《月报表》", report, created_by="system",
                          clause="R4 6.3")  # fmt: skip
        self.v.report_written = True
        for who in ("role:center_head", "role:director", "role:supervisor"):
            self.notify(f"monthly/{who}", who, f"【月报表】{f['period_start'][:7]}",
                        f"服务 {report['services']} 项，按时完成率 {report['on_time_rate']}，"
                        f"有偿服务费 {report['fees_collected_yuan']} 元\n记录：{rid}")  # fmt: skip

    @check("visit_quota")
    def _check_quota(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        done, quota = self.v.visits.get(task.data["visitor"], 0), int(task.data["quota"])
        if done < quota:
            return (f"{done} of {quota} household visits this month",
                    f"本月已回访 {done} 家，尚未达到 {quota} 家（R4 8(二)2）")  # fmt: skip
        return None

    @workflow.update(name="household_visit")
    def household_visit(self, inp: HouseholdVisitInput) -> int:
        who = inp.actor.id
        self.v.visits[who] = self.v.visits.get(who, 0) + 1
        self.v.handled += int(inp.handled)
        self.record("household_visit", "《业主回访记录》", {
            **inp.model_dump(mode="json", exclude={"actor"}), "visitor": who},
            created_by=who, category="handled" if inp.handled else "pending",
            clause="R4 8(二)2")  # fmt: skip
        quota = next((int(t.data["quota"]) for t in self.open_tasks("visit_quota")
                      if t.data["visitor"] == who), None)  # fmt: skip
        self.event("visit_progress", "R4 8(二)2", who, done=self.v.visits[who], quota=quota)
        return self.v.visits[who]

    @household_visit.validator
    def _validate_visit(self, inp: HouseholdVisitInput) -> None:
        self.check_action("household_visit", inp.actor)
        if self.inp.case_type != "month" or inp.actor.id not in self.v.visits:
            raise refuse("Forbidden", f"{inp.actor.id} has no household-visit quota here",
                         f"{inp.actor.id} 在本月没有登门回访任务")  # fmt: skip

    @workflow.update(name="complaint")
    def complaint(self, inp: ComplaintInput) -> int:
        self.v.complaints += 1
        self.v.valid_complaints += int(inp.valid)
        self.record("complaint", "《业主投诉记录》", inp.model_dump(mode="json", exclude={"actor"}),
                    created_by=inp.actor.id, category="valid" if inp.valid else "invalid",
                    clause="R4 8(一)3")  # fmt: skip
        self.notify(f"complaint/{self.v.complaints}", self.inp.director,
                    f"【投诉】{inp.room}", f"{inp.content}\n请当天调查核实并决定处理办法")  # fmt: skip
        if workflow.patched(COMPLAINT_HANDLING):
            # 8(一)3 what cannot be explained on the spot is investigated the same day.
            self.open("complaint_investigate", data={
                "complaint": self.v.complaints, "room": inp.room, "subject": inp.content[:20],
                "content": inp.content, "valid": inp.valid})  # fmt: skip
        return self.v.complaints

    @complaint.validator
    def _validate_complaint(self, inp: ComplaintInput) -> None:
        self.check_action("complaint", inp.actor)
        if self.inp.case_type != "month":
            raise refuse("Invalid", "complaints go on the month's register",
                         "投诉登记在物业服务中心的月度案件中")  # fmt: skip
        if self.v.month_over:
            raise refuse("Invalid", "this month is over: log the complaint in the new month's case",
                         "本月已结束，请在新一月的月度案件中登记投诉")  # fmt: skip

    def _complaint_data(self, task: TaskState) -> dict[str, Any]:
        keep = ("complaint", "room", "subject", "content", "valid")
        return {k: task.data[k] for k in keep if k in task.data}

    @after("complaint_investigate")
    def _investigated(self, task: TaskState) -> None:
        if task.status == "done" and task.outcome == "reported":
            # 8(一)3 the result and the proposal to the director, who decides.
            self.open("complaint_decide", assignee=self.inp.director, data={
                **self._complaint_data(task), "findings": task.data["findings"],
                "proposal": task.data["proposal"]})  # fmt: skip
        elif task.status == "done":
            self.event("complaint_explained", "R4 8(一)2", task.closed_by,
                       complaint=task.data.get("complaint"))  # fmt: skip
        self._month_closes()

    @after("complaint_decide")
    def _complaint_decided(self, task: TaskState) -> None:
        if task.status == "done":
            department = task.data["department"]
            self.event("complaint_assigned", "R4 8(一)3", task.closed_by,
                       department=department, complaint=task.data.get("complaint"))  # fmt: skip
            self.open("complaint_reply", data={
                **self._complaint_data(task), "department": department,
                "decision": task.data["decision"]})  # fmt: skip
        self._month_closes()

    @after("complaint_reply")
    def _complaint_replied(self, task: TaskState) -> None:
        if task.status == "done":
            # 8(一)6 事事有着落，件件有回音: the director sees the written reply.
            self.notify(f"{task.id}/replied", self.inp.director,
                        f"【投诉已书面回复】{task.data.get('room', '')}",
                        f"{task.data.get('result', '')}\n回复：{task.data.get('reply', '')}")  # fmt: skip
        self._month_closes()

    @after("cost_review", "settlement")
    def _paperwork_done(self, task: TaskState) -> None:
        self._month_closes()

    def _month_pending(self) -> list[TaskState]:
        return [t for t in self.open_tasks() if t.kind in MONTH_OPEN_ENDS]

    def _month_closes(self) -> None:
        """A month past its end closes once its complaints are answered and its forms settled."""
        if self.v.month_over and not self._month_pending():
            self.finish("done")

    @at("month_end")
    def _month_end(self, data: dict[str, Any]) -> None:
        self.record("visit_summary", "《回访情况汇总》", {
            "month": data["month"], "visits": dict(self.v.visits), "handled": self.v.handled,
            "complaints": self.v.complaints, "valid_complaints": self.v.valid_complaints},
            created_by="system", clause="R4 8(二)1.4")  # fmt: skip
        if self._month_pending():
            # A complaint still in hand or forms not yet settled keep the month open.
            self.v.month_over = True
            self.event("month_waiting", "R4 8(一)", None, month=data["month"])
            return
        self.finish("done")
