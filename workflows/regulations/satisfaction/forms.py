"""R8 `satisfaction` — what people type: the case input (a survey, a complaint, the monthly
complaint summary, the yearly report, a manager's service card), the policy (every number of
the regulation), and the data of each task's outcomes and of each entered questionnaire. The
clauses that use them are in clauses.py beside it.

A module of its own, stateless: the worker passes it through the workflow sandbox."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, computed_field, model_validator

from workflows.engine import CasePolicy
from workflows.model import Actor, Deadline, Form
from workflows.spec import TaskData

CaseKind = Literal["survey", "complaint", "complaint_summary", "yearly_report", "manager_card"]
SurveyReason = Literal["periodic", "new_item", "quality_problem"]
Channel = Literal["visit", "letter", "complaint_box", "phone", "fax", "forwarded"]
AgeBand = Literal["age_under_30", "age_30_45", "age_46_60", "age_over_60"]
Sex = Literal["male", "female"]

Line = Annotated[str, Field(min_length=1, max_length=200)]
Room = Annotated[str, Field(min_length=1, max_length=50)]


# ---- input ------------------------------------------------------------------------------------


class SatisfactionInput(Form):
    """One case of R8: a satisfaction survey (every 6 months by the schedule, or by hand for a
    new service item or after a major quality problem), one complaint of the register, the
    monthly complaint summary, the yearly analysis report, or a manager's service card."""

    kind: CaseKind = Field("survey", description="事项")
    estate: str = Field(min_length=1, max_length=100, description="管理处（小区）")
    # (二) the survey
    occasion: SurveyReason = Field("periodic", description="调查时机")
    new_item: str | None = Field(None, max_length=100, description="新增服务项目")
    launched_on: date | None = Field(None, description="新增服务项目实施日期")
    quality_problem: str | None = Field(None, max_length=2000, description="重大服务质量问题")
    households: list[Room] = Field(
        default_factory=list, max_length=5000, description="住户名单（房号；空则在调查方案中填写）"
    )
    # (八) a complaint
    complainant: str | None = Field(None, max_length=100, description="投诉人姓名")
    complainant_unit: str | None = Field(None, max_length=100, description="投诉人单位或房号")
    complainant_phone: str | None = Field(None, max_length=50, description="联系电话")
    channel: Channel | None = Field(None, description="投诉方式")
    content: str | None = Field(None, max_length=5000, description="投诉内容")
    department: str | None = Field(None, max_length=100, description="相关部门")
    # 《经理服务卡》
    manager_name: str | None = Field(None, max_length=100, description="经理姓名")
    manager_title: str | None = Field(None, max_length=100, description="职务")
    phone: str | None = Field(None, max_length=50, description="电话")
    pager: str | None = Field(None, max_length=50, description="传呼")
    email: str | None = Field(None, max_length=200, description="电子邮件")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def subject(self) -> str:
        """The case's title."""
        reasons = {"periodic": "每半年", "new_item": f"新增服务项目 {self.new_item or ''}",
                   "quality_problem": "重大服务质量问题"}  # fmt: skip
        return {
            "survey": f"顾客满意度调查：{self.estate}（{reasons[self.occasion]}）",
            "complaint": f"顾客投诉：{self.complainant or ''}（{self.estate}）",
            "complaint_summary": f"投诉月度汇总：{self.estate}",
            "yearly_report": f"顾客满意度调查结果及分析报告：{self.estate}",
            "manager_card": f"经理服务卡：{self.manager_name or ''}",
        }[self.kind]

    @model_validator(mode="after")
    def _what_each_kind_needs(self) -> SatisfactionInput:
        need: dict[str, tuple[str, ...]] = {
            "complaint": ("complainant", "channel", "content", "department"),
            "manager_card": ("manager_name", "phone"),
        }
        if self.kind == "survey" and self.occasion == "new_item":
            need["survey"] = ("new_item", "launched_on")
        if self.kind == "survey" and self.occasion == "quality_problem":
            need["survey"] = ("quality_problem",)
        missing = [f for f in need.get(self.kind, ()) if getattr(self, f) in (None, "")]
        if missing:
            raise ValueError(f"{self.kind} needs {', '.join(missing)}")
        if len(set(self.households)) != len(self.households):
            raise ValueError("households: a room is listed twice")
        return self


# ---- policy -----------------------------------------------------------------------------------


class Grade(BaseModel):
    """A grade of the questionnaire's scale and whether it counts as satisfied / dissatisfied."""

    code: str = Field(min_length=1, max_length=30, description="等级代码")
    name: str = Field(min_length=1, max_length=30, description="等级")
    satisfied: bool = Field(False, description="计入满意")
    dissatisfied: bool = Field(False, description="计入不满意")


DEFAULT_GRADES = [
    Grade(code="very_satisfied", name="很满意", satisfied=True),
    Grade(code="satisfied", name="满意", satisfied=True),
    Grade(code="neutral", name="一般"),
    Grade(code="dissatisfied", name="不满意", dissatisfied=True),
    Grade(code="very_dissatisfied", name="很不满意", dissatisfied=True),
]
DEFAULT_ITEMS = ["安全保卫", "清洁卫生", "绿化养护", "工程维修", "客户服务", "停车管理"]


