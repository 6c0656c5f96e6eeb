"""R11 `mall-complaint` — 商场商铺客户投诉处理管理规定 (seed 第11篇, lines 851–915).

One case per complaint (a case number), and one case per month for the review of last month's
closed complaints (the same workflow, input `case_kind="review"`, started by a Temporal Schedule).

A complaint: the service center (客户中心前台) records it and passes it to 商管部 (二.1; 客服部
is told and the 《客户投诉登记表》 is written: 一.2① 登记); 商管部 accepts it (`accept`), then
investigates cause and responsibility, decides, tells the customer, repairs or takes back and
improves (`reply`, 《客户投诉处理单》): due 24 h after the acceptance (三.1) or by the deadline
商管部 set for this case when accepting (三.2). 客服部 tracks and closes (`close`, 二.5).
While the reply is overdue 客服部 issues a 《催办单》 to 商管部 (五): a record and a notice at the
breach and again every `urge_every` while it stays open. A case whose reply came late gets a
《洽办单》 when it is closed: 商管部 answers why (`explain_delay`), the answer is recorded, and the
case ends.

The review (四): opens on the 1st of the month (the schedule, 09:00 China time), reads last
month's closed complaints from the database (the `closed_cases` report), and asks 客服部 to
review them by the 10th (`review`). Administrative penalties are compiled into a
《行政处分汇总表》 for HR, who executes and publishes them (`hr_penalty`; the publication goes to
商管部 and 客服部). Bonus deductions go on a 《奖罚通知单》, approved by the general manager; the
approved notice is booked in the ledger and "copied three times": three acknowledgement tasks —
客服部 (自存), 财务 (会计、商户查核) and the deducting department's head (罚扣部门) — each signing
the notice when acknowledging it.

Choices where the text is silent (a customer-service manager's reading):
- Numbers the text does not give are policy defaults: 商管部 accepts within 2 h, 客服部 closes
  within 2 working days of the reply, the 《洽办单》 is answered within 3 working days, HR
  executes within 5 working days, each copy is acknowledged within 3 working days, a 《催办单》
  repeats every 24 h. "每月10日前" is read as "by the end of the 10th" (`review_due`,
  `Deadline(month_day=10)`); a company that reads "before the 10th" sets 9.
- "Late" is the reply after its due (the handling time limit of 三); the 《洽办单》 ("得开立", may
  issue) is issued for every late case, so the cause is always on file.
- 客服部 is 客户部 of 四.1 (the same department in this text).
- A bonus deduction charged to a merchant is booked as a customer's fine, to a person as a
  person's; the deducting department is named in the review (a text field) and its head
  acknowledges the third copy.
- An urge note goes only for the reply (the case's time limit); the acceptance's own breach
  tells 商管部 and 客服部.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import add_months
    from workflows.engine import CaseWorkflow, local_text
    from workflows.engine.blocks.join import Closed
    from workflows.model import CHINA_TZ, CaseStart, TaskState, UnitState
    from workflows.regulations.mall_complaint.forms import (
        AcceptData,
        AckData,
        CloseData,
        DelayCauseData,
        MallComplaintInput,
        MallComplaintPolicy,
        MallComplaintVars,
        PublishData,
        ReplyData,
        ReviewData,
    )
    from workflows.regulations.mall_complaint.people import ROLES
    from workflows.spec import (
        ApprovalSpec,
        Breach,
        RecordSpec,
        TaskSpec,
        Tier,
        after,
        after_all,
        after_approval,
        at,
        check,
        on_breach,
        on_result,
    )

CODE = "mall-complaint"
COPIES: tuple[tuple[str, str, str], ...] = (  # copy -> (its name, the role that acknowledges)
    ("self", "自存", "customer_service"),
    ("accounting", "会计、商户查核", "finance"),
    ("deducting", "罚扣部门", "department_head"),
)

_MALL = "role:mall_management"
_CS = "role:customer_service"
TASKS = (
    # 二.1 the service center passes the complaint to 商管部, which accepts it.
    TaskSpec("accept", "受理商铺投诉：{shop}　{subject}", "R11 二.1", "mall_management",
             deadline="accept_due", outcomes={"taken_up": AcceptData},
             breach=Breach(notify=(_MALL, _CS))),
    # 一.1, 二.2–4, 三 investigate, decide, tell the customer: within 24 h of the acceptance.
    TaskSpec("reply", "调查处理并答复客户：{shop}　{subject}", "R11 三.1", "mall_management",
             outcomes={"replied": ReplyData},
             record=RecordSpec("mall_complaint_handling", "《客户投诉处理单》", ("replied",)),
             breach=Breach(notify=(_MALL, _CS))),
    # 二.5, 一.2③ 客服部 tracks, confirms the effect, closes.
    TaskSpec("close", "跟踪确认并结案：{shop}　{subject}", "R11 二.5", "customer_service",
             deadline="close_due", outcomes={"case_closed": CloseData},
             record=RecordSpec("mall_complaint_close", "客户投诉结案记录", ("case_closed",))),
    # 五 the 《洽办单》: 商管部 answers why the case was late.
    TaskSpec("explain_delay", "答复《洽办单》（逾期原因）：{shop}　{subject}", "R11 五", "mall_management",
             deadline="qiaoban_due", outcomes={"cause_given": DelayCauseData},
             record=RecordSpec("qiaoban_reply", "《洽办单》回复", ("cause_given",))),
    # 四 the monthly review of last month's closed complaints.
    TaskSpec("review", "审视上月结案的客户投诉（{review_month}）", "R11 四.1", "customer_service",
             deadline="review_due", outcomes={"reviewed": ReviewData},
             record=RecordSpec("complaint_review", "上月结案投诉审视意见", ("reviewed",))),
    TaskSpec("hr_penalty", "执行行政处分并公布（{review_month}）", "R11 四.1", "hr", deadline="hr_due",
             outcomes={"published": PublishData},
             record=RecordSpec("penalty_publication", "行政处分公布", ("published",))),
    TaskSpec("notice_copy", "《奖罚通知单》签收：{copy_name}（{review_month}）", "R11 四.2", "customer_service",
             deadline="ack_due", outcomes={"acknowledged": AckData}),
)  # fmt: skip

NOTICE = ApprovalSpec(  # 四.2 the 《奖罚通知单》 is approved by the general manager
    "notice", "notice_approval", "核准《奖罚通知单》（{review_month}）", "R11 四.2",
    tiers=(Tier(None, ("general_manager",)),),
)  # fmt: skip


def last_month(now: datetime) -> tuple[datetime, datetime]:
    """The month before `now`'s, China time: [first day 00:00, first day of this month)."""
    first = datetime.combine(now.astimezone(CHINA_TZ).date().replace(day=1), time(0), CHINA_TZ)
    return add_months(first, -1), first


