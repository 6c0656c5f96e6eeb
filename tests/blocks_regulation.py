"""A test regulation that uses every building block of the engine, so the engine is tested on
its own and not only through R1 (tests/test_blocks.py):

- deadlines in working days (with a working-day reminder), wall-clock, and calendar-anchored
  ("by the 10th", "2 days before month end"); breach notices to the spec's targets and a fine
  booked at breach; lapse;
- extensions within each role's limit (center head 3 days, director 14 days); pause / resume;
- an escalation ladder (3 min → 5 min → 10 min, a different role per level, written reports due
  24 h / 48 h), ended from outside (`end_ladder`, the reports still owed); a ladder that began
  before it was raised (an alarm 5 min from the intake, level 2 within 10 min of the intake,
  level 3 within 5 min of being told), every level with the ladder's base data only;
- approval chains from a policy table (≤ 2000 records: vice president; more, or across the
  group: general manager) and a joint approval by two heads;
- the ledger: a fine, a reward, a deposit held / used / refunded, commission splits 20/80 and
  50/50 in exact yuan; the discipline register: a sanction or reward (a bonus also in the
  ledger) written only when its approval chain approves;
- a record the customer signs (drawn or by code) and the actor signs by login; one the customer
  signs when the completion says they were present, for one outcome only, checked against the
  signatures sent (`@check(..., signatures=True)`);
- a task for, and a notice to, whoever started the case (`case.started_by`, 首问人), and a task
  that is that person's own whatever their roles (no role: nobody else may act on it);
- seeded, recorded sampling; a report job; messages to another case, started if needed; one
  event that arrives as a person's update or as another case's message (`on_event`);
- overlapping units of work;
- the engine's first task defaults declared (FIXED_DEFAULTS: 24 h reminder, 30-day lapse, breach
  to every supervisor), and a variant with the scaled ones (`ScaledBlocksWorkflow`,
  SCALED_DEFAULTS: a 3-minute task is reminded at 2¼ minutes, lapses 9 minutes after its due,
  its breach goes to its holder).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from workflows.engine import FIXED_DEFAULTS, SCALED_DEFAULTS, CasePolicy, CaseWorkflow, refuse
    from workflows.labels import Labels
    from workflows.model import (
        Actor,
        CaseMessage,
        CaseStart,
        Deadline,
        DisciplineKind,
        SignatureInput,
        TaskState,
        UnitState,
        Yuan,
    )
    from workflows.registry import ActionSpec, RegulationEntry
    from workflows.roles import RoleBook
    from workflows.spec import (
        ApprovalSpec,
        Book,
        Breach,
        EscalationData,
        LadderSpec,
        Level,
        NoteData,
        RecordSpec,
        ReportData,
        Sign,
        TaskData,
        TaskSpec,
        Tier,
        after,
        after_approval,
        after_ladder,
        check,
        on_event,
        on_message,
        on_result,
    )

CODE = "blocks"

# The roles this test regulation needs (a regulation declares its own in its folder).
ROLES = RoleBook(
    {
        "staff": ("销售/客服人员", "Sales / service staff"),
        "finance": ("财务管理部", "Finance"),
        "clerk": ("销售/客服文员", "Clerk"),
        "center_head": ("物业服务中心负责人", "Service-center head"),
        "director": ("主任", "Director"),
        "department_head": ("部门负责人", "Department head"),
        "company_leader": ("物业公司主管领导", "Company leader"),
        "board": ("董事领导", "Board leader"),
        "vice_president": ("副总裁", "Vice president"),
        "general_manager": ("总经理", "General manager"),
        "property_manager": ("物业管理员", "Property manager"),
        "security_supervisor": ("保安主管", "Security supervisor"),
    },
    above={"center_head": ("director",), "department_head": ("company_leader",)},
)


class BlocksInput(BaseModel):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    customer_name: str = Field("测试客户", min_length=1, max_length=100)
    owner: str = Field("staff", min_length=1, max_length=64)
    volume: int = Field(1500, ge=1, description="申请的客户资料条数")
    scope: Literal["internal", "group"] = "internal"
    deposit_yuan: Yuan = Decimal("5000.00")
    complaints: list[str] = Field(default_factory=list, max_length=500)
    phone: str | None = Field("13800000000", max_length=50)
    # Besides the default units: "first", the first receiver's follow-up (首问负责);
    # "inspect", three home inspections.
    units: list[
        Literal["intake", "fix", "calendar", "emergency", "data", "key", "first", "inspect"]
    ] = Field(default_factory=lambda: ["intake", "fix", "calendar", "emergency", "data", "key"])


class BlocksPolicy(CasePolicy):
    intake_due: Deadline = Deadline(working_days=2)
    intake_remind: Deadline = Deadline(working_days=1)
    fix_due: Deadline = Deadline(hours=24)
    fix_by_center_head: Deadline = Deadline(days=3)
    fix_by_director: Deadline = Deadline(days=14)
    monthly_due: Deadline = Deadline(month_day=10)
    settle_due: Deadline = Deadline(before_month_end=2)
    level1_within: Deadline = Deadline(minutes=3)
    level2_within: Deadline = Deadline(minutes=5)
    level3_within: Deadline = Deadline(minutes=10)
    report2_due: Deadline = Deadline(hours=24)
    report3_due: Deadline = Deadline(hours=48)
    alarm1_within: Deadline = Deadline(minutes=5)  # of the intake
    alarm2_within: Deadline = Deadline(minutes=10)  # of the intake
    alarm3_within: Deadline = Deadline(minutes=5)  # of being told
    quick_due: Deadline = Deadline(minutes=3)
    vice_president_up_to: int = 2000
    late_intake_fine_yuan: Yuan = Decimal("200.00")
    sample_rate: float = 0.1
    onsite_rate: float = 0.3


class IntakeData(TaskData):
    """《业主反映情况记录》."""

    room: str = Field(min_length=1, max_length=50)
    content: str = Field(min_length=1, max_length=2000)


class InspectionData(TaskData):
    """《入户查验记录》: the owner signs it when present."""

    customer_present: bool = Field(description="业主在场")
    contact_name: str = Field(min_length=1, max_length=100, description="在场联系人")
    findings: str = Field("", max_length=2000)


class DepositInput(BaseModel):
    actor: Actor
    used_yuan: Yuan = Field(ge=0)


class DealInput(BaseModel):
    actor: Actor
    deal_id: str = Field(min_length=1, max_length=64)
    amount_yuan: Yuan = Field(gt=0)
    original: str = Field(min_length=1, max_length=64)
    helper: str = Field(min_length=1, max_length=64)
    split: Literal["20/80", "50/50"]


class PingInput(BaseModel):
    actor: Actor
    target_customer: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    key: str = Field(min_length=1, max_length=100)
    text: str = Field("你好", max_length=200)


class ReportInput(BaseModel):
    actor: Actor


class IncidentInput(BaseModel):
    """An incident, reported by a person (the update) or by another case (a message)."""

    actor: Actor
    ref: str = Field(min_length=1, max_length=50)
    text: str = Field(min_length=1, max_length=500)


class DisciplineInput(BaseModel):
    actor: Actor
    key: str = Field(min_length=1, max_length=100)
    party: str = Field(min_length=1, max_length=64)
    kind: DisciplineKind
    rule: str = Field(min_length=1, max_length=500)
    amount_yuan: Yuan = Decimal("0.00")


class ForwardInput(BaseModel):
    actor: Actor
    target_customer: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    key: str = Field(min_length=1, max_length=100)
    payload: dict[str, Any]


class AlarmInput(BaseModel):
    actor: Actor
    intake_at: datetime
    source: str = Field(min_length=1, max_length=100)


class StandDownInput(BaseModel):
    actor: Actor
    ladder: Literal["emergency", "alarm"]
    reason: str = Field(min_length=2, max_length=1000)


class RawNote(BaseModel):
    """Deliberately not a Form: text the database may refuse (tests the repair path)."""

    text: str


def _level(kind: str, title: str, role: str, within: str, clause: str) -> TaskSpec:
    return TaskSpec(
        kind, title, clause, role, deadline=within, remind=None,
        outcomes={"resolved": EscalationData, "escalate": EscalationData},
        breach=Breach(notify=(f"role:{role}",)),
    )  # fmt: skip


TASKS = (
    TaskSpec("intake", "登记业主反映：{customer_name}", "B 1", "staff", assignee="input.owner",
             deadline="intake_due", remind="intake_remind", outcomes={"done": IntakeData},
             record=RecordSpec("intake_record", "《业主反映情况记录》"),
             signatures=(Sign("actor", "staff"), Sign("customer", "owner", ("drawing", "otp"))),
             breach=Breach(notify=("role:center_head", "input.owner"),
                           book=(Book("late", "B 1", "input.owner", "late_intake_fine_yuan",
                                      "登记超时"),))),
    TaskSpec("fix", "维修：{customer_name}", "B 2", "staff", deadline="fix_due", remind=None,
             lapse=Deadline(days=30),
             extend={"center_head": "fix_by_center_head", "director": "fix_by_director"},
             pausable_by=("center_head",)),
    TaskSpec("monthly", "月度报告", "B 3", "clerk", deadline="monthly_due"),
    TaskSpec("settle", "月底结算", "B 3", "clerk", deadline="settle_due"),
    TaskSpec("report_collect", "汇总统计", "B 5", "clerk", outcomes={"done": NoteData}),
    # The first receiver (首问人: whoever started the case) follows the matter up, and is told
    # when the follow-up is late.
    TaskSpec("first_contact", "首问跟进：{customer_name}", "B 13", "staff",
             assignee="case.started_by", deadline="quick_due", remind=None,
             breach=Breach(notify=("case.started_by",))),
    TaskSpec("incident_followup", "事件跟进：{ref}", "B 15", "staff", deadline="fix_due",
             remind=None),
    # A home inspection: the owner signs its record when present (ticked when completing);
    # a refused visit writes no record and needs no signature.
    TaskSpec("inspection", "入户查验：{customer_name}", "B 14", "staff",
             outcomes={"done": InspectionData, "refused": NoteData},
             record=RecordSpec("inspection_record", "《入户查验记录》"),
             signatures=(Sign("customer", "owner", ("drawing",), required="customer_present",
                              outcomes=("done",)),)),
    # ... and calls the customer back in person: a task with no role, only for that person.
    TaskSpec("first_callback", "首问人回电：{customer_name}", "B 13", "",
             assignee="case.started_by", deadline="quick_due", remind=None),
)  # fmt: skip

EMERGENCY = LadderSpec(
    "emergency",
    (
        Level(_level("notify_department", "通知部门", "department_head", "level1_within", "B 4(1)")),
        Level(
            _level("report_company", "报告公司领导", "company_leader", "level2_within", "B 4(2)"),
            TaskSpec("written_report_24h", "书面报告（24 小时）", "B 4(2)", "department_head",
                     deadline="report2_due", remind=None, outcomes={"done": ReportData}),
        ),
        Level(
            _level("report_board", "报告董事会", "board", "level3_within", "B 4(3)"),
            TaskSpec("written_report_48h", "书面报告（48 小时）", "B 4(3)", "company_leader",
                     deadline="report3_due", remind=None, outcomes={"done": ReportData}),
        ),
    ),
)  # fmt: skip

ALARM = LadderSpec(  # the clock runs from the intake, not from when the alarm was raised
    "alarm",
    (
        Level(_level("alarm_duty", "值班处置：{source}", "staff", "alarm1_within", "B 11(1)")),
        Level(_level("alarm_center", "中心处置：{source}", "center_head", "alarm2_within",
                     "B 11(2)"), counts_from="ladder"),
        Level(_level("alarm_director", "主任处置：{source}", "director", "alarm3_within",
                     "B 11(3)")),
    ),
)  # fmt: skip

DATA_REQUEST = ApprovalSpec(
    "data_request", "data_approval", "客户资料需求审批：{volume} 条", "B 6",
    tiers=(Tier("vice_president_up_to", ("vice_president",)),
           Tier(None, ("general_manager",), scopes=("group",))),
)  # fmt: skip
DISCIPLINE = ApprovalSpec(  # the department head decides; a dismissal or demotion, the GM
    "discipline", "discipline_approval", "奖惩审批：{party}", "B 10",
    tiers=(Tier(None, ("department_head",)),
           Tier(None, ("general_manager",), scopes=("dismissal", "demotion"))),
)  # fmt: skip
KEY_USE = ApprovalSpec(
    "key_use", "key_approval", "托管钥匙使用审批", "B 7",
    tiers=(Tier(None, ("property_manager", "security_supervisor")),), mode="joint",
)  # fmt: skip


class BlocksVars(BaseModel):
    deposit_account: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    sampled: list[str] = Field(default_factory=list)
    onsite: list[str] = Field(default_factory=list)


@workflow.defn(name="test.blocks")
class BlocksWorkflow(CaseWorkflow):
    REGULATION = CODE
    ROLES = ROLES
    TITLE = "积木测试：{customer_name}"
    INPUT = BlocksInput
    POLICY = BlocksPolicy
    VARS = BlocksVars
    TASKS = TASKS
    APPROVALS = (DATA_REQUEST, KEY_USE, DISCIPLINE)
    LADDERS = (EMERGENCY, ALARM)
    TASK_DEFAULTS = FIXED_DEFAULTS
    inp: BlocksInput
    policy: BlocksPolicy
    v: BlocksVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        units = self.inp.units
        if "intake" in units:
            self.open("intake", self.open_unit("service", "业主报修"))
        if "fix" in units:
            self.open("fix", self.open_unit("repair", "维修"))
        if "calendar" in units:
            self.open("monthly")
            self.open("settle")
        if "emergency" in units:
            self.escalate("emergency", self.open_unit("emergency", "紧急事件"))
        if "data" in units:
            data = self.open_unit("data", "资料共享", volume=self.inp.volume)
            rid = self.record("data_request", "《客户资源需求申请单》", {"volume": self.inp.volume,
                              "scope": self.inp.scope}, created_by=self.inp.owner)  # fmt: skip
            self.request_approval(
                "data_request", data, rid, measure=self.inp.volume, scope=self.inp.scope
            )
        if "key" in units:
            key = self.open_unit("key", "钥匙使用")
            rid = self.record(
                "key_use", "《钥匙使用登记薄》", {"room": "A-101"}, created_by=self.inp.owner
            )
            self.request_approval("key_use", key, rid)
        if "first" in units:
            self.open("first_contact")
            self.open("first_callback")
        if "inspect" in units:
            for _ in range(3):
                self.open("inspection")
        if self.inp.deposit_yuan > 0:
            self.v.deposit_account = f"{self.s.case_id}/deposit"
            self.book("deposit/held", clause="B 8", party=self.inp.customer_name, party_kind="customer",
                      amount=self.inp.deposit_yuan, kind="deposit_held", rule="装修押金",
                      account=self.v.deposit_account)  # fmt: skip
        if self.inp.complaints:
            self.v.sampled = self.sample(self.inp.complaints, self.policy.sample_rate)
            self.v.onsite = self.sample(self.v.sampled, self.policy.onsite_rate)

    def summarize(self) -> dict[str, Any]:
        return {
            "messages": len(self.v.messages),
            "sampled": self.v.sampled,
            "onsite": self.v.onsite,
        }

    @check("inspection", signatures=True)
    def _check_inspection(
        self, task: TaskState, outcome: str, data: Any, signatures: list[SignatureInput]
    ) -> tuple[str, str] | None:
        """Whoever signs is the contact the record names."""
        for sig in signatures:
            if isinstance(data, InspectionData) and sig.signer_name != data.contact_name:
                return (
                    f"signatures.signer_name: {sig.signer_name} is not the contact "
                    f"{data.contact_name}",
                    f"签字人 {sig.signer_name} 不是在场联系人 {data.contact_name}",
                )
        return None

    @after_approval("data_request")
    def _data_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.close_unit(unit, "done", approved=approved)

    @after_approval("discipline")
    def _discipline_decided_here(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.close_unit(unit, "done", approved=approved)

    @after_approval("key_use")
    def _key_decided(self, unit: UnitState, approved: bool, record_id: str) -> None:
        self.close_unit(unit, "done", approved=approved)

    @after_ladder("emergency")
    def _emergency_resolved(self, unit: UnitState, level: int) -> None:
        ended = self.ladder_ended(unit, "emergency")
        self.event("emergency_closed", "B 4", None, level=level, **({"ended": ended} if ended else {}))  # fmt: skip

    @after_ladder("alarm")
    def _alarm_over(self, unit: UnitState, level: int) -> None:
        self.close_unit(unit, "done", level=level, ended=self.ladder_ended(unit, "alarm"))

    @after("written_report_24h", "written_report_48h")
    def _written(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if (
            unit is not None
            and not any(t.kind.startswith("written_report") for t in self.open_tasks(unit=unit))
            and (
                unit.data["ladders"]["emergency"]["resolved"]
                or unit.data["ladders"]["emergency"].get("ended")
            )
        ):
            self.close_unit(unit)

    @on_message("ping")
    def _pinged(self, msg: CaseMessage) -> None:
        self.v.messages.append({"key": msg.key, "from": msg.sender, **msg.payload})

    @on_result("figures")
    def _figures(self, result: dict[str, Any], context: dict[str, Any]) -> None:
        self.record("statistics", "《统计》", result, created_by="system")
        self.open("report_collect", data={"cases": result.get("cases_started", 0)})

    @workflow.update(name="settle_deposit")
    def settle_deposit(self, inp: DepositInput) -> str:
        """R6: the deposit pays for defects; the rest is refunded."""
        held = self.inp.deposit_yuan
        account = self.v.deposit_account
        self.book(
            "deposit/used",
            clause="B 8",
            party=self.inp.customer_name,
            party_kind="customer",
            amount=inp.used_yuan,
            kind="deposit_used",
            rule="押金抵扣整改费用",
            account=account,
        )
        self.book("deposit/refund", clause="B 8", party=self.inp.customer_name, party_kind="customer",
                  amount=held - inp.used_yuan, kind="deposit_refunded", rule="押金退还", account=account)  # fmt: skip
        return str(held - inp.used_yuan)

    @settle_deposit.validator
    def _check_deposit(self, inp: DepositInput) -> None:
        if "finance" not in inp.actor.roles:
            raise refuse("Forbidden", "only 财务管理部 settles deposits")
        if inp.used_yuan > self.inp.deposit_yuan:
            raise refuse("Invalid", f"used_yuan: more than the deposit {self.inp.deposit_yuan}")

    @workflow.update(name="close_deal")
    def close_deal(self, inp: DealInput) -> list[str]:
        """R9: a same-day deal by a helper splits 20/80; a late discovery 50/50."""
        helper, original = (
            (Decimal("0.2"), Decimal("0.8"))
            if inp.split == "20/80"
            else (Decimal("0.5"), Decimal("0.5"))
        )
        amounts = self.split(f"deal/{inp.deal_id}", inp.amount_yuan, [(inp.helper, helper), (inp.original, original)],
                             clause="B 9", rule="业绩分成")  # fmt: skip
        return [str(a) for a in amounts]

    @workflow.update(name="send_ping")
    def send_ping(self, inp: PingInput) -> str:
        target = f"blocks-{inp.target_customer}"
        self.send_to_case(target, "ping", inp.key, {"text": inp.text}, start_regulation=CODE,
                          start_input={"customer_id": inp.target_customer, "units": [], "deposit_yuan": "0"})  # fmt: skip
        return target

    @workflow.update(name="run_report")
    def run_report(self, inp: ReportInput) -> str:
        now = self.now
        self.run_job("zhidu.report", {"report": "case_statistics", "regulation": CODE,
                     "period_start": (now.replace(year=now.year - 1)).isoformat(),
                     "period_end": now.isoformat()}, "figures")  # fmt: skip
        return "asked"

    @workflow.update(name="raw_note")
    def raw_note(self, inp: RawNote) -> str:
        return self.record("raw_note", "原始备注", {"text": inp.text}, created_by="system")

    @workflow.update(name="raise_alarm")
    def raise_alarm(self, inp: AlarmInput) -> str:
        unit = self.open_unit("alarm", f"告警：{inp.source}")
        return self.escalate("alarm", unit, start=inp.intake_at, source=inp.source).id

    @workflow.update(name="stand_down")
    def stand_down(self, inp: StandDownInput) -> bool:
        """The matter was settled outside the ladder: end it (its reports stay owed)."""
        unit = next(u for u in self.s.units if u.kind == inp.ladder and u.status == "open")
        return self.end_ladder(inp.ladder, unit, inp.reason, inp.actor.id)

    @on_event("incident")
    def incident(self, inp: IncidentInput) -> str:
        """One event, whether a person reports it or another case sends it."""
        via = self.via_message
        unit = self.open_unit("incident", f"事件：{inp.ref}", ref=inp.ref, reported_by=inp.actor.id,
                              via=via.sender if via else None)  # fmt: skip
        return self.open("incident_followup", unit, data={"ref": inp.ref, "text": inp.text}).id

    @incident.validator
    def _check_incident(self, inp: IncidentInput) -> None:
        if "staff" not in inp.actor.roles:
            raise refuse(
                "Forbidden", "only staff report incidents", "只有销售/客服人员可以报告事件"
            )

    @workflow.update(name="forward_incident")
    def forward_incident(self, inp: ForwardInput) -> str:
        """Pass an incident on to another case (running already) as a message."""
        target = f"blocks-{inp.target_customer}"
        self.send_to_case(target, "incident", inp.key, inp.payload)
        return target

    @workflow.update(name="propose_discipline")
    def propose_sanction_or_reward(self, inp: DisciplineInput) -> str:
        unit = self.open_unit("discipline", f"奖惩：{inp.party}", party=inp.party)
        return self.propose_discipline(
            inp.key, unit, approval="discipline", party=inp.party, kind=inp.kind, clause="B 10",
            rule=inp.rule, amount=inp.amount_yuan, proposed_by=inp.actor.id,
        )  # fmt: skip

    @workflow.update(name="close_case")
    def close_case(self, inp: ReportInput) -> str:
        self.finish("closed", actor=inp.actor.id, reason="测试结束")
        return "closed"


@workflow.defn(name="test.blocks_scaled")
class ScaledBlocksWorkflow(BlocksWorkflow):
    """The test regulation on the scaled task defaults, with two 3-minute tasks that say
    nothing of their reminder, lapse or breach notice: one for the owner, one for any staff."""

    TASK_DEFAULTS = SCALED_DEFAULTS
    TASKS = (
        *TASKS,
        TaskSpec("quick", "三分钟答复：{customer_name}", "B 12", "staff", assignee="input.owner",
                 deadline="quick_due"),
        TaskSpec("quick_any", "三分钟响应：{customer_name}", "B 12", "staff", deadline="quick_due"),
    )  # fmt: skip

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        super().begin()
        self.open("quick")
        self.open("quick_any")


BLOCKS = RegulationEntry(
    code=CODE,
    title_zh="积木测试",
    title_en="Building blocks",
    workflow=BlocksWorkflow,
    workflow_name="test.blocks",
    input_model=BlocksInput,
    policy_model=BlocksPolicy,
    start_roles=("staff",),
    workflow_id=lambda i: f"blocks-{i.customer_id}",
    case_title=lambda i: f"积木测试：{i.customer_name}",
    customer_id=lambda i: i.customer_id,
    contacts=lambda i: [i.phone] if i.phone else [],
    actions=(
        ActionSpec("settle_deposit", DepositInput, ("finance",)),
        ActionSpec("close_deal", DealInput, ("staff",)),
        ActionSpec("send_ping", PingInput, ("staff",)),
    ),
    roles=ROLES,
    labels=Labels(
        fields={
            "room": "房号",
            "volume": "数量",
            "scope": "范围",
            "deposit_yuan": "押金（元）",
            "complaints": "投诉",
            "units": "工作单元",
            "reason_code": "原因",
        },
        enums={"internal": ("内部", "Internal"), "group": ("集团", "Group")},
    ),
)