class SatisfactionPolicy(CasePolicy):
    """R8's numbers. Defaults are the regulation's; a company overrides them in its policy file."""

    survey_every: Deadline = Field(
        Deadline(months=6),
        description="满意度调查周期：（二）1 每半年调查一次（由定时任务每年 1 月、7 月 1 日发起）",
    )
    new_item_window: Deadline = Field(
        Deadline(months=3), description="新增服务项目调查时限：（二）2 实施后三个月内可调查"
    )
    plan_due: Deadline = Field(
        Deadline(working_days=5),
        description="调查方案期限：（三）1 编制征询表和调查方案的期限（原文未规定）",
    )
    sample_rate: float = Field(
        0.3, gt=0, le=1, description="抽样比例：（二）1 随机抽取住户的比例（原文未规定）"
    )
    sample_minimum: int = Field(
        20, ge=1, le=5000, description="最少抽样户数：（二）1 随机抽样至少的住户数（原文未规定）"
    )
    deliver_due: Deadline = Field(
        Deadline(working_days=2),
        description="上门分发期限：（二）1 方案批准后物管处上门分发征询表的期限（原文未规定）",
    )
    collect_within: Deadline = Field(
        Deadline(days=7), description="回收期限：（四）发出调查表后一周内回收"
    )
    valid_return_rate: Decimal = Field(
        Decimal("0.85"), gt=0, le=1, description="有效回收率：（四）回收率超过此比例调查才有效"
    )
    rate_places: int = Field(
        4, ge=0, le=10, description="满意率小数位：（五）满意率显示的小数位数（比较按精确分数）"
    )
    service_items: list[Line] = Field(
        DEFAULT_ITEMS,
        min_length=1,
        max_length=50,
        description="服务项目：（三）1b 征询表的服务项目",
    )
    grades: list[Grade] = Field(
        DEFAULT_GRADES, min_length=2, max_length=10, description="满意度等级：（三）2 征询表的等级"
    )
    analysis_due: Deadline = Field(
        Deadline(working_days=5),
        description="分析与措施期限：（六）1 统计后提出纠正、预防和改进措施的期限（原文未规定）",
    )
    corrective_due: Deadline = Field(
        Deadline(working_days=10),
        description="纠正措施期限：（六）3 相关部门落实纠正或改进措施的期限（原文未规定）",
    )
    revisit_due: Deadline = Field(
        Deadline(working_days=3),
        description="措施回访期限：（六）3 措施完成后客户服务中心回访的期限（原文未规定）",
    )
    contact_within: Deadline = Field(
        Deadline(end_of_day=True), description="联系投诉人时限：（八）2 当天上门与投诉人联系"
    )
    classify_within: Deadline = Field(
        Deadline(end_of_day=True),
        description="投诉定性时限：（七）2 确定有效投诉和无效投诉（当天，原文未规定）",
    )
    handle_within: Deadline = Field(
        Deadline(working_days=3), description="回单时限：（八）4 相关部门三个工作日内回单"
    )
    explained_extend_max: Deadline = Field(
        Deadline(working_days=10),
        description="说明后最长期限：（八）4 无法按期回单、说明情况后的最迟回单（原文未规定）",
    )
    summary_due: Deadline = Field(
        Deadline(month_day=5), description="投诉月度汇总期限：（八）6 每月前 5 天汇总上月投诉"
    )
    summary_review_due: Deadline = Field(
        Deadline(working_days=2),
        description="汇总审阅期限：（八）6 各办公室主任审阅月度汇总的期限（原文未规定）",
    )
    report_due: Deadline = Field(
        Deadline(month_day=31),
        description="年度报告期限：（六）2 每年《顾客满意度调查结果及分析报告》的期限（原文未规定）",
    )

    @model_validator(mode="after")
    def _scale(self) -> SatisfactionPolicy:
        codes = [g.code for g in self.grades]
        if len(set(codes)) != len(codes):
            raise ValueError("grades: a code is listed twice")
        if not any(g.satisfied for g in self.grades):
            raise ValueError("grades: at least one grade counts as satisfied")
        if any(g.satisfied and g.dissatisfied for g in self.grades):
            raise ValueError("grades: a grade is satisfied or dissatisfied, not both")
        return self


# ---- task data ----------------------------------------------------------------------------------


class PlanData(TaskData):
    """《顾客满意度征询表》 and the survey plan (三)1."""

    service_items: list[Line] = Field(
        default_factory=list, max_length=50, description="调查的服务项目（空则用制度规定的项目）"
    )
    households: list[Room] = Field(
        default_factory=list, max_length=5000, description="住户名单（空则用案件的住户名单）"
    )
    questionnaire: str = Field(min_length=2, max_length=5000, description="征询表内容说明")
    arrangement: str = Field(min_length=2, max_length=5000, description="调查安排（分发、回收）")


