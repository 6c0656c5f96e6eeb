"""R5 `complaint` — 物业客户投诉处理工作管理规定 (seed 第5篇, lines 559–593).

One case per complaint (a case number `complaint-<year>-<n>`), started by whoever received it
(第1条: any employee; they are its 首问人). An ordinary complaint goes round by round (a unit
each): the front desk dispatches (第2条) or explains (第3条), the department handles it (第4条),
reports back (第5条), the first receiver is told (第8条) and the customer revisited (第5条); a
customer who is not satisfied reopens it as a new round. An emergency, major or developer
matter climbs the escalation ladder (第6–7条), is verified (第7条) and revisited alike.

Choices where the text is silent (a careful customer-service manager's reading):
- Every number is a `ComplaintPolicy` field; the text's silent ones are defaults a company
  changes: the department head's coordination of an unpersuaded customer 24 h (第3条), the
  board leader's decision 2 h (第7条).
- 第1条's "一般情况下在24小时内反馈客户中心前台": recording the complaint here *is* passing it to
  the front desk (it is told at once). When the receiver gives the time the complaint came in
  and it is more than `pass_on_within` before the recording, the timeline says so (late).
- The category is chosen by the receiver at intake (an emergency starts the ladder at once),
  or by the front desk at dispatch (it then starts from the front desk's dispatch).
- 第4条 "不能按时完成…须在接到调度后的2个小时内作出回应": the department's handling task has the
  outcome `cannot_finish` (the reason, a new promised time); the handling task reopens with the
  promised time as its deadline and the front desk is told. An answer later than 2 h after the
  dispatch is accepted (the customer still needs the new time) but recorded as late, and counts
  as a breach.
- 第5条: "处理妥善" is the department saying so (the handling task done); the 2-hour report back
  is a task of its own, so that both moments are on the timeline. The revisit counts its 2
  working days from the report (ordinary) or from the verification (第7条: 完成后).
- 第6–7条, the ladder: level 1 the department (told at once by the system when the emergency is
  recorded: 3 minutes to take it up and settle it or report up), level 2 the 管理处负责人
  (service-center head: 5 minutes to settle or report to the company leader), level 3 the
  物业公司主管领导 (10 minutes to settle or phone the board; the center head owes a written
  report within 24 h once the company leader is told), level 4 the 董事领导 (decides; the
  company leader owes a written report within 48 h once the board is told). A level that
  cannot resolve escalates at once (outcome `escalate`); a breach escalates by itself and is
  recorded. "接报后": by default each level's time counts from when that level was told (a
  center head told at minute 2 owes the report by minute 7); `emergency_clock = "intake"`
  counts every level from the intake (3 / 5 / 10 minutes: `Level(counts_from="ladder")`).
  Written reports owed stay open when the ladder ends.
- 第7条's verification is two tasks at once (发展商客户服务部 and the property company's
  front desk), each within 8 h; the revisit opens when both are done.
- 第8条: the front desk tells the first receiver (a task, 2 h), who is then notified with what
  they were told; the first receiver follows the complaint on 工作台 (a task of their own,
  with no deadline, closed when the case closes).
- A task nobody acts on stays open after its breach (a complaint is never dropped by a
  timer); the breach is written as a record 《投诉处理超时记录》 and counted.
- Any department head may act for "the department" (the text names no department binding);
  the dispatch names the responsible department for the records and statistics.
- The case closes when the customer is satisfied and nothing owed (a written report, the
  first receiver's notice) is still open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import Field

    from workflows.engine import CaseWorkflow, refuse
    from workflows.engine.blocks.join import Closed
    from workflows.model import Actor, CaseStart, Form, TaskState, UnitState
    from workflows.regulations.complaint.forms import (
        EMERGENCY_CATEGORIES,
        CannotFinishData,
        ComplaintInput,
        ComplaintPolicy,
        ComplaintVars,
        DisciplineInput,
        DispatchData,
        EmergencyData,
        ExplainData,
        HandledData,
        RevisitData,
        TellData,
        VerifyData,
    )
    from workflows.regulations.complaint.people import ROLES
    from workflows.search import CASE_BREACHED, CASE_DEPARTMENT, CASE_LEVEL, REGULATION
    from workflows.spec import (
        ActionSpec,
        ApprovalSpec,
        Breach,
        EscalationData,
        LadderSpec,
        Level,
        NoteData,
        RecordSpec,
        ReportData,
        TaskSpec,
        Tier,
        after,
        after_all,
        after_approval,
        after_ladder,
        check,
        on_breach,
    )

CODE = "complaint"
SUPERVISORY_REVISIT_CASE = "revisit-{}"  # R1's case of a customer (its business key)
_DESK = "role:front_desk"


class SettleInput(Form):
    """An emergency settled outside the ladder (the customer withdrew, it was handled on site)."""

    actor: Actor
    reason: str = Field(min_length=2, max_length=1000, description="理由")


# ---- the clauses ----------------------------------------------------------------------------------

TASKS = (
    # 第2条 the front desk gathers, verifies, analyses, decides; dispatches within 12 h.
    TaskSpec("complaint_dispatch", "核实并传递投诉：{subject}", "R5 第2条", "front_desk",
             deadline="dispatch_within", lapse=None,
             outcomes={"dispatch_department": DispatchData, "unreasonable": ExplainData,
                       "urgent": EmergencyData},
             record=RecordSpec("complaint_dispatch_note", "《投诉处理传递单》",
                               ("dispatch_department",))),
    # 第3条 a customer the front desk cannot persuade: the department head steps in.
    TaskSpec("complaint_coordinate", "出面协调非合理投诉：{subject}", "R5 第3条",
             "department_head", deadline="coordinate_within", lapse=None,
             outcomes={"coordinated": HandledData},
             record=RecordSpec("complaint_coordination", "《投诉协调记录》", ("coordinated",)),
             breach=Breach(notify=("task.holder", _DESK))),
    # 第4条 the department handles it by the deadline, or answers within 2 h that it cannot.
    TaskSpec("complaint_handle", "处理投诉（{department}）：{subject}", "R5 第4条",
             "department_head", lapse=None,
             outcomes={"handled": NoteData, "cannot_finish": CannotFinishData},
             record=RecordSpec("complaint_cannot_finish", "《不能按时完成回应》", ("cannot_finish",)),
             breach=Breach(notify=("task.holder", _DESK))),
    # 第5条 done: the department reports to the front desk within 2 h.
    TaskSpec("complaint_report_back", "反馈处理结果：{subject}", "R5 第5条", "department_head",
             deadline="report_back_within", lapse=None, outcomes={"done": HandledData},
             record=RecordSpec("complaint_result", "《投诉处理结果反馈》"),
             breach=Breach(notify=("task.holder", _DESK))),
    # 第5条 / 第7条 the revisit within 2 working days: satisfied closes, not satisfied reopens.
    TaskSpec("complaint_revisit", "回访投诉顾客：{customer_name}（{subject}）", "R5 第5条",
             "front_desk", deadline="revisit_within", lapse=None,
             outcomes={"satisfied": RevisitData, "not_satisfied": RevisitData},
             record=RecordSpec("complaint_revisit_record", "《投诉回访记录》",
                               ("satisfied", "not_satisfied"))),
    # 第7条 verification within 8 h by the developer's customer service and the property company.
    TaskSpec("complaint_verify_developer", "跟进验证（发展商）：{subject}", "R5 第7条",
             "developer_cs", deadline="verify_within", lapse=None,
             outcomes={"verified": VerifyData},
             record=RecordSpec("complaint_verification", "《投诉处理跟进验证》", ("verified",))),
    TaskSpec("complaint_verify_property", "跟进验证（物业公司）：{subject}", "R5 第7条",
             "front_desk", deadline="verify_within", lapse=None,
             outcomes={"verified": VerifyData},
             record=RecordSpec("complaint_verification", "《投诉处理跟进验证》", ("verified",))),
    # 第8条 the first receiver is told within 2 h of completion ...
    TaskSpec("complaint_tell_first", "反馈首问人：{subject}", "R5 第8条", "front_desk",
             deadline="tell_first_receiver_within", lapse=None, outcomes={"done": TellData},
             breach=Breach(notify=("task.holder", "case.started_by"))),
    # ... and follows the complaint meanwhile (their own task on 工作台, no deadline).
    TaskSpec("complaint_follow", "跟进投诉处理进度（首问人）：{subject}", "R5 第8条", "",
             assignee="case.started_by", lapse=None, outcomes={"done": NoteData}),
)  # fmt: skip


def _level(kind: str, title: str, role: str, within: str, clause: str) -> TaskSpec:
    return TaskSpec(
        kind, title, clause, role, deadline=within, lapse=None,
        outcomes={"resolved": EscalationData, "escalate": EscalationData},
        breach=Breach(notify=("task.holder", _DESK)),
    )  # fmt: skip


def _report(kind: str, title: str, role: str, within: str, clause: str) -> TaskSpec:
    return TaskSpec(
        kind, title, clause, role, deadline=within, lapse=None, outcomes={"done": ReportData},
        record=RecordSpec("complaint_written_report", "《投诉处理书面报告》"),
        breach=Breach(notify=("task.holder", "role:board")),
    )  # fmt: skip


def _ladder(key: str, counts_from: Literal["reached", "ladder"], tag: str) -> LadderSpec:
    """第6–7条 the ladder; `counts_from` is the reading of 接报后 (see the docstring)."""
    return LadderSpec(key, (
        Level(_level(f"em_department{tag}", "紧急投诉应急处理：{subject}", "department_head",
                     "department_within", "R5 第6条")),
        Level(_level(f"em_center{tag}", "管理处负责人处置（不能解决即上报）：{subject}",
                     "center_head", "center_head_within", "R5 第6条"), counts_from=counts_from),
        Level(_level(f"em_leader{tag}", "主管领导协调（不能解决即电话上报董事领导）：{subject}",
                     "company_leader", "leader_within", "R5 第7条"),
              _report(f"em_report_24h{tag}", "提交书面报告（24 小时）：{subject}", "center_head",
                      "report_24h_within", "R5 第6条"), counts_from=counts_from),
        Level(_level(f"em_board{tag}", "董事领导决策处理：{subject}", "board", "board_within",
                     "R5 第7条"),
              _report(f"em_report_48h{tag}", "提交书面报告（48 小时）：{subject}",
                      "company_leader", "report_48h_within", "R5 第7条"),
              counts_from=counts_from),
    ))  # fmt: skip


EMERGENCY = _ladder("emergency", "reached", "")  # 接报后: from when that level was told
EMERGENCY_FROM_INTAKE = _ladder("emergency_intake", "ladder", "_intake")  # every level: intake
LADDER_KEYS = (EMERGENCY.key, EMERGENCY_FROM_INTAKE.key)
LEVEL_KINDS = {
    lv.task.kind: n for lad in (EMERGENCY, EMERGENCY_FROM_INTAKE) for n, lv in
    enumerate(lad.levels, start=1)
}  # fmt: skip
REPORT_KINDS = tuple(
    lv.report.kind for lad in (EMERGENCY, EMERGENCY_FROM_INTAKE) for lv in lad.levels if lv.report
)
# 第10条 sanctions and rewards: the department concerned, then the board's leader, approve.
DISCIPLINE = ApprovalSpec(
    "complaint_discipline", "complaint_discipline_approval", "奖惩审批（投诉处理）：{party}",
    "R5 第10条", tiers=(Tier(None, ("department_head", "board")),),
)  # fmt: skip
# What a satisfied case still waits for before it closes.
OWED = ("complaint_tell_first", DISCIPLINE.task_kind, *REPORT_KINDS)


@workflow.defn(name="zhidu.complaint")
class ComplaintWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "投诉：{subject}（{customer_name}）"
    INPUT = ComplaintInput
    POLICY = ComplaintPolicy
    VARS = ComplaintVars
    TASKS = TASKS
    LADDERS = (EMERGENCY, EMERGENCY_FROM_INTAKE)
    APPROVALS = (DISCIPLINE,)
    ROLES = ROLES
    ACTIONS = (
        ActionSpec("settle_emergency", SettleInput, ("front_desk", "center_head", "company_leader"),
                   "update", "紧急事项已另行处理完毕", "Settle the emergency"),
        ActionSpec("propose_complaint_discipline", DisciplineInput,
                   ("front_desk", "department_head", "center_head", "company_leader", "board"),
                   "update", "提出奖惩（第10条）", "Propose a sanction or reward"),
    )  # fmt: skip
    inp: ComplaintInput
    policy: ComplaintPolicy
    v: ComplaintVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    # ---- 第1条 the intake ----------------------------------------------------------------------

    def begin(self) -> None:
        received = min(self.inp.received_at or self.now, self.now)
        self.v.received_at = received
        self.record(
            "complaint_intake",
            "《客户投诉登记表》",
            {"received_at": received.isoformat(), "customer_name": self.inp.customer_name,
             "address": self.inp.address, "phone": self.inp.phone, "subject": self.inp.subject,
             "category": self.inp.category, "first_receiver": self.started_by},
            created_by=self.started_by,
            clause="R5 第1条",
        )  # fmt: skip
        late = self.now - received > self.policy.pass_on_within.wall
        self.event("complaint_received", "R5 第1条", self.started_by,
                   received_at=received, category=self.inp.category, late=late)  # fmt: skip
        if self.person("case.started_by") is not None:
            self.open("complaint_follow")
        self.v.category = self.inp.category
        if self.inp.category in EMERGENCY_CATEGORIES:
            self._start_emergency(None, received)
        else:
            self._new_round()

    def summarize(self) -> dict[str, Any]:
        v = self.v
        hours = None
        if v.resolved_at is not None and v.received_at is not None:
            hours = round((v.resolved_at - v.received_at).total_seconds() / 3600, 2)
        summary = {
            "category": v.category, "phase": v.phase, "department": v.department,
            "level": v.level, "ladder_level": str(v.level), "breaches": v.breaches,
            "breached": v.breaches > 0, "breached_kinds": v.breached_kinds,
            "breaches_by_department": v.breaches_by_department, "reopened": v.reopened,
            "was_reopened": v.reopened > 0, "hours_to_resolve": hours, "satisfied": v.satisfied,
            "first_receiver": self.person("case.started_by"),
        }  # fmt: skip
        self._tag()
        return summary

    def _tag(self) -> None:
        """The search attributes the Temporal console lists open complaints by: level,
        department, breach state (only on cases started with search attributes)."""
        tags = [str(self.v.level), self.v.department or "", "yes" if self.v.breaches else "no"]
        if tags == self.v.tagged:
            return
        if workflow.info().typed_search_attributes.get(REGULATION) is None:
            return
        self.v.tagged = tags
        workflow.upsert_search_attributes([
            CASE_LEVEL.value_set(tags[0]), CASE_DEPARTMENT.value_set(tags[1]),
            CASE_BREACHED.value_set(tags[2])])  # fmt: skip

    # ---- 第2–5条 the ordinary path, one round per handling -------------------------------------

    def _new_round(self) -> UnitState:
        self.v.rounds += 1
        self.v.phase = "dispatch"
        unit = self.open_unit("complaint_round", f"第 {self.v.rounds} 轮处理：{self.inp.subject}",
                              round=self.v.rounds)  # fmt: skip
        self.open("complaint_dispatch", unit)
        return unit

    @check("complaint_dispatch")
    def _check_dispatch(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if isinstance(data, DispatchData) and data.due_at <= self.now:
            return "data.due_at: the deadline is in the past", "处理期限已经过去"
        return None

    @after("complaint_dispatch")
    def _dispatched(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        if task.outcome == "dispatch_department":
            data = self.given(DispatchData, task)
            self.v.department, self.v.phase = data.department, "handling"
            self.open("complaint_handle", unit, due=data.due_at, data={
                "department": data.department, "handling": data.handling,
                "dispatched_at": self.now.isoformat()})  # fmt: skip
        elif task.outcome == "unreasonable":  # 第3条
            explained = self.given(ExplainData, task)
            self.record("complaint_explanation", "《非合理投诉解释记录》",
                        {"subject": self.inp.subject, **explained.model_dump()},
                        created_by=task.closed_by, clause="R5 第3条")  # fmt: skip
            if explained.persuaded:
                self._completed(unit, "explained")
            else:
                self.v.phase = "coordinating"
                self.open("complaint_coordinate", unit)
        else:  # 第6条 the front desk finds it urgent, major or the developer's
            urgent = self.given(EmergencyData, task)
            self.close_unit(unit, "done", urgent=True)
            self.v.category = urgent.category
            self._start_emergency(urgent.department, self.now)

    @after("complaint_coordinate")
    def _coordinated(self, task: TaskState) -> None:
        if (unit := self.unit(task.unit)) is not None and task.status == "done":
            self._completed(unit, "coordinated")

    @check("complaint_handle")
    def _check_handle(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if isinstance(data, CannotFinishData) and data.promised_at <= self.now:
            return "data.promised_at: the promised time is in the past", "承诺时间已经过去"
        return None

    @after("complaint_handle")
    def _handled(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        if task.outcome == "handled":  # 第5条 the report back within 2 h
            self.v.phase = "reporting"
            self.open("complaint_report_back", unit, data={"department": task.data["department"]})
            return
        # 第4条 cannot finish in time: answered within 2 h of the dispatch?
        answer = self.given(CannotFinishData, task)
        dispatched = datetime.fromisoformat(task.data["dispatched_at"])
        limit = self.due_after(dispatched, "cannot_finish_within")[0]
        late = self.now > limit
        self.event("cannot_finish", "R5 第4条", task.closed_by, reason=answer.reason,
                   promised_at=answer.promised_at, late=late)  # fmt: skip
        if late:
            self._count_breach(task, "cannot_finish_late")
        self.notify(f"{task.id}/cannot_finish", _DESK,
                    f"【不能按时完成】{self.inp.subject}",
                    f"{task.data['department']}：{answer.reason}\n新的承诺完成时间："
                    f"{answer.promised_at.isoformat()}\n请向顾客回复。")  # fmt: skip
        self.open("complaint_handle", unit, due=answer.promised_at,
                  data={**{k: task.data[k] for k in ("department", "handling", "dispatched_at")},
                        "promised": True})  # fmt: skip

    @after("complaint_report_back")
    def _reported(self, task: TaskState) -> None:
        if (unit := self.unit(task.unit)) is not None and task.status == "done":
            self._completed(unit, "handled")

    def _completed(self, unit: UnitState, how: str) -> None:
        """Handling complete (第5条): the first receiver is told (第8条), the customer revisited."""
        self.v.resolved_at = self.now
        self.v.phase = "revisit"
        self.event("complaint_completed", "R5 第5条", None, how=how, unit=unit.id)
        self._tell_first_receiver(unit)
        self.open("complaint_revisit", unit)

    def _tell_first_receiver(self, unit: UnitState) -> None:
        if self.person("case.started_by") is not None:
            self.open("complaint_tell_first", unit)

    @after("complaint_tell_first")
    def _told(self, task: TaskState) -> None:
        if task.status == "done" and (who := self.person("case.started_by")) is not None:
            told = self.given(TellData, task)
            self.notify(f"{task.id}/told", who, f"【投诉处理结果】{self.inp.subject}",
                        f"{told.message}\n案件：{self.s.case_id}")  # fmt: skip
        self._maybe_close()

    @after("complaint_revisit")
    def _revisited(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        if task.outcome == "satisfied":
            self.v.satisfied, self.v.phase = True, "closing"
            self.event("complaint_satisfied", "R5 第5条", task.closed_by)
            self.close_unit(unit, "done", satisfied=True, keep_owed=True)
            self._maybe_close()
            return
        # not satisfied: a new round from the front desk
        self.v.reopened += 1
        self.v.satisfied = False
        self.event("complaint_reopened", "R5 第5条", task.closed_by, reopened=self.v.reopened)
        self.close_unit(unit, "done", satisfied=False)
        self._new_round()

    def close_unit(self, unit: UnitState, status: str = "done", **detail: Any) -> None:
        """A round closes; what it still owes (the first receiver's notice, written reports)
        stays open when `keep_owed`."""
        if detail.pop("keep_owed", False) and unit.status == "open":
            unit.status, unit.closed_at = status, self.now  # type: ignore[assignment]
            for t in self.open_tasks(unit=unit):
                if t.kind not in OWED:
                    self.cancel(t, f"unit {status}")
            self.event("unit_closed", None, None, unit=unit.id, kind=unit.kind, status=status,
                       **detail)  # fmt: skip
            return
        super().close_unit(unit, status, **detail)

    @after(*REPORT_KINDS)
    def _written(self, task: TaskState) -> None:
        self._maybe_close()

    def _maybe_close(self) -> None:
        if self.v.satisfied and not any(t.kind in OWED for t in self.open_tasks()):
            self.v.phase, self.v.closed_at = "closed", self.now
            self.event("complaint_closed", "R5 第5条", None)
            self._supervisory_revisit()
            self.finish("done")

    def _supervisory_revisit(self) -> None:
        """A closed complaint of a customer with a revisit case (R1): that case makes its 5.2
        supervisory phone revisit, as when a person reports the complaint handled there."""
        if not self.inp.customer_id:
            return
        target = SUPERVISORY_REVISIT_CASE.format(self.inp.customer_id)
        ref = self.s.number or self.s.case_id
        self.send_to_case(target, "complaint_handled", f"{self.s.case_id}/complaint_handled",
                          {"complaint_ref": ref, "summary": f"{self.inp.subject}（已结案，顾客满意）"})  # fmt: skip

    # ---- 第6–7条 the emergency ladder ----------------------------------------------------------

    def _start_emergency(self, department: str | None, start: datetime) -> None:
        self.v.phase, self.v.department, self.v.level = "emergency", department, 1
        key = EMERGENCY.key if self.policy.emergency_clock == "told" else EMERGENCY_FROM_INTAKE.key
        unit = self.open_unit("complaint_emergency", f"紧急投诉：{self.inp.subject}",
                              ladder=key, department=department or "")  # fmt: skip
        self.event("emergency_started", "R5 第6条", None, category=self.v.category,
                   clock=self.policy.emergency_clock)  # fmt: skip
        self.escalate(key, unit, start=start, department=department or "未指定")

    @after(*LEVEL_KINDS)
    def _level_closed(self, task: TaskState) -> None:
        self._note_level(task)

    def _note_level(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is not None:
            state = unit.data.get("ladders", {}).get(unit.data.get("ladder", ""), {})
            self.v.level = max(self.v.level, int(state.get("level", 0)) + 1)

    @on_breach(
        *LEVEL_KINDS, *REPORT_KINDS, "complaint_dispatch", "complaint_coordinate",
        "complaint_handle", "complaint_report_back", "complaint_revisit",
        "complaint_verify_developer", "complaint_verify_property", "complaint_tell_first",
    )  # fmt: skip
    def _breached(self, task: TaskState) -> None:
        """A breach is recorded (the ladder has already escalated a level's)."""
        if task.kind in LEVEL_KINDS:
            self._note_level(task)
        self._count_breach(task, "overdue")

    def _count_breach(self, task: TaskState, what: str) -> None:
        self.v.breaches += 1
        party = self._responsible(task)
        self.v.breaches_by_department[party] = self.v.breaches_by_department.get(party, 0) + 1
        if task.kind not in self.v.breached_kinds:
            self.v.breached_kinds.append(task.kind)
        self.record("complaint_breach", "《投诉处理超时记录》", {
            "task": task.title, "step": task.kind, "what": what, "clause": task.clause,
            "role": task.role, "department": self.v.department or "",
            "due_at": task.due_at.isoformat() if task.due_at else None,
            "level": LEVEL_KINDS.get(task.kind)}, created_by=None, clause=task.clause)  # fmt: skip
        # 第10条 (added after the first cases ran: their histories open no proposal)
        if self.policy.sanction_on_breach is not None and workflow.patched("r5-sanction-on-breach"):
            unit = self.open_unit("complaint_discipline", f"奖惩：{party}", party=party)
            self.propose_discipline(
                f"{task.id}/{what}", unit, approval=DISCIPLINE.key, party=party,
                party_kind="department", kind=self.policy.sanction_on_breach, clause="R5 第10条",
                rule=f"{task.title}：超过时限（{task.clause}），影响投诉处理",
            )  # fmt: skip

    def _responsible(self, task: TaskState) -> str:
        """Who answers for a step: the responsible department for a department's step, else
        the post (the register's entry names a department or post; the approvers know the
        person)."""
        if task.role == "department_head" and self.v.department:
            return self.v.department
        return self._book.zh(task.role)

    @after_approval("complaint_discipline")
    def _discipline_decided_here(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.close_unit(unit, "done", approved=approved)
        self._maybe_close()

    @workflow.update(name="propose_complaint_discipline")
    def propose_complaint_discipline(self, inp: DisciplineInput) -> str:
        """第10条: a sanction or a reward by responsibility, decided by the approval chain."""
        unit = self.open_unit("complaint_discipline", f"奖惩：{inp.party}", party=inp.party)
        return self.propose_discipline(
            f"{unit.id}/{inp.kind}", unit, approval=DISCIPLINE.key, party=inp.party,
            party_kind=inp.party_kind, kind=inp.kind, clause="R5 第10条", rule=inp.rule,
            amount=inp.amount_yuan, proposed_by=inp.actor.id,
        )  # fmt: skip

    @propose_complaint_discipline.validator
    def _check_discipline(self, inp: DisciplineInput) -> None:
        self.check_action("propose_complaint_discipline", inp.actor)
        if self._finished:
            raise refuse("Conflict", "the complaint is closed", "投诉已结案")

    @after_ladder("emergency")
    @after_ladder("emergency_intake")
    def _ladder_over(self, unit: UnitState, level: int) -> None:
        """Resolved at `level` (or settled outside the ladder): 第7条 verification within 8 h,
        and the first receiver is told (第8条)."""
        self.v.level = max(self.v.level, level)
        self.v.resolved_at = self.now
        self.v.phase = "verifying"
        self._tell_first_receiver(unit)
        self.open("complaint_verify_developer", unit)
        self.open("complaint_verify_property", unit)

    @after_all("complaint_verify_developer", "complaint_verify_property")
    def _verified(self, unit: UnitState, closed: dict[str, Closed]) -> None:
        if unit.status == "open":
            self.v.phase = "revisit"
            self.open("complaint_revisit", unit)

    @workflow.update(name="settle_emergency")
    def settle_emergency(self, inp: SettleInput) -> bool:
        unit = next(
            u for u in self.s.units if u.kind == "complaint_emergency" and u.status == "open"
        )
        return self.end_ladder(unit.data["ladder"], unit, inp.reason, inp.actor.id)

    @settle_emergency.validator
    def _check_settle(self, inp: SettleInput) -> None:
        self.check_action("settle_emergency", inp.actor)
        running = [u for u in self.s.units if u.kind == "complaint_emergency"
                   and u.status == "open" and any(t.kind in LEVEL_KINDS for t in self.open_tasks(unit=u))]  # fmt: skip
        if not running:
            raise refuse("Conflict", "no emergency is escalating", "没有正在逐级上报的紧急事项")
