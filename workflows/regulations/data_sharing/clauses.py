"""R2 `data-sharing` — 地产代理客户信息资源共享管理规定 (seed 第2篇, lines 163–197).

One case per 《客户资源需求申请单》 (`data-sharing-<request no>`): the request signed by the
department's leader, 销售管理部's review (it fixes the quantity), the approval by authority,
the issue, the receipt, then the weekly feedback until the department closes it with
销售管理部's consent.

Choices where the text is silent (a sales-management reading):
- "经各部门领导签字": the department head named in the request signs it (a staff-login
  signature on the record); refusing to sign ends the case.
- 销售管理部 may only keep or reduce the quantity asked for (never raise it); a reduction is
  recorded on its review (`reduced`, the quantity asked and the quantity fixed). The tier is
  decided by the fixed quantity.
- Authority (二 a–c): scope `own_projects` (a 销售总监 moving data between projects they
  manage, the director named in the request) needs no approval: 销售管理部's review files it as
  a record (《调配备案》) and the data is issued. `group` always goes to the general manager;
  `internal` goes to the vice president up to `vice_president_up_to` (2,000) records, above
  that to the general manager. The chain is the engine's `ApprovalSpec`; one person approves a
  chain once (engine rule).
- The issue records what was handed over — categories, count and the file's reference (name,
  size, SHA-256) — never the customer data; it cannot hand over more than was fixed nor other
  categories.
- Weekly feedback: week k's 《共享信息反馈单》 task opens when week k starts (the receipt's
  signing, then every `feedback_every`) and is due when it ends. It is entered by category or
  given as an uploaded spreadsheet (one of the two is required). A week not reported by its due
  is a breach: recorded against the department head (a 《未反馈记录》), told to them and to
  销售管理部, and a disciplinary proposal (`feedback_sanction`, default 书面警告) is opened for
  the department head; the late feedback can still be entered.
- Discipline (二 末段): a reported leak (by 销售管理部, a leader or the department head
  itself) proposes the sanction the reporter names against the department head; the vice
  president decides, a dismissal or demotion the general manager.
- The feedback duty ends only when the department asks to close it and 销售管理部 consents;
  then open feedback tasks are cancelled and the case closes.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine import CaseWorkflow, refuse
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import CaseStart, TaskState, UnitState
    from workflows.regulations.data_sharing.forms import (
        CloseInput,
        ConsentData,
        DataSharingInput,
        DataSharingPolicy,
        FeedbackData,
        IssueData,
        LeakInput,
        RefuseData,
        ReviewData,
        SignData,
    )
    from workflows.regulations.data_sharing.people import ROLES
    from workflows.spec import (
        ActionSpec,
        ApprovalSpec,
        Breach,
        RecordSpec,
        Sign,
        TaskSpec,
        Tier,
        after,
        after_approval,
        at,
        check,
        on_breach,
    )

CODE = "data-sharing"
_HEAD = "input.department_head"

TASKS = (
    TaskSpec("request_sign", "部门领导签字：《客户资源需求申请单》{request_no}", "R2 二",
             "department_head", assignee=_HEAD, deadline="sign_due",
             outcomes={"sign_off": SignData, "withheld": RefuseData},
             record=RecordSpec("data_request", "《客户资源需求申请单》", ("sign_off",)),
             signatures=(Sign("actor", "department_head", outcomes=("sign_off",)),)),
    TaskSpec("data_review", "审核资源种类并确定数量：{request_no}（{department}）", "R2 二",
             "sales_admin", deadline="review_due",
             outcomes={"fixed": ReviewData, "withheld": RefuseData},
             record=RecordSpec("data_review", "销售管理部审核意见", ("fixed",)),
             signatures=(Sign("actor", "sales_admin", outcomes=("fixed",)),)),
    TaskSpec("data_issue", "下发客户资源：{request_no}（{fixed_quantity} 条）", "R2 二",
             "sales_admin", deadline="issue_due", outcomes={"issued": IssueData},
             record=RecordSpec("data_issue", "客户资源下发记录", ("issued",)),
             signatures=(Sign("actor", "sales_admin"),)),
    TaskSpec("data_receipt", "签收：《共享资源签收确认单》{request_no}", "R2 二",
             "department_head", assignee=_HEAD, deadline="receipt_due",
             outcomes={"sign_off": SignData},
             record=RecordSpec("data_receipt", "《共享资源签收确认单》", ("sign_off",)),
             signatures=(Sign("actor", "department_head"),)),
    TaskSpec("data_feedback", "《共享信息反馈单》第 {week} 周：{request_no}", "R2 二",
             "department_head", assignee=_HEAD, outcomes={"done": FeedbackData},
             record=RecordSpec("data_feedback", "《共享信息反馈单》"),
             breach=Breach(notify=(_HEAD, "role:sales_admin"))),
    TaskSpec("close_consent", "同意结束共享资源反馈：{request_no}（{department}）", "R2 二",
             "sales_admin", deadline="close_due",
             outcomes={"consent": ConsentData, "withheld": RefuseData}),
)  # fmt: skip

APPROVAL = ApprovalSpec(  # 二 b, c: by the fixed quantity and the scope
    "data_sharing", "data_approval", "客户资源需求审批：{request_no}（{fixed_quantity} 条）", "R2 二",
    tiers=(Tier("vice_president_up_to", ("vice_president",)),
           Tier(None, ("general_manager",), scopes=("group",))),
)  # fmt: skip
DISCIPLINE = ApprovalSpec(  # 二 末段: up to dismissal
    "discipline", "discipline_approval", "处分审批：{party}（{request_no}）", "R2 二",
    tiers=(Tier(None, ("vice_president",)),
           Tier(None, ("general_manager",), scopes=("dismissal", "demotion"))),
)  # fmt: skip


@workflow.defn(name="zhidu.data-sharing")
class DataSharingWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "客户资源共享：{department}（{request_no}）"
    INPUT = DataSharingInput
    POLICY = DataSharingPolicy
    TASKS = TASKS
    APPROVALS = (APPROVAL, DISCIPLINE)
    ROLES = ROLES
    ROLE_HOLDERS = {"department_head": _HEAD}
    ACTIONS = (
        ActionSpec("close_feedback", CloseInput, ("department_head",), "update",
                   "申请结束反馈", "Ask to close the feedback"),
        ActionSpec("report_leak", LeakInput,
                   ("sales_admin", "department_head", "vice_president", "general_manager"),
                   "update", "报告资源流失", "Report a leak"),
    )  # fmt: skip
    inp: DataSharingInput
    policy: DataSharingPolicy

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        self.event("data_requested", "R2 二", self.started_by, quantity=self.inp.quantity,
                   scope=self.inp.scope)  # fmt: skip
        unit = self.open_unit("request", f"《客户资源需求申请单》{self.inp.request_no}")
        self.open("request_sign", unit)

    def summarize(self) -> dict[str, Any]:
        unit = self._request()
        return {"department": self.inp.department, "quantity": self.inp.quantity,
                "fixed_quantity": unit.data.get("fixed_quantity") if unit else None,
                "scope": self.inp.scope, "weeks": unit.data.get("weeks", 0) if unit else 0,
                "weeks_missed": unit.data.get("weeks_missed", 0) if unit else 0}  # fmt: skip

    def record_context(self, task: TaskState) -> dict[str, Any]:
        base = {"request_no": self.inp.request_no, "department": self.inp.department}
        unit = self._request()
        if task.kind == "request_sign":
            return {**base, **self.inp.model_dump(mode="json")}
        if task.kind == "data_review":
            fixed = task.data.get("fixed_quantity")
            return {**base, "requested_quantity": self.inp.quantity, "scope": self.inp.scope,
                    "reduced": fixed is not None and fixed < self.inp.quantity}  # fmt: skip
        if task.kind in ("data_issue", "data_receipt") and unit is not None:
            return {**base, "fixed_quantity": unit.data.get("fixed_quantity"),
                    "issue_record": unit.data.get("issue_record")}  # fmt: skip
        if task.kind == "data_feedback":
            return {**base, "week": task.data.get("week")}
        return base

    def _request(self) -> UnitState | None:
        return next((u for u in self.s.units if u.kind == "request"), None)

    # ---- 二: signed by the department's leader, reviewed by 销售管理部 -----------------------

    @after("request_sign")
    def _signed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        assert unit is not None
        if task.status != "done" or task.outcome != "sign_off":
            self.close_unit(unit, "done", refused=True)
            self.finish("withheld", reason=str(task.data.get("reason", "")))
            return
        unit.data["request_record"] = task.data.get("record_id")
        self.open("data_review", unit)

    @check("data_review")
    def _check_review(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if isinstance(data, ReviewData) and data.fixed_quantity > self.inp.quantity:
            return (
                f"data.fixed_quantity: more than the {self.inp.quantity} records asked for",
                f"核定数量不能超过申请数量 {self.inp.quantity} 条",
            )
        return None

    @after("data_review")
    def _reviewed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        assert unit is not None
        if task.status != "done" or task.outcome != "fixed":
            self.close_unit(unit, "done", refused=True)
            self.finish("withheld", reason=str(task.data.get("reason", "")))
            return
        review = self.given(ReviewData, task)
        unit.data.update(fixed_quantity=review.fixed_quantity, categories=review.categories)
        if review.fixed_quantity < self.inp.quantity:
            self.event("quantity_reduced", "R2 二", task.closed_by, requested=self.inp.quantity,
                       fixed=review.fixed_quantity)  # fmt: skip
        if self.inp.scope == "own_projects":  # 二 a: filed with 销售管理部, no approval
            rid = self.record("reallocation_filing", "销售总监项目间调配备案", {
                "request_no": self.inp.request_no, "sales_director": self.inp.sales_director,
                "projects": self.inp.projects, "categories": review.categories,
                "quantity": review.fixed_quantity}, created_by=task.closed_by,
                clause="R2 二 a")  # fmt: skip
            self.event("reallocation_filed", "R2 二 a", task.closed_by, record_id=rid,
                       sales_director=self.inp.sales_director)  # fmt: skip
            self.open("data_issue", unit)
            return
        self.request_approval("data_sharing", unit, str(task.data.get("record_id")),
                              measure=review.fixed_quantity,
                              scope="group" if self.inp.scope == "group" else None)  # fmt: skip

    @after_approval("data_sharing")
    def _decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        if approved:
            self.open("data_issue", unit)
        else:
            self.close_unit(unit, "done", rejected=True)
            self.finish("rejected")

    # ---- 二: issued by 销售管理部, signed for by the receiving department ---------------------

    @check("data_issue")
    def _check_issue(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        unit = self.unit(task.unit)
        if not isinstance(data, IssueData) or unit is None:
            return None
        if data.count > unit.data["fixed_quantity"]:
            return (
                f"data.count: more than the {unit.data['fixed_quantity']} records fixed",
                f"下发条数不能超过核定数量 {unit.data['fixed_quantity']} 条",
            )
        extra = [c for c in data.categories if c not in unit.data["categories"]]
        if extra:
            return (
                f"data.categories: {', '.join(extra)} were not approved",
                f"资源种类 {'、'.join(extra)} 未经核定",
            )
        return None

    @after("data_issue")
    def _issued(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        assert unit is not None
        unit.data["issue_record"] = task.data.get("record_id")
        self.open("data_receipt", unit)

    @after("data_receipt")
    def _received(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        assert unit is not None
        if task.status != "done":
            return
        start = task.closed_at or self.now
        every = self.policy.feedback_every
        self.recur("feedback", Grid(start, every, every), "feedback_week", lead=every.wall)

    # ---- 二: weekly feedback until closed with 销售管理部's consent ---------------------------

    @at("feedback_week")
    def _feedback_week(self, info: dict[str, Any]) -> None:
        unit = self._request()
        assert unit is not None
        week = info["k"] + 1
        unit.data["weeks"] = week
        self.open("data_feedback", unit, due=info["planned_at"], data={"week": week})

    @check("data_feedback")
    def _check_feedback(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if isinstance(data, FeedbackData) and not data.rows and data.spreadsheet is None:
            return (
                "data.rows: report by category, or upload the spreadsheet",
                "请按资源种类填写跟踪情况，或上传反馈表格",
            )
        return None

    @on_breach("data_feedback")
    def _feedback_missed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        assert unit is not None
        unit.data["weeks_missed"] = unit.data.get("weeks_missed", 0) + 1
        week = task.data.get("week")
        rid = self.record("feedback_missed", "共享资源未反馈记录", {
            "request_no": self.inp.request_no, "department": self.inp.department,
            "department_head": self.inp.department_head, "week": week, "due_at": task.due_at},
            created_by="system", clause="R2 二")  # fmt: skip
        self._propose(f"feedback-{week}", self.policy.feedback_sanction,
                      f"第 {week} 周共享资源无反馈信息（{rid}）", None)  # fmt: skip

    def _propose(self, key: str, kind: str, rule: str, by: str | None) -> None:
        unit = self.open_unit("discipline", f"处分提议：{self.inp.department_head}",
                              party=self.inp.department_head,
                              request_no=self.inp.request_no)  # fmt: skip
        self.propose_discipline(key, unit, approval="discipline", party=self.inp.department_head,
                                kind=kind, clause="R2 二", rule=rule, proposed_by=by)  # fmt: skip

    @after_approval("discipline")
    def _sanction_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.close_unit(unit, "done", approved=approved)

    @workflow.update(name="close_feedback")
    def close_feedback(self, inp: CloseInput) -> str:
        self.event("close_requested", "R2 二", inp.actor.id, reason=inp.reason)
        self.open("close_consent", self._request(), data={"reason": inp.reason})
        return "requested"

    @close_feedback.validator
    def _validate_close(self, inp: CloseInput) -> None:
        self.check_action("close_feedback", inp.actor)
        if "feedback" not in self.s.recurring:
            raise refuse("Conflict", "no weekly feedback is running", "尚无进行中的每周反馈")
        if self.open_tasks("close_consent"):
            raise refuse("Conflict", "closing is already asked", "已申请结束，等待销售管理部同意")

    @after("close_consent")
    def _close_decided(self, task: TaskState) -> None:
        if task.status != "done" or task.outcome != "consent":
            self.event("close_refused", "R2 二", task.closed_by,
                       reason=str(task.data.get("reason", "")))  # fmt: skip
            return
        self.stop_recurring("feedback")
        for t in self.open_tasks("data_feedback"):
            self.cancel(t, "销售管理部同意结束反馈", task.closed_by)
        unit = self._request()
        if unit is not None:
            self.close_unit(unit, "done")
        self.finish("closed", actor=task.closed_by, reason="销售管理部同意结束反馈")

    @workflow.update(name="report_leak")
    def report_leak(self, inp: LeakInput) -> str:
        rid = self.record("leak_report", "共享资源流失报告", {
            "request_no": self.inp.request_no, "department": self.inp.department,
            "description": inp.description}, created_by=inp.actor.id, clause="R2 二")  # fmt: skip
        self.event("leak_reported", "R2 二", inp.actor.id, record_id=rid)
        self._propose(f"leak-{rid}", inp.sanction, f"共享资源流失：{inp.description}", inp.actor.id)
        return rid

    @report_leak.validator
    def _validate_leak(self, inp: LeakInput) -> None:
        self.check_action("report_leak", inp.actor)
        if self._finished:
            raise refuse("Conflict", "the case is closed", "本案已结束")