class DeliverData(TaskData):
    """(二)1 the questionnaires delivered door to door by the management office."""

    note: str = Field("", max_length=2000, description="分发情况")


class ItemGrade(Form):
    item: str = Field(min_length=1, max_length=200, description="服务项目")
    grade: str = Field(min_length=1, max_length=30, description="满意度等级")


class ReturnInput(Form):
    """One returned 《顾客满意度征询表》, entered from paper by the customer-service center."""

    actor: Actor
    household: str = Field(min_length=1, max_length=50, description="房号")
    age_band: AgeBand | None = Field(None, description="年龄段")
    sex: Sex | None = Field(None, description="性别")
    occupation: str | None = Field(None, max_length=100, description="职业")
    grades: list[ItemGrade] = Field(min_length=1, max_length=50, description="各项服务满意度")
    opinions: str = Field("", max_length=5000, description="意见和建议（含最不满意处）")
    expectations: str = Field("", max_length=5000, description="对未来服务的期望")


class Measure(TaskData):
    item: str = Field(min_length=1, max_length=200, description="服务项目")
    measure: str = Field(min_length=2, max_length=2000, description="纠正、预防或改进措施")
    department: str = Field(min_length=1, max_length=100, description="责任部门")


class AnalysisData(TaskData):
    """(六)1 the measures for the analysis' findings."""

    findings: str = Field(min_length=2, max_length=10000, description="分析结论")
    measures: list[Measure] = Field(default_factory=list, max_length=50, description="措施")


class CorrectiveData(TaskData):
    cause: str = Field(min_length=2, max_length=2000, description="原因分析")
    done: str = Field(min_length=2, max_length=2000, description="措施落实情况")


class RevisitData(TaskData):
    result: str = Field(min_length=2, max_length=2000, description="回访结果")
    effective: bool = Field(True, description="措施有效")


class ContactData(TaskData):
    """(八)2 the complainant contacted the same day."""

    method: Literal["onsite", "phone"] = Field(description="联系方式")
    explanation: str = Field(min_length=2, max_length=2000, description="了解情况与解释说明")


class ClassifyData(TaskData):
    """(七)2 the cause analysed, the complaint valid or invalid."""

    cause: str = Field(min_length=2, max_length=2000, description="原因分析")


class HandleData(TaskData):
    """(八)4 the department's return slip: how it was handled and the result."""

    handling: str = Field(min_length=2, max_length=2000, description="处理方式")
    result: str = Field(min_length=2, max_length=2000, description="处理结果")
    cause: str = Field("", max_length=2000, description="产生原因及今后避免措施")


class ExplainData(TaskData):
    """(八)4 / (八)5 cannot close within 3 working days (or at all): why."""

    delay_reason: str = Field(min_length=2, max_length=2000, description="情况说明")
    expected_on: date | None = Field(None, description="预计回单日期（空：短期内无法解决）")


class SummaryData(TaskData):
    """(八)6 the monthly complaint summary: causes and improvement proposals."""

    causes: str = Field(min_length=2, max_length=10000, description="投诉产生的原因")
    proposals: str = Field(min_length=2, max_length=10000, description="改进建议")


class ReportData(TaskData):
    """(六)2 《顾客满意度调查结果及分析报告》."""

    other_channels: str = Field("", max_length=10000, description="其他渠道的满意度信息")
    conclusions: str = Field(min_length=2, max_length=10000, description="分析结论")
    measures: str = Field(min_length=2, max_length=10000, description="针对性处理措施")


class SatisfactionVars(BaseModel):
    survey_unit: str | None = None
    plan_record: str | None = None
    items: list[str] = Field(default_factory=list)
    sample: list[str] = Field(default_factory=list)
    collecting: bool = False
    collect_until: str | None = None
    collected: bool = False
    returns: dict[str, str] = Field(default_factory=dict)  # household -> record id
    # item -> grade code -> how many
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    opinions: list[str] = Field(default_factory=list)
    expectations: list[str] = Field(default_factory=list)
    result: dict[str, Any] | None = None
    register_record: str | None = None
    registered_at: str | None = None
    valid: bool | None = None
    handled: bool = False
    contacted: bool = False
    figures: dict[str, Any] | None = None


class SurveyForm(BaseModel):
    """What a household's online questionnaire shows (the `survey_form` query): the survey's
    items, the grade scale, and whether this household may still answer."""

    estate: str
    items: list[str]
    grades: list[Grade]
    collecting: bool
    sampled: bool
    answered: bool
    collect_until: str | None = None


HOUSEHOLD = "household"  # the role of a questionnaire answered through its one-time link


def household_actor(household: str) -> Actor:
    """Who answers through a household's one-time link (starter/survey_links.py): no user, the
    household itself; the survey accepts its return for that household only."""
    return Actor(id=f"{HOUSEHOLD}:{household}", roles=[HOUSEHOLD], name=household)
