"""R8 `satisfaction` — 物业客户满意率测量管理规定 (seed 第8篇, lines 635–729).

One workflow, five kinds of case (the input's `kind`):

- `survey` — a satisfaction survey: every 6 months by the schedule (`satisfaction-survey`, 09:00
  on 1 January and 1 July), or started by the customer-service center for a new service item
  (within 3 months of its launch) or after a major quality problem (a targeted survey). The
  center writes the questionnaire and plan; the 管业经理 approves them; a seeded random sample
  of the households is drawn; the management office delivers door to door; the returns are
  entered from paper (one update per questionnaire) for one week; the survey is valid only if
  the return rate exceeds 85 %; a valid survey is analysed (rate per item, the lowest, the most
  dissatisfied, opinions, expectations, the items that fell since the previous valid survey),
  the center proposes measures, the departments carry them out and the center revisits.
- `complaint` — one entry of the complaint register 《顾客投诉记录》 (a case per complaint; the
  register is every complaint case's record, read by the monthly summary).
- `complaint_summary` — the previous month's complaints summarised in the first 5 days of the
  month (the schedule `satisfaction-complaint-summary`, 09:00 on the 1st), reviewed by the
  management office and sent to the departments.
- `yearly_report` — 《顾客满意度调查结果及分析报告》 (the schedule, 09:00 on 2 January): the
  previous year's surveys and complaints counted, the conclusions and measures written.
- `manager_card` — a 《经理服务卡》 (name, phone, pager, e-mail) issued with the 《业主公约》.

Choices where the text is silent (a property-management customer-service center's reading):
- Every number is a `SatisfactionPolicy` field; durations the text does not give (plan 5
  working days, door-to-door delivery 2 working days, analysis 5 working days, measures 10
  working days, the revisit 3 working days, the summary's review 2 working days, the yearly
  report by 31 January, sample 30 % with at least 20 households) are defaults a company changes.
  The 6-month period is the schedule's calendar (January and July); `survey_every` documents it.
- The households are the plan's list (or the case input's); the sample is `ceil(rate × n)`, at
  least the minimum, drawn with the engine's seeded sample (the same on replay), recorded. A
  targeted survey after a major quality problem (二)3 goes to every household its plan lists
  (the specific objects), not to a random sample.
- The week of collection starts when the management office reports the questionnaires
  delivered; at its end collection closes by itself (the center may close it earlier). A
  return is accepted only while collection is open, only from a sampled household, once.
- Valid: returns / sample **strictly greater** than 85 % (compared exactly in `Decimal`). An
  invalid survey writes its result marked invalid (rates shown for information) and ends: no
  analysis, and later surveys never compare with it.
- Satisfaction rate of an item = grades counted satisfied (policy: 很满意, 满意) / all grades
  given for that item; shown rounded to `rate_places`, compared exactly (as fractions). "Fell"
  = lower than the same item's rate in the previous **valid** survey (read from the database:
  the latest valid survey result of this regulation written before this one). Ties for the
  lowest or the most dissatisfied item name every tied item.
- (六)3 each measure is a task of the department head, then a revisit by the center.
- A complaint is registered (《顾客投诉记录》 and the 《服务投诉单》 in two copies: the center's and
  the department's) by whoever of the center starts the case; the same-day contact is that
  person's task, due at the end of the day; the 投诉中心主任 classifies it valid or invalid
  (三、3 "审批处理") the same day. A valid complaint goes to the department head: 3 working days
  from registration to return the slip, or an explanation (recorded on the register) with a new
  date (at most 10 working days from registration) — or none, when it cannot be solved soon,
  and the center explains to the complainant (八)5. Any department head may act (the
  department is a name on the complaint, not a person).
- The monthly summary counts the complaints registered in the previous month (China time):
  by channel, valid / invalid, returned within 3 working days, explained; the center writes the
  causes and proposals by the 5th, the management office reviews, every department head is told.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import add_months, end_of_day
    from workflows.engine import CaseWorkflow, refuse
    from workflows.model import CHINA_TZ, CaseStart, TaskState, UnitState
    from workflows.regulations.satisfaction.forms import (
        AnalysisData,
        ClassifyData,
        ContactData,
        CorrectiveData,
        DeliverData,
        ExplainData,
        HandleData,
        PlanData,
        ReportData,
        ReturnInput,
        RevisitData,
        SatisfactionInput,
        SatisfactionPolicy,
        SatisfactionVars,
        SummaryData,
        SurveyForm,
        household_actor,
    )
    from workflows.regulations.satisfaction.people import ROLES
    from workflows.spec import (
        ActionSpec,
        ApprovalSpec,
        Breach,
        NoteData,
        RecordSpec,
        TaskSpec,
        Tier,
        after,
        after_approval,
        at,
        check,
        on_result,
    )

CODE = "satisfaction"
SINCE = "2000-01-01T00:00:00+00:00"
COMPLAINT_KINDS = ["complaint_register", "complaint_analysis", "complaint_return",
                   "complaint_explanation"]  # fmt: skip
REASONS = {"periodic": "每半年", "new_item": "新增服务项目", "quality_problem": "重大服务质量问题"}

TASKS = (
    # (三) the questionnaire and the plan, by the customer-service center
    TaskSpec("survey_plan", "编制《顾客满意度征询表》和调查方案：{estate}", "R8 四(三)",
             "customer_service", deadline="plan_due", outcomes={"done": PlanData},
             record=RecordSpec("survey_plan", "《顾客满意度征询表》及调查方案")),
    # (二)1 delivered door to door by the management office
    TaskSpec("survey_delivery", "上门分发《顾客满意度征询表》：{estate}（{sampled} 户）",
             "R8 四(二)1", "property_manager", deadline="deliver_due",
             outcomes={"questionnaires_delivered": DeliverData}),
    # (四) collected within one week (the center may close collection earlier)
    TaskSpec("survey_collection", "回收《顾客满意度征询表》：{estate}", "R8 四(四)",
             "customer_service", outcomes={"collection_closed": NoteData}),
    # (六)1 measures for the findings
    TaskSpec("survey_analysis", "满意度分析，提出纠正、预防和改进措施：{estate}", "R8 四(六)1",
             "customer_service", deadline="analysis_due", outcomes={"done": AnalysisData},
             record=RecordSpec("survey_measures", "满意度调查纠正、预防和改进措施")),
    # (六)3 the department carries a measure out, the center revisits
    TaskSpec("corrective_action", "落实改进措施：{item}（{department}）", "R8 四(六)3",
             "department_head", deadline="corrective_due", outcomes={"done": CorrectiveData},
             record=RecordSpec("corrective_record", "纠正、预防和改进措施落实情况")),
    TaskSpec("measure_revisit", "措施回访：{item}", "R8 四(六)3", "customer_service",
             deadline="revisit_due", outcomes={"done": RevisitData},
             record=RecordSpec("measure_revisit_record", "措施回访记录")),
    # (八)2 the complainant contacted the same day
    TaskSpec("complaint_contact", "当天联系投诉人：{complainant}", "R8 四(八)2",
             "customer_service", assignee="case.started_by", deadline="contact_within",
             outcomes={"contacted": ContactData},
             record=RecordSpec("complaint_contact_record", "投诉人联系记录", ("contacted",)),
             breach=Breach(notify=("task.holder", "role:complaint_director"))),
    # (七)2 / 三、3 the cause analysed, valid or invalid, by the complaint center director
    TaskSpec("complaint_classify", "投诉定性（有效/无效）：{complainant}", "R8 四(七)2",
             "complaint_director", deadline="classify_within",
             outcomes={"complaint_valid": ClassifyData, "complaint_invalid": ClassifyData},
             record=RecordSpec("complaint_analysis", "投诉原因分析及定性", ("complaint_valid", "complaint_invalid"))),
    # (八)4 the department returns the slip in 3 working days, or explains
    TaskSpec("complaint_handling", "投诉处理回单：{complainant}（{department}）", "R8 四(八)4",
             "department_head", deadline="handle_within",
             outcomes={"slip_returned": HandleData, "explained": ExplainData},
             record=RecordSpec("complaint_return", "《服务投诉单》回单", ("slip_returned",)),
             breach=Breach(notify=("task.holder", "role:customer_service",
                                   "role:complaint_director"))),
    # (八)5 what cannot be solved soon: the center explains to the complainant
    TaskSpec("complaint_explain", "向投诉人解释说明：{complainant}", "R8 四(八)5",
             "customer_service", deadline="contact_within", outcomes={"explained_to_customer": NoteData}),
    # (八)6 the monthly summary in the first 5 days, reviewed by the management office
    TaskSpec("complaint_summary_write", "上月投诉汇总分析：{period}", "R8 四(八)6",
             "customer_service", deadline="summary_due", outcomes={"done": SummaryData},
             record=RecordSpec("complaint_monthly", "投诉月报表（上月投诉汇总分析）")),
    TaskSpec("complaint_summary_review", "审阅上月投诉汇总：{period}", "R8 四(八)6", "office",
             deadline="summary_review_due",
             outcomes={"summary_approved": NoteData, "sent_back": NoteData}),
    # (六)2 the yearly report
    TaskSpec("yearly_report_write", "编制《顾客满意度调查结果及分析报告》：{year} 年", "R8 四(六)2",
             "customer_service", deadline="report_due", outcomes={"done": ReportData},
             record=RecordSpec("yearly_report", "《顾客满意度调查结果及分析报告》")),
)  # fmt: skip

# 三、2 the 管业经理 approves the questionnaire and the plan before anything is sent.
PLAN_APPROVAL = ApprovalSpec(
    "plan", "plan_approval", "审批征询表和调查方案：{estate}", "R8 三、2",
    tiers=(Tier(None, ("property_business_manager",)),),
)  # fmt: skip


def rate_of(satisfied: int, total: int, places: int) -> str:
    """satisfied / total in Decimal, rounded half up to `places` (empty when nothing graded)."""
    if not total:
        return ""
    q = Decimal(1).scaleb(-places)
    return str((Decimal(satisfied) / Decimal(total)).quantize(q, rounding=ROUND_HALF_UP))


def percent(value: str) -> str:
    return str((Decimal(value) * 100).quantize(Decimal("0.01"))) if value else "0"


@workflow.defn(name="zhidu.satisfaction")
class SatisfactionWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "{subject}"
    INPUT = SatisfactionInput
    POLICY = SatisfactionPolicy
    VARS = SatisfactionVars
    CUSTOMER_FIELD = None
    TASKS = TASKS
    APPROVALS = (PLAN_APPROVAL,)
    ROLES = ROLES
    ACTIONS = (
        ActionSpec("enter_return", ReturnInput, ("customer_service",), "update",
                   "录入回收的征询表", "Enter a returned questionnaire"),
    )  # fmt: skip
    inp: SatisfactionInput
    policy: SatisfactionPolicy
    v: SatisfactionVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        {
            "survey": self._begin_survey,
            "complaint": self._begin_complaint,
            "complaint_summary": self._begin_summary,
            "yearly_report": self._begin_yearly,
            "manager_card": self._issue_card,
        }[self.inp.kind]()

    def summarize(self) -> dict[str, Any]:
        if self.inp.kind == "survey":
            return {"sampled": len(self.v.sample), "returns": len(self.v.returns),
                    "collecting": self.v.collecting, "survey_valid": self.v.valid}  # fmt: skip
        if self.inp.kind == "complaint":
            return {"valid_complaint": self.v.valid, "contacted": self.v.contacted,
                    "complaint_closed": self.v.handled}  # fmt: skip
        return {}

    def record_context(self, task: TaskState) -> dict[str, Any]:
        base: dict[str, Any] = {"estate": self.inp.estate}
        if task.kind == "survey_plan":
            return {**base, "occasion": self.inp.occasion, "new_item": self.inp.new_item,
                    "quality_problem": self.inp.quality_problem}  # fmt: skip
        if task.kind == "survey_analysis" and self.v.result is not None:
            r = self.v.result
            return {**base, "lowest_items": r["lowest_items"],
                    "most_dissatisfied_items": r["most_dissatisfied_items"],
                    "fell_items": r["fell_items"]}  # fmt: skip
        if task.kind in ("corrective_action", "measure_revisit"):
            return {**base, "item": task.data.get("item"), "measure": task.data.get("measure"),
                    "department": task.data.get("department")}  # fmt: skip
        if task.kind in ("complaint_classify", "complaint_handling", "complaint_contact"):
            on_time = task.due_at is None or self.now <= task.due_at
            return {**base, "complainant": self.inp.complainant, "register": self.v.register_record,
                    "department": self.inp.department, "on_time": on_time,
                    "classification": task.outcome if task.kind == "complaint_classify" else None}  # fmt: skip
        if task.kind in ("complaint_summary_write", "yearly_report_write") and self.v.figures:
            return {**base, **self.v.figures}
        return base

    # ---- (二)(三) the survey: plan, approval, sample, delivery --------------------------------

    def _begin_survey(self) -> None:
        inp = self.inp
        self.event("survey_started", "R8 四(二)", self.started_by, occasion=inp.occasion)
        if inp.occasion == "new_item" and inp.launched_on is not None:
            launched = datetime.combine(inp.launched_on, time(0), CHINA_TZ)
            window_end = end_of_day(self.due_after(launched, "new_item_window")[0])
            if self.now >= window_end:  # (二)2 within 3 months of the launch
                self.event("new_item_window_passed", "R8 四(二)2", None, item=inp.new_item,
                           launched_on=inp.launched_on, window_end=window_end)  # fmt: skip
                self.finish("cancelled", reason="新增服务项目实施已超过三个月")
                return
        unit = self.open_unit("survey", f"满意度调查：{inp.estate}（{REASONS[inp.occasion]}）")
        self.v.survey_unit = unit.id
        self.open("survey_plan", unit)

    def _survey(self) -> UnitState:
        unit = self.unit(self.v.survey_unit)
        assert unit is not None
        return unit

    @check("survey_plan")
    def _check_plan(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if not isinstance(data, PlanData):
            return None
        if not (data.households or self.inp.households):
            return "data.households: no households to sample", "请填写住户名单（房号）"
        if len(set(data.households)) != len(data.households):
            return "data.households: a room is listed twice", "住户名单中有重复的房号"
        if len(set(data.service_items)) != len(data.service_items):
            return "data.service_items: an item is listed twice", "服务项目有重复"
        return None

    @after("survey_plan")
    def _planned(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or unit.status != "open":
            return
        if task.status != "done":
            self.finish("cancelled", reason="调查方案未按期编制")
            return
        plan = self.given(PlanData, task)
        self.v.items = list(plan.service_items or self.policy.service_items)
        unit.data["households"] = list(plan.households or self.inp.households)
        self.v.plan_record = task.data.get("record_id")
        self.request_approval("plan", unit, self.v.plan_record or "")

    @after_approval("plan")
    def _plan_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        if not approved:  # sent back: the center revises the plan
            self.open("survey_plan", unit)
            return
        households: list[str] = unit.data.pop("households", [])
        targeted = self.inp.occasion == "quality_problem"
        if targeted:  # (二)3 the households concerned, every one of them
            self.v.sample = sorted(households)
        else:  # (二)1 a random sample of the households (seeded: the same on replay)
            self.v.sample = self.sample(households, self.policy.sample_rate,
                                        self.policy.sample_minimum)  # fmt: skip
        self.record("survey_sample", "满意度调查抽样名单", {
            "estate": self.inp.estate, "plan": record_id, "population": len(households),
            "sample_rate": 1.0 if targeted else self.policy.sample_rate,
            "sampled": len(self.v.sample), "households": self.v.sample},
            created_by="system", clause="R8 四(二)3" if targeted else "R8 四(二)1")  # fmt: skip
        self.open("survey_delivery", unit, data={"sampled": len(self.v.sample)})

    @after("survey_delivery")
    def _delivered(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or unit.status != "open":
            return
        if task.status != "done":
            self.finish("cancelled", reason="征询表未分发")
            return
        # (四) the week of collection starts now
        until = self.due_after(self.now, "collect_within")[0]
        self.v.collecting, self.v.collect_until = True, until.isoformat()
        self.event("collection_opened", "R8 四(四)", task.closed_by, until=until,
                   sampled=len(self.v.sample))  # fmt: skip
        self.open("survey_collection", unit, due=until)
        self.wake_at(until, "collection_closes")

    # ---- (三)1 one returned questionnaire, entered from paper -------------------------------

    @workflow.update(name="enter_return")
    def enter_return(self, inp: ReturnInput) -> str:
        return self._take_return(inp, {})

    @workflow.update(name="household_return")
    def household_return(self, inp: ReturnInput) -> str:
        """(三)1 the household fills the questionnaire itself, through its one-time link."""
        return self._take_return(inp, {"filled_by": "household"})

    @household_return.validator
    def _validate_household_return(self, inp: ReturnInput) -> None:
        # Not one of ACTIONS: no user sends it; the link's page (starter/survey_links.py) does,
        # as the household the signed link names.
        mine = household_actor(inp.household)
        if inp.actor.roles != mine.roles or inp.actor.id != mine.id:
            raise refuse("Forbidden", f"household: a link answers for {inp.actor.id} only",
                         "此链接只能填写本住户的征询表")  # fmt: skip
        self._check_return(inp)

    @workflow.query(name="survey_pending")
    def survey_pending(self) -> list[str]:
        """The sampled households whose questionnaire is not in yet (for their links)."""
        return [h for h in self.v.sample if h not in self.v.returns]

    @workflow.query(name="survey_form")
    def survey_form(self, household: str) -> SurveyForm:
        return SurveyForm(
            estate=self.inp.estate,
            items=list(self.v.items),
            grades=list(self.policy.grades),
            collecting=self.inp.kind == "survey" and self.v.collecting,
            sampled=household in self.v.sample,
            answered=household in self.v.returns,
            collect_until=self.v.collect_until,
        )

    def _take_return(self, inp: ReturnInput, extra: dict[str, Any]) -> str:
        rid = self.record("survey_return", "《顾客满意度征询表》", {
            "estate": self.inp.estate, **inp.model_dump(mode="json", exclude={"actor"}),
            **extra}, created_by=inp.actor.id, clause="R8 四(三)1")  # fmt: skip
        self.v.returns[inp.household] = rid
        for g in inp.grades:
            counts = self.v.counts.setdefault(g.item, {})
            counts[g.grade] = counts.get(g.grade, 0) + 1
        if inp.opinions.strip():
            self.v.opinions.append(f"{inp.household}：{inp.opinions.strip()}")
        if inp.expectations.strip():
            self.v.expectations.append(f"{inp.household}：{inp.expectations.strip()}")
        self.event("return_entered", "R8 四(四)", inp.actor.id, household=inp.household,
                   returns=len(self.v.returns), sampled=len(self.v.sample))  # fmt: skip
        return rid

    @enter_return.validator
    def _validate_return(self, inp: ReturnInput) -> None:
        self.check_action("enter_return", inp.actor)
        self._check_return(inp)

    def _check_return(self, inp: ReturnInput) -> None:
        if self.inp.kind != "survey" or not self.v.collecting:
            raise refuse("Conflict", "the questionnaires are not being collected",
                         "征询表不在回收期内")  # fmt: skip
        if inp.household not in self.v.sample:
            raise refuse("Invalid", f"household: {inp.household} was not sampled",
                         f"{inp.household} 不在抽样名单中")  # fmt: skip
        if inp.household in self.v.returns:
            raise refuse("Conflict", f"household: {inp.household} was entered already",
                         f"{inp.household} 的征询表已经录入")  # fmt: skip
        codes = {g.code for g in self.policy.grades}
        items = [g.item for g in inp.grades]
        if len(set(items)) != len(items):
            raise refuse("Invalid", "grades: an item is graded twice", "同一服务项目评了两次")
        for g in inp.grades:
            if g.item not in self.v.items:
                raise refuse("Invalid", f"grades: {g.item} is not an item of this survey",
                             f"「{g.item}」不是本次调查的服务项目")  # fmt: skip
            if g.grade not in codes:
                raise refuse("Invalid", f"grades: {g.grade} is not a grade of the scale",
                             f"「{g.grade}」不是规定的满意度等级")  # fmt: skip

    # ---- (四) collection closes: validity ------------------------------------------------------

    @at("collection_closes")
    def _collection_due(self, data: dict[str, Any]) -> None:
        self._close_collection(None)

    @after("survey_collection")
    def _collection_closed_early(self, task: TaskState) -> None:
        if task.status == "done":
            self._close_collection(task.closed_by)

    def _close_collection(self, actor: str | None) -> None:
        if self.v.collected:
            return
        self.v.collecting, self.v.collected = False, True
        for t in self.open_tasks("survey_collection"):
            self.cancel(t, "回收期满")
        sampled, returned = len(self.v.sample), len(self.v.returns)
        # valid only if the return rate EXCEEDS the threshold (exact: returned > 85 % × sampled)
        self.v.valid = sampled > 0 and Decimal(returned) > self.policy.valid_return_rate * sampled
        rate = rate_of(returned, sampled, self.policy.rate_places)
        self.event("collection_closed", "R8 四(四)", actor, returns=returned, sampled=sampled,
                   return_rate=rate, survey_valid=self.v.valid)  # fmt: skip
        if not self.v.valid:
            self._write_result(None)
            self.event("survey_invalid", "R8 四(四)", None, return_rate=rate,
                       threshold=str(self.policy.valid_return_rate))  # fmt: skip
            self.finish("done", reason="回收率未超过规定比例，调查无效")
            return
        # (六)1e the previous valid survey's rates, from the database
        self.run_job("zhidu.report", {"report": "records", "regulation": CODE,
                                      "kinds": ["survey_result"], "period_start": SINCE,
                                      "period_end": self.now.isoformat()}, "previous_surveys")  # fmt: skip

    @on_result("previous_surveys")
    def _compare(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        valid = [r for r in result.get("records") or []
                 if r.get("case_id") != self.s.case_id and (r.get("data") or {}).get("survey_valid") is True]  # fmt: skip
        previous = max(valid, key=lambda r: (r["created_at"], r["id"])) if valid else None
        self._write_result(previous)
        self.open("survey_analysis", self._survey())

    # ---- (五)(六) the analysis -----------------------------------------------------------------

    def _write_result(self, previous: dict[str, Any] | None) -> None:
        places = self.policy.rate_places
        satisfied = {g.code for g in self.policy.grades if g.satisfied}
        dissatisfied = {g.code for g in self.policy.grades if g.dissatisfied}
        before: dict[str, dict[str, Any]] = {}
        if previous is not None:
            before = {i["item"]: i for i in previous["data"].get("item_rates") or [] if "item" in i}
        rows: list[dict[str, Any]] = []
        ratio: dict[str, Fraction] = {}
        worse: dict[str, Fraction] = {}
        fell: list[str] = []
        for item in self.v.items:
            counts = self.v.counts.get(item, {})
            total = sum(counts.values())
            sat = sum(n for g, n in counts.items() if g in satisfied)
            dis = sum(n for g, n in counts.items() if g in dissatisfied)
            row: dict[str, Any] = {"item": item, "satisfied_grades": sat, "dissatisfied_grades": dis,
                                   "all_grades": total, "rate": rate_of(sat, total, places),
                                   "dissatisfied_rate": rate_of(dis, total, places),
                                   "previous_rate": "", "change": "", "fell": False}  # fmt: skip
            if total:
                ratio[item], worse[item] = Fraction(sat, total), Fraction(dis, total)
            old = before.get(item)
            if total and old and int(old.get("all_grades") or 0):
                old_ratio = Fraction(int(old["satisfied_grades"]), int(old["all_grades"]))
                row["previous_rate"] = rate_of(
                    int(old["satisfied_grades"]), int(old["all_grades"]), places
                )
                row["change"] = str(Decimal(row["rate"]) - Decimal(row["previous_rate"]))
                row["fell"] = ratio[item] < old_ratio
                if row["fell"]:
                    fell.append(item)
            rows.append(row)
        lowest = [i for i, r in ratio.items() if ratio and r == min(ratio.values())]
        top = max(worse.values(), default=Fraction(0))
        most = [i for i, r in worse.items() if top > 0 and r == top]
        sampled, returned = len(self.v.sample), len(self.v.returns)
        charts = [
            {
                "title": "各项服务满意率",
                "unit": "%",
                "bars": [{"label": r["item"], "value": percent(r["rate"])} for r in rows],
            }
        ]
        if previous is not None:
            charts.append({"title": "与上次有效调查相比的满意率变化", "unit": "个百分点",
                           "bars": [{"label": r["item"], "value": percent(r["change"])}
                                    for r in rows if r["change"]]})  # fmt: skip
        data = {
            "estate": self.inp.estate, "occasion": self.inp.occasion, "survey_valid": bool(self.v.valid),
            "sampled": sampled, "returns": returned,
            "return_rate": rate_of(returned, sampled, places),
            "threshold": str(self.policy.valid_return_rate),
            "item_rates": rows, "lowest_items": lowest, "most_dissatisfied_items": most,
            "fell_items": fell, "opinions": self.v.opinions, "expectations": self.v.expectations,
            "previous_survey": previous["case_id"] if previous else None,
            "charts": charts,
        }  # fmt: skip
        self.v.result = data
        self.record("survey_result", "顾客满意度调查统计结果", data, created_by="system",
                    clause="R8 四(五)")  # fmt: skip
        self.event("survey_analysed", "R8 四(六)1", None, survey_valid=data["survey_valid"],
                   lowest=lowest, fell=fell)  # fmt: skip

    @after("survey_analysis")
    def _measures(self, task: TaskState) -> None:
        if task.status != "done":
            self.finish("done", reason="未提出措施")
            return
        for m in self.given(AnalysisData, task).measures:  # (六)3 each measure, then a revisit
            unit = self.open_unit("measure", f"改进措施：{m.item}", item=m.item,
                                  measure=m.measure, department=m.department)  # fmt: skip
            self.open("corrective_action", unit, data=m.model_dump(mode="json"))
        self._maybe_done()

    @after("corrective_action")
    def _corrected(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or unit.status != "open":
            return
        if task.status == "done":
            self.open("measure_revisit", unit, data={k: task.data.get(k) for k in
                                                     ("item", "measure", "department")})  # fmt: skip
        else:
            self.close_unit(unit, "done", missed=True)
            self._maybe_done()

    @after("measure_revisit")
    def _revisited(self, task: TaskState) -> None:
        if (unit := self.unit(task.unit)) is not None:
            self.close_unit(unit)
        self._maybe_done()

    def _maybe_done(self) -> None:
        if not any(u.status == "open" and u.kind == "measure" for u in self.s.units):
            self.finish("done")

    # ---- (七)(八) one complaint -----------------------------------------------------------------

    def _complaint_fields(self) -> dict[str, Any]:
        i = self.inp
        return {"estate": i.estate, "complainant": i.complainant, "complainant_unit": i.complainant_unit,
                "complainant_phone": i.complainant_phone, "channel": i.channel,
                "content": i.content, "department": i.department,
                "received_at": self.now.isoformat(), "received_by": self.started_by}  # fmt: skip

    def _begin_complaint(self) -> None:
        fields = self._complaint_fields()
        self.v.registered_at = self.now.isoformat()
        # (七)2 / (八)1 registered centrally in 《顾客投诉记录》
        self.v.register_record = self.record("complaint_register", "《顾客投诉记录》", fields,
                                             created_by=self.started_by, clause="R8 四(八)1")  # fmt: skip
        # (八)2 《服务投诉单》 in two copies
        for copy, keeper in ((1, "客户服务中心存档"), (2, "交相关部门处理")):
            self.record("service_complaint_form", "《服务投诉单》",
                        {**fields, "copy": copy, "copy_for": keeper},
                        created_by=self.started_by, clause="R8 四(八)2")  # fmt: skip
        self.open("complaint_contact")
        self.open("complaint_classify")

    @after("complaint_contact")
    def _contacted(self, task: TaskState) -> None:
        self.v.contacted = task.status == "done"
        self._complaint_done()

    @after("complaint_classify")
    def _classified(self, task: TaskState) -> None:
        if task.status != "done":
            self.needs_attention("投诉未定性：请投诉中心主任处理")
            return
        self.v.valid = task.outcome == "complaint_valid"
        self.event(
            "complaint_classified", "R8 四(七)2", task.closed_by, valid_complaint=self.v.valid
        )
        if self.v.valid:  # (八)4 three working days from the registration
            self.open("complaint_handling", start=self._registered_at())
        self._complaint_done()

    def _registered_at(self) -> datetime:
        return datetime.fromisoformat(self.v.registered_at) if self.v.registered_at else self.now

    @check("complaint_handling")
    def _check_explanation(
        self, task: TaskState, outcome: str, data: Any
    ) -> tuple[str, str] | None:
        if isinstance(data, ExplainData) and data.expected_on is not None:
            latest = self.due_after(self._registered_at(), "explained_extend_max")[0]
            if data.expected_on < self.now.astimezone(CHINA_TZ).date():
                return "data.expected_on: the date has passed", "预计回单日期已经过去"
            if end_of_day(datetime.combine(data.expected_on, time(12), CHINA_TZ)) > end_of_day(
                latest
            ):
                most = self.policy.explained_extend_max.label()
                return (f"data.expected_on: later than {most} after the registration",
                        f"预计回单日期不能晚于登记后 {most}")  # fmt: skip
        return None

    @after("complaint_handling")
    def _handled(self, task: TaskState) -> None:
        if task.status != "done":
            return  # lapsed: the breach told the center and the director
        if task.outcome == "slip_returned":
            self.v.handled = True
            self._complaint_done()
            return
        # (八)4 the department explained: recorded on the register
        ex = self.given(ExplainData, task)
        self.record("complaint_explanation", "《顾客投诉记录》情况说明", {
            "estate": self.inp.estate, "complainant": self.inp.complainant,
            "register": self.v.register_record, "department": self.inp.department,
            "delay_reason": ex.delay_reason, "expected_on": ex.expected_on.isoformat() if ex.expected_on else None,
            "explained_by": task.closed_by}, created_by=task.closed_by, clause="R8 四(八)4")  # fmt: skip
        if ex.expected_on is not None:
            due = end_of_day(datetime.combine(ex.expected_on, time(12), CHINA_TZ))
            self.open("complaint_handling", due=due, data={"explained": True})
        else:  # (八)5 cannot be solved soon: the center explains to the complainant
            self.open("complaint_explain", assignee=self.started_by or None)

    @after("complaint_explain")
    def _explained_to_customer(self, task: TaskState) -> None:
        if task.status == "done":
            self.v.handled = True
        self._complaint_done()

    def _complaint_done(self) -> None:
        if self.inp.kind != "complaint" or not self.v.contacted or self.v.valid is None:
            return
        if self.v.valid is False or self.v.handled:
            self.finish("done")

    # ---- (八)6 the monthly summary ---------------------------------------------------------------

    def _begin_summary(self) -> None:
        today = datetime.combine(self.now.astimezone(CHINA_TZ).date(), time(0), CHINA_TZ)
        end = today.replace(day=1)
        start = add_months(end, -1)
        self.event("summary_requested", "R8 四(八)6", None, period_start=start, period_end=end)
        self.run_job("zhidu.report", {"report": "records", "regulation": CODE,
                                      "kinds": COMPLAINT_KINDS, "period_start": start.isoformat(),
                                      "period_end": self.now.isoformat()},
                     "last_month", period_start=start.isoformat(), period_end=end.isoformat())  # fmt: skip

    @on_result("last_month")
    def _last_month(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        end = context["period_end"]
        found = result.get("records") or []
        registers = [
            r for r in found if r["kind"] == "complaint_register" and r["created_at"] < end
        ]
        cases = {r["case_id"] for r in registers}
        by_case: dict[str, dict[str, Any]] = {c: {} for c in cases}
        for r in found:
            if r["case_id"] in cases and r["kind"] != "complaint_register":
                by_case[r["case_id"]].setdefault(r["kind"], r["data"])
        channels: dict[str, int] = {}
        departments: dict[str, list[int]] = {}
        valid = invalid = returned = on_time = explained = 0
        for r in registers:
            d, more = r["data"], by_case[r["case_id"]]
            channels[d.get("channel") or ""] = channels.get(d.get("channel") or "", 0) + 1
            row = departments.setdefault(d.get("department") or "", [0, 0, 0])
            row[0] += 1
            analysis = more.get("complaint_analysis")
            if analysis is not None and analysis.get("classification") == "complaint_invalid":
                invalid += 1
            elif analysis is not None:
                valid += 1
            if (ret := more.get("complaint_return")) is not None:
                returned += 1
                row[1] += 1
                if ret.get("on_time") and "complaint_explanation" not in more:
                    on_time += 1
                    row[2] += 1
            if "complaint_explanation" in more:
                explained += 1
        month = datetime.fromisoformat(context["period_start"]).astimezone(CHINA_TZ)
        self.v.figures = {
            "period": f"{month.year} 年 {month.month} 月",
            "received": len(registers), "valid_complaints": valid, "invalid_complaints": invalid,
            "slips_returned": returned, "returned_on_time": on_time, "explained": explained,
            "tables": [
                {"title": "按投诉方式", "columns": ["投诉方式", "件数"],
                 "rows": [[c, n] for c, n in sorted(channels.items())]},
                {"title": "按相关部门", "columns": ["相关部门", "投诉件数", "已回单", "三个工作日内回单"],
                 "rows": [[dep, *row] for dep, row in sorted(departments.items())]},
            ],
        }  # fmt: skip
        self.open("complaint_summary_write", data={"period": self.v.figures["period"]})

    @after("complaint_summary_write")
    def _summary_written(self, task: TaskState) -> None:
        if task.status == "done":
            self.open("complaint_summary_review", data={"period": task.data["period"],
                                                       "record_id": task.data.get("record_id"),
                                                       **task.data})  # fmt: skip
        else:
            self.finish("done", reason="上月投诉汇总未编制")

    @after("complaint_summary_review")
    def _summary_reviewed(self, task: TaskState) -> None:
        if task.status != "done":
            self.finish("done", reason="上月投诉汇总未审阅")
            return
        if task.outcome == "sent_back":
            self.open("complaint_summary_write", data={"period": task.data["period"]})
            return
        period, record_id = task.data["period"], task.data.get("record_id")
        body = f"{task.data.get('causes', '')}\n改进建议：{task.data.get('proposals', '')}\n记录：{record_id}"
        self.notify("summary/departments", "role:department_head",
                    f"【投诉月度汇总】{period}", body)  # fmt: skip
        self.event("summary_sent", "R8 四(八)6", task.closed_by, period=period, record=record_id)
        self.finish("done")

    # ---- (六)2 the yearly report -------------------------------------------------------------------

    def _begin_yearly(self) -> None:
        year = self.now.astimezone(CHINA_TZ).year - 1
        start = datetime(year, 1, 1, tzinfo=CHINA_TZ)
        end = datetime(year + 1, 1, 1, tzinfo=CHINA_TZ)
        self.run_job("zhidu.report", {"report": "records", "regulation": CODE,
                                      "kinds": ["survey_result", "complaint_register", "complaint_analysis"],
                                      "period_start": start.isoformat(), "period_end": end.isoformat()},
                     "last_year", year=year)  # fmt: skip

    @on_result("last_year")
    def _last_year(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        found = result.get("records") or []
        surveys = [r for r in found if r["kind"] == "survey_result"]
        valid = [r for r in surveys if r["data"].get("survey_valid") is True]
        analysis = [r for r in found if r["kind"] == "complaint_analysis"]
        last = max(valid, key=lambda r: r["created_at"]) if valid else None
        items = (last or {}).get("data", {}).get("item_rates") or []
        self.v.figures = {
            "year": context["year"], "surveys": len(surveys), "valid_surveys": len(valid),
            "complaints": sum(1 for r in found if r["kind"] == "complaint_register"),
            "valid_complaints": sum(1 for r in analysis if r["data"].get("classification") == "complaint_valid"),
            "invalid_complaints": sum(1 for r in analysis if r["data"].get("classification") == "complaint_invalid"),
            "tables": [{"title": "最近一次有效调查各项服务满意率",
                        "columns": ["服务项目", "满意", "评定总数", "满意率"],
                        "rows": [[i["item"], i["satisfied_grades"], i["all_grades"], i["rate"]] for i in items]}],
            "charts": [{"title": "各项服务满意率", "unit": "%",
                        "bars": [{"label": i["item"], "value": percent(i["rate"])} for i in items]}],
        }  # fmt: skip
        self.open("yearly_report_write", data={"year": context["year"]})

    @after("yearly_report_write")
    def _reported(self, task: TaskState) -> None:
        self.finish("done")

    # ---- (一) the manager's service card ----------------------------------------------------------

    def _issue_card(self) -> None:
        i = self.inp
        self.record("manager_card", "《经理服务卡》", {
            "estate": i.estate, "manager_name": i.manager_name, "manager_title": i.manager_title,
            "phone": i.phone, "pager": i.pager, "email": i.email,
            "issued_with": "《业主公约》"}, created_by=self.started_by, clause="R8 四(一)")  # fmt: skip
        self.finish("done")
