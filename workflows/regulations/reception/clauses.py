"""R9 `reception` — 客户接待业绩归属管理规定 (seed 第9篇, lines 731–808).

One long-lived case per sales office (`reception-<office id>`): its state is the rotation queue
(轮排表), the make-up turns owed, who is on leave today, the register (《客户登记本》 and
《电话咨询登记本》) and the deals; continue-as-new carries all of it into the next run. Visits,
calls and deals are **updates to the office case**, not cases of their own: the rotation and the
ownership of a customer are decided against the whole register at once, in one place, in the
order things happened (a case per visit would have to ask the office for both).

The attribution rules (8–18) are pure functions in rules.py, each with its own tests; every
decision this case makes is written beside the figure with the clause it applied and the rule
in words (the register entry's `clause`/`rule`, the deal's record, the ledger row's rule).

Choices where the text is silent (a sales manager's reading):
- Rotation (1–3): a walk-in goes first to whoever is owed a make-up turn (补接, in the order the
  turns were earned), else to the head of the queue, who then goes to the back. Someone on leave
  (休班、事假、病假) at the head passes their turn and goes to the back: no make-up (3). A make-up
  owed to someone on leave waits until they are back. Public customers (6–7) go to the first
  salesperson present in queue order without using a turn (the queue does not move); a customer
  found to be public afterwards earns the receiver a make-up turn (`public_after`).
- The register (4–5, 21): each visit or call is an entry with its number; nothing is ever
  edited — a correction is a new entry naming the one it corrects, and ownership then reads the
  corrected data with the original entry's date. The records are the evidence for commissions.
- Ownership at registration: the earliest entry by another salesperson that matches (full name,
  phone, or car brand + plate + surname; 4) is the original. A family member (一家人, the entry
  it belongs with is named) follows rule 14 (30 days from the original registration or deal);
  a customer served unknowingly follows rule 15 (60 days); one served knowingly is handed back
  (13). An original that is a phone call, for a caller who walked in without asking for anyone,
  yields to the reception (12(1) 以电话服从接待).
- Deals (16–18): a deal is a deposit AND a signed subscription (17), else refused. With no
  other owner it is the closer's. `same_visit` (the original absent, served for them, closed on
  that visit) splits 20/80 (9, 12(3), 13); `discovered` and `own` (the closer did not know)
  follow 16 with today as the day it was found; `group` is a group purchase: no commission, the
  bonus share is the manager's (18).
- Grabbing (13): the sales manager reports it against a deal: the grabber's commission of it is
  cancelled (a reversing row) and the fine is the manager's decision, refused outside 200–500 元.
- Hard cases (20) open a ruling task for the sales manager; the ruling is a record.
- A monthly commission statement per salesperson (every deal, its share, the clause and rule)
  is written on the policy's day for the month before, and on demand; records export as CSV.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar import add_months, china_date
    from workflows.engine import CaseWorkflow, refuse
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import CHINA_TZ, CaseStart, Deadline, TaskState
    from workflows.regulations.reception import rules
    from workflows.regulations.reception.forms import (
        CallInput,
        DealEntry,
        DealInput,
        FineData,
        GrabInput,
        HardCaseInput,
        LeaveInput,
        MakeupInput,
        OfficeInput,
        ReceptionPolicy,
        ReceptionVars,
        RegisterEntry,
        RosterInput,
        RulingData,
        StatementInput,
        VisitInput,
        WalkInInput,
    )
    from workflows.regulations.reception.people import ROLES
    from workflows.spec import ActionSpec, RecordSpec, TaskSpec, after, at, check

CODE = "reception"
MAKEUP_ZH = {
    "own_returning": "接待自己的老客户",
    "own_phone": "接待自己的来电客户",
    "colleague_verified": "接待同事的老客户且已查明",
    "helped": "帮助同事接待",
    "other_work": "项目组另外安排工作而错过接待",
    "public_after": "事后确定为公共客户",
}

TASKS = (
    TaskSpec("grab_fine", "抢客户罚款决定：{grabber}（成交 {deal_no} 号）", "R9 13",
             "sales_manager", assignee="input.sales_manager", deadline="decision_due",
             outcomes={"fine": FineData}, record=RecordSpec("grab_decision", "抢客户处理决定", ("fine",))),
    TaskSpec("ruling", "疑难问题裁定：{question}", "R9 20", "sales_manager",
             assignee="input.sales_manager", deadline="decision_due",
             outcomes={"ruled": RulingData}, record=RecordSpec("ruling_record", "疑难问题裁定记录", ("ruled",))),
)  # fmt: skip


def _key(e: RegisterEntry | VisitInput | DealInput | CallInput) -> rules.CustomerKey:
    return rules.CustomerKey(
        full_name=e.customer_name,
        phone=e.phone,
        car_brand=getattr(e, "car_brand", ""),
        car_plate=getattr(e, "car_plate", ""),
    )


@workflow.defn(name="zhidu.reception")
class ReceptionWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "售楼处接待：{office_name}"
    INPUT = OfficeInput
    POLICY = ReceptionPolicy
    VARS = ReceptionVars
    CUSTOMER_FIELD = None
    TASKS = TASKS
    ROLES = ROLES
    ROLE_HOLDERS = {"sales_manager": "input.sales_manager"}
    ACTIONS = (
        ActionSpec("set_roster", RosterInput, ("sales_manager",), "update", "调整轮排表", "Set the rotation"),
        ActionSpec("leave", LeaveInput, ("staff", "sales_manager"), "update", "休班或请假", "Leave"),
        ActionSpec("walk_in", WalkInInput, ("staff", "sales_manager"), "update", "来访客户（按轮排）", "A walk-in"),
        ActionSpec("makeup_turn", MakeupInput, ("staff", "sales_manager"), "update", "补接登记", "A make-up turn"),
        ActionSpec("register_visit", VisitInput, ("staff",), "update", "客户登记", "Register a visit"),
        ActionSpec("register_call", CallInput, ("staff",), "update", "电话咨询登记", "Register a call"),
        ActionSpec("record_deal", DealInput, ("staff",), "update", "成交登记", "Record a deal"),
        ActionSpec("report_grabbing", GrabInput, ("sales_manager",), "update", "认定抢客户", "Report grabbing",
                   people={"grabber": "staff"}),
        ActionSpec("hard_case", HardCaseInput, ("staff", "sales_manager"), "update", "疑难问题报销售经理", "A hard case"),
        ActionSpec("statement", StatementInput, ("sales_manager",), "update", "月度提成结算表", "Monthly statement"),
    )  # fmt: skip
    inp: OfficeInput
    policy: ReceptionPolicy
    v: ReceptionVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    def begin(self) -> None:
        self.v.queue = list(self.inp.roster)
        self.event("roster_set", "R9 1", self.started_by, roster=list(self.v.queue))
        today = china_date(self.now)
        first = datetime.combine(today.replace(day=self.policy.statement_day), time(9), CHINA_TZ)
        if first <= self.now:
            first = add_months(first, 1)
        self.recur("statement", Grid(first, Deadline(months=1)), "monthly_statement")

    def summarize(self) -> dict[str, Any]:
        return {"queue": list(self.v.queue), "makeup": [m["person"] for m in self.v.makeup],
                "on_leave": sorted(p for p, d in self.v.leave.items() if d == self._today()),
                "entries": len(self.v.entries), "deals": len(self.v.deals),
                "served": dict(self.v.served)}  # fmt: skip

    def _today(self) -> str:
        return china_date(self.now).isoformat()

    def _present(self, person: str) -> bool:
        return self.v.leave.get(person) != self._today()

    # ---- 1–3, 6–7 the rotation -----------------------------------------------------------------

    @workflow.update(name="set_roster")
    def set_roster(self, inp: RosterInput) -> list[str]:
        self.v.queue = list(inp.roster)
        self.event("roster_set", "R9 1", inp.actor.id, roster=list(self.v.queue))
        return self.v.queue

    @set_roster.validator
    def _v_roster(self, inp: RosterInput) -> None:
        self.check_action("set_roster", inp.actor)

    @workflow.update(name="leave")
    def leave(self, inp: LeaveInput) -> str:
        self.v.leave[inp.person] = inp.day.isoformat()
        self.event("on_leave", "R9 3", inp.actor.id, person=inp.person, leave=inp.kind,
                   day=inp.day.isoformat())  # fmt: skip
        return "ok"

    @leave.validator
    def _v_leave(self, inp: LeaveInput) -> None:
        self.check_action("leave", inp.actor)
        if inp.person != inp.actor.id and "sales_manager" not in inp.actor.roles:
            raise refuse("Forbidden", "only one's own leave", "只能登记本人的休班或请假")

    @workflow.update(name="walk_in")
    def walk_in(self, inp: WalkInInput) -> str:
        """1: in queue order, no picking; 2: a make-up turn first; 3: leave passes the turn;
        7: a public customer is received in order without using a turn."""
        present = [p for p in self.v.queue if self._present(p)]
        if inp.public:
            person, via, clause = present[0], "public", "R9 7"
        else:
            owed = next((m for m in self.v.makeup if self._present(m["person"])), None)
            if owed is not None:
                self.v.makeup.remove(owed)
                person, via, clause = owed["person"], "makeup", "R9 2"
            else:
                while not self._present(self.v.queue[0]):
                    passed = self.v.queue.pop(0)
                    self.v.queue.append(passed)
                    self.event("turn_passed", "R9 3", None, person=passed)
                person, via, clause = self.v.queue.pop(0), "rotation", "R9 1"
                self.v.queue.append(person)
        self.v.served[person] = self.v.served.get(person, 0) + (0 if inp.public else 1)
        self.event("walk_in_assigned", clause, inp.actor.id, person=person, via=via,
                   public=inp.public)  # fmt: skip
        return person

    @walk_in.validator
    def _v_walk_in(self, inp: WalkInInput) -> None:
        self.check_action("walk_in", inp.actor)
        if not any(self._present(p) for p in self.v.queue):
            raise refuse(
                "Conflict", "nobody of the rotation is on duty", "轮排表上今天没有当值售楼员"
            )

    @workflow.update(name="makeup_turn")
    def makeup_turn(self, inp: MakeupInput) -> int:
        """2: a make-up turn, at once, for the four reasons (and 7: a customer found public)."""
        self.v.makeup.append(
            {"person": inp.person, "reason": inp.reason, "at": self.now.isoformat()}
        )
        self.event("makeup_owed", "R9 7" if inp.reason == "public_after" else "R9 2", inp.actor.id,
                   person=inp.person, reason=inp.reason, note=inp.note)  # fmt: skip
        return len(self.v.makeup)

    @makeup_turn.validator
    def _v_makeup(self, inp: MakeupInput) -> None:
        self.check_action("makeup_turn", inp.actor)
        if inp.person != inp.actor.id and "sales_manager" not in inp.actor.roles:
            raise refuse("Forbidden", "only one's own make-up turn", "只能为本人登记补接")
        if inp.person not in self.v.queue:
            raise refuse("Invalid", f"person: {inp.person} is not in the rotation", "不在轮排表上")

    # ---- 4–5, 21 the register --------------------------------------------------------------------

    def _effective(self) -> list[RegisterEntry]:
        """Each entry as last corrected (21: corrections are new entries), with its first date."""
        out: dict[int, RegisterEntry] = {}
        for e in self.v.entries:
            if e.corrects is None:
                out[e.no] = e
            elif e.corrects in out:
                first = out[e.corrects]
                out[e.corrects] = e.model_copy(update={"no": first.no, "at": first.at,
                                                       "corrects": None})  # fmt: skip
        return list(out.values())

    def _original(self, key: rules.CustomerKey, other_than: str) -> RegisterEntry | None:
        """The earliest registration of this customer by another salesperson (4)."""
        for e in self._effective():
            if e.staff != other_than and e.public is None and rules.match_basis(key, _key(e)):
                return e
        return None

    def _write_entry(self, entry: RegisterEntry, data: dict[str, Any], decision: rules.Decision,
                     actor: str) -> str:  # fmt: skip
        book, title = ("visit_register", "《客户登记本》") if entry.book == "visit" else (
            "call_register", "《电话咨询登记本》")  # fmt: skip
        rid = self.record(book, title, {
            "entry_no": entry.no, "at": entry.at.isoformat(), "staff": entry.staff, **data,
            "owner": decision.owner, "new_customer": decision.new_customer,
            "clause": decision.clause, "rule": decision.rule, "corrects": entry.corrects},
            created_by=actor, clause="R9 4" if entry.book == "visit" else "R9 5")  # fmt: skip
        entry.record_id = rid
        self.v.entries.append(entry)
        self.event("ownership_decided", decision.clause, actor, entry_no=entry.no,
                   owner=decision.owner, rule=decision.rule)  # fmt: skip
        return rid

    @workflow.update(name="register_visit")
    def register_visit(self, inp: VisitInput) -> dict[str, Any]:
        me = inp.actor.id
        entry = RegisterEntry(no=len(self.v.entries) + 1, book="visit", at=self.now,
                              customer_name=inp.customer_name, phone=inp.phone,
                              car_brand=inp.car_brand, car_plate=inp.car_plate, staff=me,
                              public=inp.public, family_of=inp.family_of, corrects=inp.corrects)  # fmt: skip
        decision = self._visit_owner(inp, me)
        data = inp.model_dump(mode="json", exclude={"actor", "corrects"})
        self._write_entry(entry, data, decision, me)
        return {"entry_no": entry.no, "owner": decision.owner, "clause": decision.clause,
                "rule": decision.rule}  # fmt: skip

    def _visit_owner(self, inp: VisitInput, me: str) -> rules.Decision:
        if inp.corrects is not None:
            return rules.Decision(
                ((me, rules.ONE),), "R9 21", f"更正第 {inp.corrects} 号登记（原登记保留）"
            )
        if inp.public:
            return rules.Decision((), "R9 7", "公共客户：销售部公共资源，不属于第一接待的售楼员")
        today = china_date(self.now)
        if inp.family_of is not None:
            family = next((e for e in self._effective() if e.no == inp.family_of), None)
            if family is not None and family.staff != me:
                last_deal = max((china_date(d.at) for d in self.v.deals if not d.cancelled
                                 and rules.match_basis(_key(family), rules.CustomerKey(
                                     full_name=d.customer_name))), default=None)  # fmt: skip
                d = rules.family_visit(china_date(family.at), today, last_deal,
                                       self.policy.family_new_after_days)  # fmt: skip
                owner = me if d.new_customer else family.staff
                return rules.Decision(((owner, rules.ONE),), d.clause, d.rule, d.new_customer)
        original = self._original(_key(inp), me)
        if original is None:
            return rules.own_customer(me, "R9 4")
        if original.book == "call":  # 12(1) the phone yields to the reception
            return rules.Decision(((me, rules.ONE),), "R9 12(1)",
                                  f"来电客户（第 {original.no} 号电话登记）未主动找售楼员，按轮排接待：以电话服从接待")  # fmt: skip
        if inp.knowingly:
            return rules.Decision(((original.staff, rules.ONE),), "R9 13",
                                  f"接待中发现是 {original.staff} 的客户（第 {original.no} 号登记）：应主动交回原售楼员")  # fmt: skip
        d = rules.unknowingly_served(china_date(original.at), today,
                                     self.policy.unknowing_new_after_days)  # fmt: skip
        owner = me if d.new_customer else original.staff
        return rules.Decision(((owner, rules.ONE),), d.clause,
                              f"{d.rule}（第 {original.no} 号登记，{original.staff}）", d.new_customer)  # fmt: skip

    @register_visit.validator
    def _v_visit(self, inp: VisitInput) -> None:
        self.check_action("register_visit", inp.actor)
        self._check_entry(inp.customer_name, inp.phone, inp.car_plate, inp.corrects, "visit")
        if inp.family_of is not None and not any(e.no == inp.family_of for e in self.v.entries):
            raise refuse(
                "Invalid", f"family_of: no entry {inp.family_of}", f"没有第 {inp.family_of} 号登记"
            )

    def _check_entry(
        self, name: str, phone: str, plate: str, corrects: int | None, book: str
    ) -> None:
        if not (name or phone or plate):
            raise refuse("Invalid", "a name, a phone or a car plate is needed",
                          "客户全名、联系电话、车牌至少登记一项（第4条）")  # fmt: skip
        if corrects is not None:
            old = next((e for e in self.v.entries if e.no == corrects), None)
            if old is None or old.book != book or old.corrects is not None:
                raise refuse("Invalid", f"corrects: no original entry {corrects} in this book",
                             f"本登记本没有可更正的第 {corrects} 号原始登记")  # fmt: skip

    @workflow.update(name="register_call")
    def register_call(self, inp: CallInput) -> dict[str, Any]:
        """5: the caller belongs to whoever answered."""
        me = inp.actor.id
        entry = RegisterEntry(no=len(self.v.entries) + 1, book="call", at=self.now,
                              customer_name=inp.customer_name, phone=inp.phone, staff=me,
                              corrects=inp.corrects)  # fmt: skip
        decision = (rules.Decision(((me, rules.ONE),), "R9 21", f"更正第 {inp.corrects} 号登记（原登记保留）")
                    if inp.corrects else rules.Decision(((me, rules.ONE),), "R9 5", "来电客户属于接听的售楼员"))  # fmt: skip
        self._write_entry(
            entry, inp.model_dump(mode="json", exclude={"actor", "corrects"}), decision, me
        )
        return {"entry_no": entry.no, "owner": decision.owner, "clause": decision.clause}

    @register_call.validator
    def _v_call(self, inp: CallInput) -> None:
        self.check_action("register_call", inp.actor)
        self._check_entry(inp.customer_name, inp.phone, "", inp.corrects, "call")

    # ---- 8–18 deals and their attribution ----------------------------------------------------------

    @workflow.update(name="record_deal")
    def record_deal(self, inp: DealInput) -> dict[str, Any]:
        closer = inp.actor.id
        today = china_date(self.now)
        deal_day = inp.deal_day or today
        original = self._original(_key(inp), closer)
        if inp.way == "group":
            decision = rules.group_purchase(closer)
        elif original is None:
            decision = rules.own_customer(closer, "R9 17")
        elif inp.way == "same_visit":
            decision = rules.same_visit_split(closer, original.staff, self.policy.helper_share)
        else:
            decision = rules.discovered_after_deal(
                closer, original.staff, china_date(original.at), deal_day, today,
                window_days=self.policy.discovered_window_days,
                new_after_days=self.policy.unknowing_new_after_days)  # fmt: skip
        no = len(self.v.deals) + 1
        amounts: list[Decimal] = []
        if decision.shares:
            amounts = self.split(f"deal/{no}", inp.commission_yuan, list(decision.shares),
                                 clause=decision.clause,
                                 rule=f"成交 {no} 号（{inp.customer_name}）：{decision.rule}")  # fmt: skip
        paid = [(p, a) for (p, _), a in zip(decision.shares, amounts, strict=True)]
        rid = self.record("deal_record", "成交业绩归属记录", {
            "deal_no": no, "customer_name": inp.customer_name, "closer": closer,
            "original": original.staff if original else None,
            "original_entry": original.no if original else None, "way": inp.way,
            "deal_day": deal_day.isoformat(), "commission_yuan": str(inp.commission_yuan),
            "amounts": [{"person": p, "amount_yuan": str(a)} for p, a in paid],
            "clause": decision.clause, "rule": decision.rule}, created_by=closer, clause="R9 17")  # fmt: skip
        self.v.deals.append(DealEntry(no=no, at=datetime.combine(deal_day, time(12), CHINA_TZ),
                                      customer_name=inp.customer_name, closer=closer,
                                      amount_yuan=inp.commission_yuan, clause=decision.clause,
                                      rule=decision.rule, amounts=paid, record_id=rid))  # fmt: skip
        self.event("deal_attributed", decision.clause, closer, deal_no=no, rule=decision.rule)
        return {"deal_no": no, "clause": decision.clause, "rule": decision.rule,
                "amounts": {p: str(a) for p, a in paid}}  # fmt: skip

    @record_deal.validator
    def _v_deal(self, inp: DealInput) -> None:
        self.check_action("record_deal", inp.actor)
        if not rules.is_deal(inp.deposit_paid, inp.subscription_signed):
            raise refuse("Invalid", "not a deal: a deposit paid and a subscription signed (17)",
                         "未交定金或未签认购书，不算成交（第17条）")  # fmt: skip
        if not (inp.customer_name or inp.phone or inp.car_plate):
            raise refuse("Invalid", "the subscriber is needed", "须登记认购方（第17条）")

    # ---- 13 grabbing; 20 hard cases -----------------------------------------------------------------

    @workflow.update(name="report_grabbing")
    def report_grabbing(self, inp: GrabInput) -> str:
        deal = self.v.deals[inp.deal_no - 1]
        decision = rules.grabbing(inp.grabber)
        deal.cancelled.append(inp.grabber)
        for person, amount in deal.amounts:
            if person == inp.grabber and amount:
                self.book(f"deal/{deal.no}/cancel/{person}", clause="R9 13", party=person,
                          kind="commission", amount=-amount, rule=decision.rule,
                          account=f"deal/{deal.no}")  # fmt: skip
        self.event("grabbing", "R9 13", inp.actor.id, deal_no=deal.no, grabber=inp.grabber,
                   facts=inp.facts)  # fmt: skip
        low, high = self.policy.grab_fine_min_yuan, self.policy.grab_fine_max_yuan
        task = self.open("grab_fine", data={"deal_no": deal.no, "grabber": inp.grabber,
                                            "facts": inp.facts, "range_yuan": f"{low}–{high}"})  # fmt: skip
        return task.id

    @report_grabbing.validator
    def _v_grab(self, inp: GrabInput) -> None:
        self.check_action("report_grabbing", inp.actor)
        if not 1 <= inp.deal_no <= len(self.v.deals):
            raise refuse("Invalid", f"deal_no: no deal {inp.deal_no}", f"没有成交 {inp.deal_no} 号")

    @check("grab_fine")
    def _check_fine(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        low, high = self.policy.grab_fine_min_yuan, self.policy.grab_fine_max_yuan
        if isinstance(data, FineData) and not rules.fine_in_range(data.amount_yuan, low, high):
            return (f"data.amount_yuan: the fine is {low}–{high} 元 (13)",
                    f"抢客户罚款须在 {low}–{high} 元之间（第13条）")  # fmt: skip
        return None

    @after("grab_fine")
    def _fined(self, task: TaskState) -> None:
        if task.status != "done":
            return
        fine = self.given(FineData, task)
        self.book(f"grab/{task.data['deal_no']}/{task.data['grabber']}", clause="R9 13",
                  party=task.data["grabber"], amount=fine.amount_yuan,
                  rule=f"抢客户（成交 {task.data['deal_no']} 号）：取消佣金，销售经理决定罚款 {fine.amount_yuan} 元")  # fmt: skip

    @workflow.update(name="hard_case")
    def hard_case(self, inp: HardCaseInput) -> str:
        self.event("hard_case", "R9 20", inp.actor.id, question=inp.question)
        return self.open(
            "ruling", data={"question": inp.question[:60], "asked_by": inp.actor.id}
        ).id

    @hard_case.validator
    def _v_hard(self, inp: HardCaseInput) -> None:
        self.check_action("hard_case", inp.actor)

    # ---- the monthly commission statement -----------------------------------------------------------

    def _statement(self, month: str, actor: str | None) -> list[str]:
        rows: dict[str, list[dict[str, Any]]] = {p: [] for p in self.v.queue}
        for d in self.v.deals:
            if d.at.astimezone(CHINA_TZ).strftime("%Y-%m") != month:
                continue
            for person, amount in d.amounts:
                rows.setdefault(person, []).append({
                    "deal_no": d.no, "customer_name": d.customer_name, "closer": d.closer,
                    "amount_yuan": str(Decimal(0) if person in d.cancelled else amount),
                    "cancelled": person in d.cancelled,
                    "clause": d.clause, "rule": d.rule})  # fmt: skip
        ids = []
        for person, lines in rows.items():
            total = sum((Decimal(x["amount_yuan"]) for x in lines), Decimal(0))
            ids.append(self.record("commission_statement", "月度提成结算表", {
                "month": month, "person": person, "deals": lines, "total_yuan": str(total)},
                created_by=actor, clause="R9 21"))  # fmt: skip
        return ids

    @at("monthly_statement")
    def _monthly(self, info: dict[str, Any]) -> None:
        planned: datetime = info["planned_at"]
        local = planned.astimezone(CHINA_TZ)
        previous = local.replace(day=1) - Deadline(days=1).wall
        self._statement(previous.strftime("%Y-%m"), None)

    @workflow.update(name="statement")
    def statement(self, inp: StatementInput) -> list[str]:
        return self._statement(inp.month, inp.actor.id)

    @statement.validator
    def _v_statement(self, inp: StatementInput) -> None:
        self.check_action("statement", inp.actor)