@workflow.defn(name="zhidu.mall-complaint")
class MallComplaintWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "{case_title}"
    INPUT = MallComplaintInput
    POLICY = MallComplaintPolicy
    VARS = MallComplaintVars
    CUSTOMER_FIELD = None
    TASKS = TASKS
    APPROVALS = (NOTICE,)
    ROLES = ROLES
    inp: MallComplaintInput
    policy: MallComplaintPolicy
    v: MallComplaintVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        if self.inp.case_kind == "review":
            self._review_opens()
            return
        # 二.1 received by the service center, passed to 商管部; 一.2① 客服部 registers it.
        self.record("mall_complaint_intake", "《客户投诉登记表》", {
            "shop": self.inp.shop, "customer_name": self.inp.customer_name,
            "phone": self.inp.phone, "subject": self.inp.subject, "content": self.inp.content,
            "intake_at": self.now.isoformat(), "received_by": self.started_by,
        }, created_by=self.started_by, clause="R11 二.1")  # fmt: skip
        self.notify("registered", _CS, f"【登记】商铺投诉：{self.inp.shop}",
                    f"{self.title}\n投诉人：{self.inp.customer_name} {self.inp.phone}\n"
                    f"{self.inp.content}\n案件：{self.s.case_id}")  # fmt: skip
        self.open("accept")

    def summarize(self) -> dict[str, Any]:
        if self.inp.case_kind == "review":
            return {"kind": "review", "reviewed": len(self.v.reviewed)}
        return {
            "kind": "complaint",
            "shop": self.inp.shop,
            "accepted_at": self.v.accepted_at.isoformat() if self.v.accepted_at else None,
            "reply_due": self.v.reply_due.isoformat() if self.v.reply_due else None,
            "replied_at": self.v.replied_at.isoformat() if self.v.replied_at else None,
            "replied_late": self.v.late,
            "urges": self.v.urges,
            "responsibility": self.v.responsibility,
            "responsible": self.v.responsible,
        }

    def record_context(self, task: TaskState) -> dict[str, Any]:
        if self.inp.case_kind == "review":
            return {"review_month": task.data.get("review_month")}
        base = {"shop": self.inp.shop, "customer_name": self.inp.customer_name,
                "subject": self.inp.subject}  # fmt: skip
        if task.kind == "reply":
            return {**base, "accepted_at": self.v.accepted_at, "reply_due": task.due_at,
                    "replied_at": self.now}  # fmt: skip
        return base

    # ---- 二.1 acceptance; 三 the time limit -------------------------------------------------------

    @check("accept")
    def _check_accept(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if (
            isinstance(data, AcceptData)
            and data.case_deadline is not None
            and data.case_deadline <= self.now
        ):
            return "data.case_deadline: the case's deadline is in the past", "本案答复期限已经过去"
        return None

    @after("accept")
    def _accepted(self, task: TaskState) -> None:
        if task.status != "done":
            return
        data = self.given(AcceptData, task)
        self.v.accepted_at = task.closed_at
        if data.case_deadline is not None:  # 三.2 a deadline for this case
            due, clause = data.case_deadline, "R11 三.2"
        else:  # 三.1 24 h of the acceptance
            due, clause = self.due_after(self.now, "reply_within")[0], "R11 三.1"
        self.v.reply_due = due
        self.event("complaint_accepted", clause, task.closed_by, reply_due=due,
                   handler=data.handler)  # fmt: skip
        self.open("reply", due=due, clause=clause)

    # ---- 五 the urge note while overdue ----------------------------------------------------------

    @on_breach("reply")
    def _overdue(self, task: TaskState) -> None:
        self._urge(task)

    @at("urge")
    def _urge_again(self, data: dict[str, Any]) -> None:
        task = self.task(data["task"])
        if task is not None and task.status == "open":
            self._urge(task)

    def _urge(self, task: TaskState) -> None:
        self.v.urges += 1
        overdue = self.now - task.due_at if task.due_at else timedelta(0)
        hours = round(overdue.total_seconds() / 3600, 1)
        rid = self.record("urge_note", "《催办单》", {
            "shop": self.inp.shop, "subject": self.inp.subject, "reply_due": task.due_at,
            "overdue_hours": hours, "urge_count": self.v.urges,
        }, created_by=None, clause="R11 五")  # fmt: skip
        self.notify(f"urge/{self.v.urges}", _MALL, f"【催办单】{self.title}（第 {self.v.urges} 次）",
                    f"答复期限 {local_text(task.due_at)} 已过 {hours} 小时，请尽快处理并答复客户。\n"
                    f"记录：{rid}\n案件：{self.s.case_id}")  # fmt: skip
        self.wake_at(self.now + self.policy.urge_every.wall, "urge", task=task.id)

    # ---- 二.2–5 the reply, the close, 五 the 洽办单 -----------------------------------------------

    @after("reply")
    def _replied(self, task: TaskState) -> None:
        if task.status != "done":
            return
        data = self.given(ReplyData, task)
        self.v.replied_at = task.closed_at
        self.v.late = bool(task.due_at and task.closed_at and task.closed_at > task.due_at)
        self.v.responsibility, self.v.responsible = data.responsibility, data.responsible
        self.open("close")

    @after("close")
    def _closed_case(self, task: TaskState) -> None:
        if task.status != "done":
            return
        if not self.v.late:
            self.finish("closed", actor=task.closed_by)
            return
        late_by = round(((self.v.replied_at or self.now) - (self.v.reply_due or self.now))
                        .total_seconds() / 3600, 1)  # fmt: skip
        rid = self.record("qiaoban_note", "《洽办单》", {
            "shop": self.inp.shop, "subject": self.inp.subject, "reply_due": self.v.reply_due,
            "replied_at": self.v.replied_at, "late_hours": late_by,
        }, created_by=task.closed_by, clause="R11 五")  # fmt: skip
        self.open("explain_delay", data={"qiaoban": rid})

    @after("explain_delay")
    def _delay_explained(self, task: TaskState) -> None:
        self.finish("closed", actor=task.closed_by)

    # ---- 四 the monthly review -------------------------------------------------------------------

    def _review_opens(self) -> None:
        start, end = last_month(self.now)
        self.event("review_requested", "R11 四.1", None, period_start=start, period_end=end)
        self.run_job("zhidu.report", {"report": "closed_cases", "regulation": CODE,
                                      "period_start": start.isoformat(),
                                      "period_end": end.isoformat()},
                     "closed_cases", review_month=start.strftime("%Y-%m"))  # fmt: skip

    @on_result("closed_cases")
    def _closed_cases(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        cases = [
            c for c in result.get("cases", []) if c.get("summary", {}).get("kind") == "complaint"
        ]
        self.v.reviewed = [{"case": c["id"], "number": c.get("number"), "title": c.get("title"),
                            "closed_at": c.get("closed_at"),
                            "replied_late": bool(c["summary"].get("replied_late")),
                            "urges": c["summary"].get("urges", 0),
                            "responsibility": c["summary"].get("responsibility"),
                            "responsible": c["summary"].get("responsible")}
                           for c in cases]  # fmt: skip
        rid = self.record("closed_complaints", "上月结案客户投诉清单", {
            "review_month": context["review_month"], "cases": self.v.reviewed,
            "late_count": sum(1 for c in self.v.reviewed if c["replied_late"]),
        }, created_by=None, clause="R11 四.1")  # fmt: skip
        self.open("review", data={"review_month": context["review_month"], "case_list": rid,
                                  "cases": len(self.v.reviewed)})  # fmt: skip

    @after("review")
    def _reviewed(self, task: TaskState) -> None:
        if task.status != "done":
            self.finish("closed")
            return
        data, period = self.given(ReviewData, task), task.data["review_month"]
        if data.penalties:  # 四.1 compiled for HR, executed and published
            rid = self.record("penalty_summary", "行政处分汇总表", {
                "review_month": period, "penalties": [p.model_dump(mode="json") for p in data.penalties],
            }, created_by=task.closed_by, clause="R11 四.1")  # fmt: skip
            self.v.review_open += 1
            self.open("hr_penalty", data={"review_month": period, "penalty_record": rid})
        if data.deductions:  # 四.2 the 《奖罚通知单》 to the general manager
            total = sum((d.amount_yuan for d in data.deductions), start=self.v.deductions_yuan)
            self.v.deductions_yuan = total
            unit = self.open_unit("notice", f"《奖罚通知单》（{period}）", review_month=period,
                                  department=data.deducting_department)  # fmt: skip
            rid = self.record("reward_penalty_notice", "《奖罚通知单》", {
                "review_month": period, "deductions": [d.model_dump(mode="json") for d in data.deductions],
                "total_yuan": str(total), "deducting_department": data.deducting_department,
            }, created_by=task.closed_by, clause="R11 四.2")  # fmt: skip
            unit.data["record_id"] = rid
            unit.data["deductions"] = [d.model_dump(mode="json") for d in data.deductions]
            self.v.review_open += 1
            self.request_approval("notice", unit, rid)
        if not self.v.review_open:
            self.finish("closed", actor=task.closed_by)

    @after("hr_penalty")
    def _published(self, task: TaskState) -> None:
        if task.status == "done":
            where = task.data.get("where", "")
            for who in (_MALL, _CS):
                self.notify(f"{task.id}/published/{who}", who,
                            f"【公布】客户投诉行政处分（{task.data['review_month']}）",
                            f"人力资源部已执行并公布（{where}）。\n记录：{task.data['penalty_record']}")  # fmt: skip
        self._branch_done()

    @after_approval("notice")
    def _notice_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        if not approved:
            self.close_unit(unit, "done", approved=False)
            self._branch_done()
            return
        for d in unit.data["deductions"]:
            merchant = d["party_kind"] == "merchant"
            self.book(f"{record_id}/{d['complaint']}/{d['party']}", clause="R11 四.2",
                      party=d["party"], party_kind="customer" if merchant else "person",
                      amount=d["amount_yuan"],
                      rule=f"客户投诉 {d['complaint']} 奖金罚扣：{d['reason']}")  # fmt: skip
        for copy, name, role in COPIES:  # three copies, each acknowledged
            self.open("notice_copy", unit, role=role, data={
                "review_month": unit.data["review_month"], "copy": copy, "copy_name": name,
                "record_id": record_id})  # fmt: skip

    @after("notice_copy")
    def _copy_acknowledged(self, task: TaskState) -> None:
        if task.status == "done":
            self.sign(task.data["record_id"], signer=task.closed_by or "", role=task.role,
                      method="staff_login", clause="R11 四.2")  # fmt: skip

    @after_all("notice_copy")
    def _copies_done(self, unit: UnitState, closed: dict[str, Closed]) -> None:
        self.close_unit(unit, "done", approved=True)
        self._branch_done()

    def _branch_done(self) -> None:
        self.v.review_open -= 1
        if self.v.review_open <= 0:
            self.finish("closed")
