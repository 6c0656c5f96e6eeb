"""R6 `renovation` — 大厦客户二次装修管理规定 (seed 第6篇, lines 595–613).

One case per renovation (a case number `renovation-<year>-<n>`), from the customer's
application to the refund of the deposit. The case is the application (the input) with the
documents the 《二次装修管理手册》 requires; every change of scope is a unit of its own (a new
application), approved the same way. This module is the clauses; what people type (the input,
the policy with every number and list, each outcome's data, the updates) is in forms.py.

Choices where the text is silent (a property manager's reading):
- 客务部 (client affairs) registers applications, changes, extensions and the customer's
  application for inspection on the customer's behalf (the customer is not a user); the
  customer and the contractor's 施工负责人 sign by drawing or one-time code.
- The documents are a checklist per policy (`documents`): each is attached (an Attachment) or
  missing. 管理中心 may not approve an application with documents missing unless the policy
  says so (`approve_with_missing`); it returns it instead, and 客务部 supplies what is missing
  (a task), after which it is reviewed again. A rejected first application closes the case.
- "Written approval" is the 《二次装修申请审批表》 record the 管理中心 person signs by login; it
  names the approved items (default: every item applied for) and the approved end date
  (default: the planned one).
- The 开工证 is 管理中心's task; it is refused until every agreement of the policy
  (`agreements`: 保洁责任书, 工程协议书, 施工防火安全协议书, 施工安全管理规定) is signed by
  `signers_per_agreement` people (default 2: the customer and the contractor, two distinct
  names) and the workers' passes list (each worker's ID number, pass number, validity not past
  the approved end and not already expired) is registered by the property.
- "Work" is what the property's patrol records on site (`work_log`): refused (the validator)
  without a written approval, before the permit, while a stop order stands, after the
  approved period, after completion; work on an item outside the approved items is recorded and
  a stop order issued at once (《停工通知书》, notices, the case's stage `stopped`). 管理中心
  may also stop work directly (`stop_work`). Only a new approval (a change of scope) lifts a
  stop order. The case's engine status stays open (the pages list open cases); its stage is the
  summary's `stage`.
- Daily waste removal: while work is active (stage under_work or rectifying) the property checks
  every day at the designated time (`waste_removal_at`, China time), within
  `waste_check_within`; a failed check and a missed one (its due passed) are each recorded; an
  unfinished check is cancelled by the next day's.
- The approved period ends at 24:00 of the approved end date; if the work is not complete then,
  work is refused and 客务部 gets the extension task (an approval with the new end date, or a
  refusal: the stage stays `period_over`).
- Completion (by the property or 管理中心) opens the customer's application for inspection,
  due `inspection_apply_within` (7 working days); a breach is recorded
  (《逾期未申请验收记录》) and told to 管理中心 and 客务部. A failed inspection lists the defects
  and reopens rectification (the stage `rectifying`: work on the approved items allowed again,
  the daily checks resume); its completion again needs an application within 7 working days.
- Moving in before a pass is recorded (《未经验收迁入记录》); only then may 管理中心 suspend
  services and use the deposit for defects (each use a `deposit_used` ledger row, never more
  than the balance). Suspended services resume when the inspection passes (《恢复服务通知》,
  客务部 told; behind `workflow.patched`). After the pass the refund is notified (客务部 tells the customer) and 财务
  pays the balance (held − deductions), recorded and signed for by the customer; the case ends.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import end_of_day
    from workflows.engine import SCALED_DEFAULTS, CaseWorkflow, refuse
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import CHINA_TZ, CaseStart, Deadline, SignatureInput, TaskState, UnitState
    from workflows.regulations.renovation.forms import (
        AgreementData,
        ApplicationUnit,
        ChangeInput,
        CompletedInput,
        DepositUseInput,
        DocumentItem,
        ExtensionData,
        InspectionApplyData,
        InspectionData,
        MovedInInput,
        PassesData,
        PermitData,
        RefundData,
        RenovationInput,
        RenovationPolicy,
        RenovationVars,
        ReturnData,
        ReviewApproveData,
        StopInput,
        SupplementData,
        SuspendInput,
        WasteCheckData,
        WorkLogInput,
    )
    from workflows.regulations.renovation.people import ROLES
    from workflows.spec import (
        ActionSpec,
        Breach,
        RecordSpec,
        RejectData,
        Sign,
        TaskSpec,
        after,
        at,
        check,
        on_breach,
    )

CODE = "renovation"
ACTIVE = ("under_work", "rectifying")  # the stages in which work goes on
_CENTER = "role:management_center"
_AFFAIRS = "role:client_affairs"
# A case started before suspended services resumed at the pass replays as it ran.
RESUME_SERVICES = "renovation-resume-services"

TASKS = (
    TaskSpec("application_review", "审批二次装修申请（第{n}次）：{customer_name} {premises}",
             "R6 第1条", "management_center", deadline="review_due",
             outcomes={"approve": ReviewApproveData, "return_documents": ReturnData, "reject": RejectData},
             record=RecordSpec("renovation_approval", "《二次装修申请审批表》", ("approve",)),
             signatures=(Sign("actor", "management_center"),)),
    TaskSpec("supplement", "补交装修申请资料：{customer_name} {premises}", "R6 第1条",
             "client_affairs", deadline="supplement_due", outcomes={"done": SupplementData}),
    TaskSpec("agreement", "签署《{agreement}》：{customer_name} {premises}", "R6 第4、5条",
             "management_center", deadline="permit_due", outcomes={"agreement_signed": AgreementData},
             record=RecordSpec("renovation_agreement", "二次装修协议（签署）", ("agreement_signed",)),
             signatures=(Sign("actor", "management_center"),
                         Sign("customer", "customer", ("drawing", "otp")))),
    TaskSpec("passes", "登记施工人员出入证：{customer_name} {premises}", "R6 第2条",
             "property_manager", deadline="permit_due", outcomes={"done": PassesData},
             record=RecordSpec("renovation_passes", "《施工人员出入证登记表》")),
    TaskSpec("permit", "发放二次装修开工证：{customer_name} {premises}", "R6 第2条",
             "management_center", deadline="permit_due", outcomes={"permit_issue": PermitData},
             record=RecordSpec("renovation_permit", "《二次装修开工证》", ("permit_issue",)),
             signatures=(Sign("actor", "management_center"),)),
    TaskSpec("waste_check", "装修垃圾清运检查（{check_day}）：{customer_name} {premises}", "R6 第3条",
             "property_manager", deadline="waste_check_within",
             outcomes={"waste_cleared": WasteCheckData, "waste_not_cleared": WasteCheckData},
             record=RecordSpec("waste_check", "《装修垃圾清运检查记录》", ("waste_cleared", "waste_not_cleared")),
             breach=Breach(notify=("role:property_manager", _CENTER))),
    TaskSpec("extension", "办理延期装修手续：{customer_name} {premises}", "R6 第6条",
             "client_affairs", deadline="extension_due",
             outcomes={"approve": ExtensionData, "reject": RejectData},
             record=RecordSpec("renovation_extension", "《延期装修审批表》", ("approve",)),
             signatures=(Sign("actor", "client_affairs"),)),
    TaskSpec("inspection_request", "客户申请装修验收：{customer_name} {premises}", "R6 第7条",
             "client_affairs", deadline="inspection_apply_within",
             outcomes={"done": InspectionApplyData},
             record=RecordSpec("inspection_application", "《装修验收申请》"),
             breach=Breach(notify=(_CENTER, _AFFAIRS))),
    TaskSpec("inspection", "装修验收：{customer_name} {premises}", "R6 第7条",
             "management_center", deadline="inspection_due",
             outcomes={"inspection_ok": InspectionData, "inspection_not_ok": InspectionData},
             record=RecordSpec("renovation_inspection", "《装修验收记录》", ("inspection_ok", "inspection_not_ok")),
             signatures=(Sign("actor", "management_center"),)),
    TaskSpec("refund", "退还装修施工抵押金：{customer_name} {premises}", "R6 第7条", "finance",
             deadline="refund_due", outcomes={"refund_paid": RefundData},
             record=RecordSpec("deposit_refund", "《装修施工抵押金退还单》", ("refund_paid",)),
             signatures=(Sign("actor", "finance"), Sign("customer", "customer", ("drawing", "otp")))),
)  # fmt: skip

_WORKERS = ("property_manager", "management_center")
ACTIONS = (
    ActionSpec("work_log", WorkLogInput, _WORKERS, "update", "施工登记（巡查）", "Record work on site"),
    ActionSpec("change_scope", ChangeInput, ("client_affairs", "management_center"), "update",
               "变更装修项目（重新申报）", "Apply for a change of scope"),
    ActionSpec("stop_work", StopInput, ("management_center",), "update", "下达停工令",
               "Order work stopped"),
    ActionSpec("work_completed", CompletedInput, _WORKERS, "update", "装修完工",
               "Report the work complete"),
    ActionSpec("moved_in", MovedInInput, _WORKERS, "update", "登记客户迁入", "Record a move-in"),
    ActionSpec("suspend_services", SuspendInput, ("management_center",), "update", "暂停服务",
               "Suspend services"),
    ActionSpec("use_deposit", DepositUseInput, ("management_center",), "update",
               "动用抵押金整改", "Use the deposit for defects"),
)  # fmt: skip


def _refuse(en: str, zh: str, kind: str = "Conflict") -> Exception:
    return refuse(kind, en, zh)


@workflow.defn(name="zhidu.renovation")
class RenovationWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "二次装修：{customer_name}（{premises}）"
    INPUT = RenovationInput
    POLICY = RenovationPolicy
    VARS = RenovationVars
    TASKS = TASKS
    ROLES = ROLES
    TASK_DEFAULTS = SCALED_DEFAULTS
    ACTIONS = ACTIONS
    inp: RenovationInput
    policy: RenovationPolicy
    v: RenovationVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    # ---- 第1条 the application ------------------------------------------------------------------

    def begin(self) -> None:
        if self.inp.deposit_yuan > 0:  # 第7条 the deposit is held from the start
            self.v.deposit_account = f"{self.s.case_id}/deposit"
            self.book("deposit/held", clause="R6 第7条", party=self.inp.customer_name,
                      party_kind="customer", amount=self.inp.deposit_yuan, kind="deposit_held",
                      rule="装修施工抵押金", account=self.v.deposit_account)  # fmt: skip
        self._apply(
            ApplicationUnit(
                n=1,
                work_items=self.inp.work_items,
                description=self.inp.description,
                planned_end=self.inp.planned_end,
                documents=self.inp.documents,
            ),
            self.started_by,
        )

    def summarize(self) -> dict[str, Any]:
        v = self.v
        return {"stage": v.stage, "approved_items": v.approved_items,
                "approved_end": v.approved_end.isoformat() if v.approved_end else None,
                "stop_orders": v.stop_orders, "extensions": v.extensions,
                "waste_checks": v.waste_checks, "waste_missed": v.waste_missed,
                "waste_failed": v.waste_failed, "moved_in_early": v.moved_in_early,
                "deposit_balance_yuan": str(self.balance())}  # fmt: skip

    def checklist(self, documents: list[DocumentItem]) -> list[dict[str, Any]]:
        """The policy's checklist, each document attached (the file) or missing."""
        given = {d.name: d for d in documents if d.file is not None}
        rows = []
        for name in self.policy.documents:
            d = given.get(name)
            rows.append({"name": name, "attached": d is not None,
                         "file": d.file.model_dump(mode="json") if d and d.file else None,
                         "note": d.note if d else "缺"})  # fmt: skip
        return rows

    def missing(self, unit: UnitState) -> list[str]:
        return [r["name"] for r in unit.data["checklist"] if not r["attached"]]

    def _apply(self, app: ApplicationUnit, actor: str | None) -> UnitState:
        self.v.applications = app.n
        title = f"二次装修申请（第{app.n}次）：{self.inp.customer_name}"
        unit = self.open_unit("application", title, app)
        unit.data["checklist"] = self.checklist(app.documents)
        rid = self.record("renovation_application", "《二次装修申请表》", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "contractor": self.inp.contractor, "contractor_lead": self.inp.contractor_lead,
            "application_no": app.n, "is_change": app.change, "work_items": app.work_items, "description": app.description,
            "planned_start": self.inp.planned_start.isoformat(),
            "planned_end": app.planned_end.isoformat(), "checklist": unit.data["checklist"],
            "missing_documents": self.missing(unit)}, created_by=actor, clause="R6 第1条")  # fmt: skip
        unit.data["record_id"] = rid
        self.event("applied", "R6 第1条", actor, application_no=app.n, work_items="、".join(app.work_items),
                   missing="、".join(self.missing(unit)) or "无")  # fmt: skip
        self._review(unit)
        return unit

    def _review(self, unit: UnitState) -> None:
        self.open("application_review", unit, data={
            "n": unit.data["n"], "record_id_applied": unit.data["record_id"],
            "missing_documents": self.missing(unit)})  # fmt: skip

    def record_context(self, task: TaskState) -> dict[str, Any]:
        base = {"customer_name": self.inp.customer_name, "premises": self.inp.premises,
                "contractor": self.inp.contractor}  # fmt: skip
        unit = self.unit(task.unit)
        if task.kind == "application_review" and unit is not None:
            return {**base, "application_no": unit.data["n"], "application": unit.data["record_id"],
                    "work_items": unit.data["work_items"], "planned_end": unit.data["planned_end"],
                    "checklist": unit.data["checklist"]}  # fmt: skip
        if task.kind == "agreement":
            return {**base, "agreement": task.data["agreement"],
                    "contractor_lead": self.inp.contractor_lead}  # fmt: skip
        if task.kind == "permit":
            return {**base, "work_items": self.v.approved_items,
                    "permit_until": self.v.approved_end.isoformat() if self.v.approved_end else None,
                    "agreements": list(self.v.agreements_signed),
                    "passes": self.v.passes_record}  # fmt: skip
        if task.kind == "refund":
            return {**base, **self.deposit_figures()}
        return base

    @check("application_review")
    def _check_review(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        unit = self.unit(task.unit)
        assert unit is not None
        if outcome != "approve":
            return None
        missing = self.missing(unit)
        if missing and not self.policy.approve_with_missing:
            return (f"documents missing: {', '.join(missing)}",
                    f"资料不全，不能批准：缺 {'、'.join(missing)}（R6 第1条）")  # fmt: skip
        unknown = [i for i in data.approved_items if i not in unit.data["work_items"]]
        if unknown:
            return (f"data.approved_items: not applied for: {', '.join(unknown)}",
                    f"批准的项目须在申请之内：{'、'.join(unknown)}")  # fmt: skip
        if data.approved_end is not None and end_of_day_of(data.approved_end) <= self.now:
            return "data.approved_end: in the past", "批准的完工期限已经过去"
        return None

    @after("application_review")
    def _reviewed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        if task.outcome == "return_documents":
            self.event("application_returned", "R6 第1条", task.closed_by,
                       reason=task.data.get("reason", ""))  # fmt: skip
            self.open("supplement", unit, data={"missing_documents": self.missing(unit)})
            return
        if task.outcome == "reject":
            self.event("application_rejected", "R6 第1条", task.closed_by,
                       reason=task.data.get("reason", ""))  # fmt: skip
            self.close_unit(unit, "done", rejected=True)
            if self.v.approvals == 0:
                self.finish("closed", actor=task.closed_by, reason="装修申请未获批准")
            return
        data = self.given(ReviewApproveData, task)
        first = self.v.approvals == 0
        self.v.approvals += 1
        self.v.approved_items = data.approved_items or list(unit.data["work_items"])
        end = data.approved_end or date.fromisoformat(unit.data["planned_end"])
        self._set_period(end)
        self.event("application_approved", "R6 第1条", task.closed_by, application_no=unit.data["n"],
                   work_items="、".join(self.v.approved_items), approved_end=end.isoformat())  # fmt: skip
        self.close_unit(unit)
        if first:  # the first approval: agreements, passes, the permit
            self.v.stage = "permit_pending"
            for name in self.policy.agreements:
                self.open("agreement", data={"agreement": name})
            self.open("passes")
            self.open("permit")
            return
        # 第1条 a change approved the same way: it lifts a stop order and sets a new period
        for t in self.open_tasks("extension"):
            self.cancel(t, "变更申请已批准新的期限")
        if self.v.stage == "work_stopped":
            self.event("stop_lifted", "R6 第1条", task.closed_by, application_no=unit.data["n"])
        if self.v.permit_record is None:
            self.v.stage = "permit_pending"
        elif self.v.stage in ("work_stopped", "period_over", "under_work"):
            self.v.stage = "under_work"
            self._start_waste_checks()

    def _set_period(self, end: date) -> None:
        """第6条 the approved period ends at 24:00 of its last day."""
        self.v.approved_end = end
        self.v.period_seq += 1
        self.wake_at(end_of_day_of(end), "period_end", seq=self.v.period_seq)

    @after("supplement")
    def _supplemented(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        docs = [DocumentItem.model_validate(d) for d in task.data.get("documents", [])]
        app = self.unit_data(unit, ApplicationUnit)
        merged = {d.name: d for d in app.documents}
        merged.update({d.name: d for d in docs})
        unit.data["documents"] = [d.model_dump(mode="json") for d in merged.values()]
        unit.data["checklist"] = self.checklist(list(merged.values()))
        self.event("documents_supplied", "R6 第1条", task.closed_by,
                   missing="、".join(self.missing(unit)) or "无")  # fmt: skip
        self._review(unit)

    # ---- 第2、4、5条 the agreements, the passes, the permit -----------------------------------------

    @check("agreement", signatures=True)
    def _check_agreement(
        self, task: TaskState, outcome: str, data: Any, signatures: list[SignatureInput]
    ) -> tuple[str, str] | None:
        names = {s.signer_name.strip() for s in signatures}
        need = self.policy.signers_per_agreement
        if len(names) < need:
            return (f"signatures: {need} signers (the customer and the contractor) must sign",
                    f"《{task.data['agreement']}》须由客户和装修单位 {need} 人分别签字（R6 第4、5条）")  # fmt: skip
        return None

    @after("agreement")
    def _agreement_signed(self, task: TaskState) -> None:
        if task.status == "done":
            self.v.agreements_signed.append(task.data["agreement"])

    @check("passes")
    def _check_passes(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        today = self.now.astimezone(CHINA_TZ).date()
        nos = [w.pass_no for w in data.workers]
        if len(set(nos)) != len(nos):
            return "data.workers: a pass number twice", "出入证号重复"
        for w in data.workers:
            if w.valid_until < today:
                return (f"data.workers: the pass of {w.name} has expired",
                        f"{w.name} 的出入证已过期")  # fmt: skip
            if self.v.approved_end and w.valid_until > self.v.approved_end:
                return (f"data.workers: the pass of {w.name} outlasts the approved period",
                        f"{w.name} 的出入证有效期超过批准的装修期限 {self.v.approved_end}")  # fmt: skip
        return None

    @after("passes")
    def _passes_given(self, task: TaskState) -> None:
        if task.status == "done":
            self.v.passes_record = task.data.get("record_id")

    @check("permit")
    def _check_permit(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        unsigned = [a for a in self.policy.agreements if a not in self.v.agreements_signed]
        if unsigned:
            return (f"agreements not signed: {', '.join(unsigned)}",
                    f"开工证须在协议签署后发放，尚未签署：{'、'.join(unsigned)}（R6 第4、5条）")  # fmt: skip
        if self.v.passes_record is None:
            return ("the workers' passes are not registered",
                    "开工证须在施工人员出入证名单登记后发放（R6 第2条）")  # fmt: skip
        return None

    @after("permit")
    def _permit_issued(self, task: TaskState) -> None:
        if task.status != "done":
            return
        self.v.permit_record = task.data.get("record_id")
        self.event("permit_issued", "R6 第2条", task.closed_by,
                   permit_no=task.data.get("permit_no", ""),
                   posted_at=task.data.get("posted_at", ""))  # fmt: skip
        if self.v.stage == "permit_pending":
            self.v.stage = "under_work"
        self._start_waste_checks()

    # ---- work on site: 第1条 approval, stop orders -------------------------------------------------

    def _why_no_work(self) -> tuple[str, str] | None:
        v = self.v
        if v.approvals == 0:
            return ("no work without the management center's written approval",
                    "未经管理中心书面批准，不得施工（R6 第1条）")  # fmt: skip
        if v.permit_record is None:
            return "no work before the permit is issued", "开工证尚未发放，不得施工（R6 第2条）"
        if v.stage == "work_stopped":
            return ("work is stopped: a new approval is needed",
                    "已下达停工令：须重新向管理中心申报，批准后方可施工（R6 第1条）")  # fmt: skip
        if v.stage == "period_over":
            return ("the approved period has ended: an extension at client affairs first",
                    "已超过批准的装修期限：须先到客务部办理延期手续（R6 第6条）")  # fmt: skip
        if v.stage not in ACTIVE:
            return "the work is complete", "装修已完工，不能登记施工"
        return None

    @workflow.update(name="work_log")
    def work_log(self, inp: WorkLogInput) -> str:
        outside = [i for i in inp.work_items if i not in self.v.approved_items]
        rid = self.record("work_log", "施工巡查记录", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "work_items": inp.work_items, "workers": inp.workers, "note": inp.note,
            "outside": outside}, created_by=inp.actor.id, clause="R6 第1条")  # fmt: skip
        if outside:  # 第1条 work outside the approval: stopped at once
            self._stop(inp.actor.id, f"超出批准范围施工：{'、'.join(outside)}", outside, rid)
            return "stopped"
        return "recorded"

    @work_log.validator
    def _validate_work_log(self, inp: WorkLogInput) -> None:
        self.check_action("work_log", inp.actor)
        if self._finished:
            raise _refuse("the case is closed", "案件已结束")
        why = self._why_no_work()
        if why:
            raise _refuse(*why)

    @workflow.update(name="stop_work")
    def stop_work(self, inp: StopInput) -> str:
        self._stop(inp.actor.id, inp.reason, inp.work_items, None)
        return "stopped"

    @stop_work.validator
    def _validate_stop(self, inp: StopInput) -> None:
        self.check_action("stop_work", inp.actor)
        if self._finished or self.v.stage not in (*ACTIVE, "permit_pending"):
            raise _refuse("there is no work to stop", "当前没有可停止的施工")

    def _stop(self, actor: str, reason: str, work_items: list[str], found_in: str | None) -> None:
        """第1条 a stop order: the record, the notices, the stage `work_stopped`."""
        self.v.stop_orders += 1
        self.v.stage = "work_stopped"
        rid = self.record("stop_order", "《停工通知书》", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "contractor": self.inp.contractor, "reason": reason, "work_items": work_items,
            "approved_items": self.v.approved_items, "work_log": found_in,
            "stop_requirement": "立即停止施工；须重新向管理中心申报，待批准后方可施工；"
                           "有关损失由客户或装修单位负责"},
            created_by=actor, clause="R6 第1条")  # fmt: skip
        self.sign(rid, signer=actor, role="management_center", method="staff_login",
                  clause="R6 第1条")  # fmt: skip
        self.event("stop_order", "R6 第1条", actor, reason=reason, record_id=rid)
        body = (f"{self.title}\n{self.inp.contractor}（施工负责人 {self.inp.contractor_lead}）："
                f"{reason}。即日起停止施工，须重新申报并经管理中心书面批准后方可施工。")  # fmt: skip
        for who in (_CENTER, _AFFAIRS, "role:property_manager"):
            self.notify(f"stop/{self.v.stop_orders}/{who}", who, f"【停工令】{self.title}", body)
        for t in self.open_tasks("waste_check"):
            self.cancel(t, "已停工")

    @workflow.update(name="change_scope")
    def change_scope(self, inp: ChangeInput) -> str:
        n = self.v.applications + 1
        app = ApplicationUnit(n=n, work_items=inp.work_items, description=inp.description,
                              planned_end=inp.planned_end or self.v.approved_end or self.inp.planned_end,
                              documents=inp.documents, change=True)  # fmt: skip
        self._apply(app, inp.actor.id)
        return "applied"

    @change_scope.validator
    def _validate_change(self, inp: ChangeInput) -> None:
        self.check_action("change_scope", inp.actor)
        if (
            self._finished
            or self.v.approvals == 0
            or self.v.stage in ("awaiting_inspection", "inspection_accepted")
        ):
            raise _refuse("a change needs an approved renovation under way",
                          "只有已批准、未完工的装修可以申报变更")  # fmt: skip
        if any(u.kind == "application" and u.status == "open" for u in self.s.units):
            raise _refuse("an application is already under review", "已有申请正在审批")

    # ---- 第3条 the daily waste check --------------------------------------------------------------

    def _start_waste_checks(self) -> None:
        if f"waste{self.v.waste_seq}" in self.s.recurring:
            return
        self.v.waste_seq += 1  # a fresh key: a stopped duty's pending wake-up finds nothing
        at_time = self.policy.waste_removal_at
        local = self.now.astimezone(CHINA_TZ)
        first = datetime.combine(local.date(), at_time, CHINA_TZ)
        if first <= self.now:
            first += timedelta(days=1)
        self.recur(f"waste{self.v.waste_seq}", Grid(first, Deadline(days=1)), "waste_check_due")

    @at("waste_check_due")
    def _waste_check_due(self, data: dict[str, Any]) -> None:
        if self.v.stage not in ACTIVE:
            return
        for t in self.open_tasks("waste_check"):
            self.cancel(t, "由次日检查取代")
        planned = data["planned_at"]
        day = planned.astimezone(CHINA_TZ).date().isoformat()
        self.open("waste_check", start=planned, data={"check_day": day})

    @check("waste_check")
    def _check_waste(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        ok = data.sealed and data.route_ok and data.common_area_clear
        if outcome == "waste_cleared" and not ok:
            return (
                "outcome: a check with a failed point is not_cleared",
                "有不合格项时应选择“未按规定清运”",
            )
        if outcome == "waste_not_cleared" and ok and not data.findings:
            return "data.findings: say what was wrong", "请写明检查发现的问题"
        return None

    @after("waste_check")
    def _waste_checked(self, task: TaskState) -> None:
        if task.status != "done":
            return
        self.v.waste_checks += 1
        if task.outcome == "waste_not_cleared":
            self.v.waste_failed += 1
            self.event("waste_failed", "R6 第3条", task.closed_by, check_day=task.data["check_day"],
                       findings=task.data.get("findings", ""))  # fmt: skip
            self.notify(
                f"{task.id}/failed",
                _CENTER,
                f"【清运不合格】{self.title}",
                f"{task.data['check_day']} 装修垃圾未按规定清运：{task.data.get('findings', '')}",
            )

    @on_breach("waste_check")
    def _waste_missed(self, task: TaskState) -> None:
        """第3条 a check not made by its due is recorded as missed."""
        self.v.waste_missed += 1
        self.record("waste_check_missed", "清运检查漏检记录", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "check_day": task.data["check_day"], "check_due_at": task.due_at.isoformat() if task.due_at else None,
            "missed_task": task.id}, created_by=None, clause="R6 第3条")  # fmt: skip
        self.event("waste_missed", "R6 第3条", None, check_day=task.data["check_day"])

    # ---- 第6条 the approved period, the extension -------------------------------------------------

    @at("period_end")
    def _period_end(self, data: dict[str, Any]) -> None:
        if data["seq"] != self.v.period_seq or self.v.stage not in (
            *ACTIVE,
            "work_stopped",
            "permit_pending",
        ):
            return
        self.v.resume_stage = self.v.stage
        self.v.stage = "period_over"
        self.event("period_expired", "R6 第6条", None,
                   approved_end=self.v.approved_end.isoformat() if self.v.approved_end else "")  # fmt: skip
        for t in self.open_tasks("waste_check"):
            self.cancel(t, "批准期限已满")
        self.open("extension", data={"old_end": self.v.approved_end.isoformat()
                                     if self.v.approved_end else None})  # fmt: skip

    @check("extension")
    def _check_extension(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if outcome == "approve" and self.v.approved_end and data.new_end <= self.v.approved_end:
            return ("data.new_end: not after the approved end",
                    f"延期日期须晚于原批准期限 {self.v.approved_end}")  # fmt: skip
        if outcome == "approve" and end_of_day_of(data.new_end) <= self.now:
            return "data.new_end: in the past", "延期日期已经过去"
        return None

    @after("extension")
    def _extended(self, task: TaskState) -> None:
        if task.status != "done" or task.outcome != "approve":
            self.event("extension_refused", "R6 第6条", task.closed_by,
                       reason=task.data.get("reason", ""))  # fmt: skip
            return
        data = self.given(ExtensionData, task)
        self.v.extensions += 1
        old = self.v.approved_end
        self._set_period(data.new_end)
        self.v.stage = self.v.resume_stage or "under_work"
        self.event("extended", "R6 第6条", task.closed_by,
                   old_end=old.isoformat() if old else "", new_end=data.new_end.isoformat())  # fmt: skip
        if self.v.stage in ACTIVE:
            self._start_waste_checks()

    # ---- 第7条 completion, inspection, move-in, the deposit ----------------------------------------

    @workflow.update(name="work_completed")
    def work_completed(self, inp: CompletedInput) -> str:
        rectified = self.v.stage == "rectifying"
        self.v.stage = "awaiting_inspection"
        self.stop_recurring(f"waste{self.v.waste_seq}")
        for t in self.open_tasks("waste_check"):
            self.cancel(t, "装修已完工")
        self.event("work_completed", "R6 第7条", inp.actor.id, rectified=rectified, note=inp.note)
        self.open("inspection_request", data={"rectified": rectified})
        return "completed"

    @work_completed.validator
    def _validate_completed(self, inp: CompletedInput) -> None:
        self.check_action("work_completed", inp.actor)
        if self._finished or self.v.stage not in ACTIVE:
            raise _refuse("no work under way to complete", "当前没有进行中的装修（或已停工、逾期）")

    @on_breach("inspection_request")
    def _inspection_late(self, task: TaskState) -> None:
        """第7条 no application for inspection within 7 working days: recorded."""
        self.record("inspection_late", "《逾期未申请验收记录》", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "completed_at": task.created_at.isoformat(),
            "apply_due_at": task.due_at.isoformat() if task.due_at else None,
            "apply_within": self.policy.inspection_apply_within.label()},
            created_by=None, clause="R6 第7条")  # fmt: skip
        self.event("inspection_late", "R6 第7条", None,
                   apply_within=self.policy.inspection_apply_within.label())  # fmt: skip

    @after("inspection_request")
    def _inspection_applied(self, task: TaskState) -> None:
        if task.status == "done":
            self.open("inspection", data={"request_task": task.id})

    @check("inspection")
    def _check_inspection(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if outcome == "inspection_not_ok" and not data.defects:
            return (
                "data.defects: a failed inspection lists its defects",
                "验收不合格须列明不合格项目",
            )
        if outcome == "inspection_ok" and data.defects:
            return "data.defects: a passed inspection has none", "验收合格不应有不合格项目"
        return None

    @after("inspection")
    def _inspected(self, task: TaskState) -> None:
        if task.status != "done":
            return
        if task.outcome == "inspection_not_ok":
            defects = [d["item"] for d in task.data.get("defects", [])]
            self.v.stage = "rectifying"
            self.event("inspection_failed", "R6 第7条", task.closed_by, defects="、".join(defects))
            self.notify(f"{task.id}/failed", _AFFAIRS, f"【验收不合格】{self.title}",
                        f"不合格项目：{'、'.join(defects)}。请通知客户整改，整改完成后 "
                        f"{self.policy.inspection_apply_within.label()}内重新申请验收。")  # fmt: skip
            self._start_waste_checks()
            return
        self.v.stage = "inspection_accepted"
        self.v.inspection_passed = True
        self.event("inspection_passed", "R6 第7条", task.closed_by)
        figures = self.deposit_figures()
        self.notify(f"{task.id}/refund", _AFFAIRS, f"【退还抵押金】{self.title}",
                    f"装修验收已通过。请通知客户（{self.inp.contact}）办理退还装修施工抵押金手续："
                    f"押金 {figures['held_yuan']} 元，扣除 {figures['deducted_yuan']} 元，"
                    f"应退 {figures['balance_yuan']} 元。")  # fmt: skip
        self.event("refund_notified", "R6 第7条", None, balance_yuan=figures["balance_yuan"])
        if self.v.services_suspended and workflow.patched(RESUME_SERVICES):
            self._resume_services(task.closed_by)
        self.open("refund")

    def _resume_services(self, actor: str | None) -> None:
        """第7条 services suspended after an early move-in resume once the inspection passes."""
        services = "；".join(self.v.suspended) or "已暂停的各项服务"
        self.v.services_suspended = False
        rid = self.record("services_resumed", "《恢复服务通知》", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "services": services, "reason": "装修验收已通过"},
            created_by=actor or "system", clause="R6 第7条")  # fmt: skip
        self.event("services_resumed", "R6 第7条", actor, services=services, record_id=rid)
        self.notify(f"resume/{rid}", _AFFAIRS, f"【恢复服务】{self.title}",
                    f"装修验收已通过，恢复：{services}。请通知客户。")  # fmt: skip

    @after("refund")
    def _refunded(self, task: TaskState) -> None:
        if task.status != "done":
            return
        balance = self.balance()
        self.book("deposit/refund", clause="R6 第7条", party=self.inp.customer_name,
                  party_kind="customer", amount=balance, kind="deposit_refunded",
                  rule="验收通过，退还装修施工抵押金余额", account=self.v.deposit_account)  # fmt: skip
        self.finish("closed", actor=task.closed_by, reason="验收通过，抵押金已退还")

    def balance(self) -> Decimal:
        return self.inp.deposit_yuan - sum((Decimal(d) for d in self.v.deductions), Decimal(0))

    def deposit_figures(self) -> dict[str, Any]:
        held = self.inp.deposit_yuan
        deducted = sum((Decimal(d) for d in self.v.deductions), Decimal(0))
        return {"held_yuan": f"{held:.2f}", "deposit_deductions": list(self.v.deductions),
                "deducted_yuan": f"{deducted:.2f}", "balance_yuan": f"{held - deducted:.2f}"}  # fmt: skip

    @workflow.update(name="moved_in")
    def moved_in(self, inp: MovedInInput) -> str:
        if self.v.inspection_passed:
            self.event(
                "moved_in", "R6 第7条", inp.actor.id, moved_in_on=inp.moved_in_on.isoformat()
            )
            return "recorded"
        self.v.moved_in_early = True
        rid = self.record("early_move_in", "《未经验收迁入记录》", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "moved_in_on": inp.moved_in_on.isoformat(), "stage": self.v.stage,
            "note": inp.note}, created_by=inp.actor.id, clause="R6 第7条")  # fmt: skip
        self.event("moved_in_early", "R6 第7条", inp.actor.id, record_id=rid,
                   moved_in_on=inp.moved_in_on.isoformat())  # fmt: skip
        for who in (_CENTER, _AFFAIRS):
            self.notify(f"movein/{rid}/{who}", who, f"【未经验收迁入】{self.title}",
                        f"客户于 {inp.moved_in_on} 在验收通过前迁入办公。管理中心可暂停各种服务，"
                        f"或动用装修施工抵押金整改不合格的装修工程（R6 第7条）。")  # fmt: skip
        return "recorded"

    @moved_in.validator
    def _validate_moved_in(self, inp: MovedInInput) -> None:
        self.check_action("moved_in", inp.actor)
        if self._finished:
            raise _refuse("the case is closed", "案件已结束")
        if self.v.moved_in_early:
            raise _refuse("the move-in is recorded already", "迁入已登记")

    def _why_not_enforce(self) -> tuple[str, str] | None:
        if self._finished:
            return "the case is closed", "案件已结束"
        if not self.v.moved_in_early or self.v.inspection_passed:
            return ("only after a move-in before the inspection passed",
                    "只有客户在验收通过前迁入办公时，管理中心才可采取此措施（R6 第7条）")  # fmt: skip
        return None

    @workflow.update(name="suspend_services")
    def suspend_services(self, inp: SuspendInput) -> str:
        self.v.services_suspended = True
        self.v.suspended.append(inp.services)
        rid = self.record("services_suspended", "《暂停服务通知》", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "services": inp.services, "reason": inp.reason},
            created_by=inp.actor.id, clause="R6 第7条")  # fmt: skip
        self.event("services_suspended", "R6 第7条", inp.actor.id, services=inp.services,
                   record_id=rid)  # fmt: skip
        self.notify(
            f"suspend/{rid}",
            _AFFAIRS,
            f"【暂停服务】{self.title}",
            f"暂停：{inp.services}。原因：{inp.reason}。请通知客户。",
        )
        return "suspended"

    @suspend_services.validator
    def _validate_suspend(self, inp: SuspendInput) -> None:
        self.check_action("suspend_services", inp.actor)
        why = self._why_not_enforce()
        if why:
            raise _refuse(*why)

    @workflow.update(name="use_deposit")
    def use_deposit(self, inp: DepositUseInput) -> str:
        before = self.balance()
        self.v.deductions.append(f"{inp.amount_yuan:.2f}")
        n = len(self.v.deductions)
        self.book(f"deposit/used/{n}", clause="R6 第7条", party=self.inp.customer_name,
                  party_kind="customer", amount=inp.amount_yuan, kind="deposit_used",
                  rule=f"动用装修施工抵押金整改不合格工程：{inp.defects}",
                  account=self.v.deposit_account)  # fmt: skip
        self.record("deposit_use", "《抵押金整改扣款单》", {
            "customer_name": self.inp.customer_name, "premises": self.inp.premises,
            "defects": inp.defects, "amount_yuan": f"{inp.amount_yuan:.2f}",
            "balance_before_yuan": f"{before:.2f}", "balance_after_yuan": f"{self.balance():.2f}"},
            created_by=inp.actor.id, clause="R6 第7条")  # fmt: skip
        return f"{self.balance():.2f}"

    @use_deposit.validator
    def _validate_use_deposit(self, inp: DepositUseInput) -> None:
        self.check_action("use_deposit", inp.actor)
        why = self._why_not_enforce()
        if why:
            raise _refuse(*why)
        if inp.amount_yuan > self.balance():
            raise _refuse(f"amount_yuan: more than the balance {self.balance():.2f}",
                          f"动用金额超过抵押金余额 {self.balance():.2f} 元", "Invalid")  # fmt: skip


def end_of_day_of(day: date) -> datetime:
    """24:00 China time of `day`."""
    return end_of_day(datetime.combine(day, time(12), CHINA_TZ))
