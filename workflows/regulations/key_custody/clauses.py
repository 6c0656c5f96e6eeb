"""R7 `key-custody` — 客户托管钥匙管理规定 (seed 第7篇, lines 615–633).

One case per key handed over (`key-custody-<key no>`), from the customer's hand-over to the
key's return to the customer. Each use of the key is a unit of its own.

Choices where the text is silent (what a property manager and a security supervisor expect):
- 2: the key is accepted by a joint approval of 物业部经理 and 保安主管 (the engine's joint
  `ApprovalSpec`; one person approves a chain once, so one person holding both roles cannot be
  both approvers); rejected, the case ends (the key goes back to the customer). Accepted, the
  named custodian seals it in the key box within `seal_due`: the seal number and the box slot
  make the 《钥匙托管表》 entry.
- 3: every `audit_every` (7 days) from the sealing, 物业助理 checks the key's seal (due the
  same day). A seal not intact, or a number other than the one on record, is a discrepancy:
  an incident task for each of the two heads. A key out for use at audit time is audited as
  seen (the task stays; the seal number then is the one it was opened from).
- 4: each use is a 《钥匙使用登记薄》 entry (the work, the 物业助理, the 保安员 and the work lead
  named) approved jointly by both heads, as in 2.
- 5: the 物业助理 collects and the 保安员 opens with them: two tasks, one per person, each in
  their own account (the entry names two different people; a task named for a person is
  theirs alone). The seal number seen on opening is checked against the record (a mismatch is
  an incident for both heads, as in 3).
- 7: the 《使用客户托管钥匙入室登记表》 is one record signed in three accounts — 保安员, 物业助理,
  施工负责人; the work cannot be reported done while any of the three signatures is missing.
- 6: the work report lists the items moved and, if any were, a layout (uploaded or drawn) and
  the confirmation that they were put back; otherwise it is refused.
- 8: after the work the 保安员 reseals the key (a new seal number, the 《封存钥匙登记表》) and
  the 物业助理 confirms the same number (joint sealing); the key is then back in the box. A
  key not resealed and back by the end of the day it was collected (`key_back_by`) is a
  breach told to both heads and recorded (《钥匙逾期未交回记录》).
- The chain of custody (every holder, hand-over and seal number, with times) is kept as the
  case goes and written as one printable record, 《托管钥匙保管链》, when the key goes back to
  the customer; the customer signs for it (drawing or one-time code) and the case closes.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine import CaseWorkflow, refuse
    from workflows.engine.blocks.join import Closed
    from workflows.engine.blocks.recurrence import Grid
    from workflows.model import CaseStart, TaskState, UnitState
    from workflows.regulations.key_custody.forms import (
        AuditData,
        ConfirmSealData,
        IncidentData,
        KeyCustodyInput,
        KeyCustodyPolicy,
        KeyVars,
        OpenData,
        ResealData,
        ReturnData,
        ReturnInput,
        SealData,
        SignData,
        UseInput,
        WorkData,
    )
    from workflows.regulations.key_custody.people import ROLES
    from workflows.spec import (
        ActionSpec,
        ApprovalSpec,
        Breach,
        RecordSpec,
        Sign,
        TaskSpec,
        Tier,
        after,
        after_all,
        after_approval,
        at,
        check,
        on_breach,
    )

CODE = "key-custody"
_HEADS = ("role:property_dept_manager", "role:security_supervisor")

TASKS = (
    TaskSpec("seal_key", "封存托管钥匙：{key_no}（{room}）", "R7 2", "key_custodian",
             assignee="input.custodian", deadline="seal_due", outcomes={"key_sealed": SealData},
             record=RecordSpec("key_register", "《钥匙托管表》", ("key_sealed",)),
             signatures=(Sign("actor", "key_custodian"),)),
    TaskSpec("key_audit", "托管钥匙核对（第 {week} 周）：{key_no}", "R7 3", "key_assistant",
             deadline="audit_due", outcomes={"checked": AuditData},
             record=RecordSpec("key_audit", "托管钥匙核对记录", ("checked",)),
             breach=Breach(notify=_HEADS)),
    TaskSpec("key_incident", "托管钥匙封条异常：{key_no}（{problem}）", "R7 3",
             "property_dept_manager", deadline="incident_due",
             outcomes={"handled": IncidentData}),
    TaskSpec("key_collect", "领取托管钥匙并到现场开封：{key_no}（{room}）", "R7 5", "key_assistant",
             assignee="unit.assistant", outcomes={"opened": OpenData},
             signatures=(Sign("actor", "key_assistant"),)),
    TaskSpec("key_open_guard", "会同物业助理到现场开封：{key_no}（{room}）", "R7 5", "key_guard",
             assignee="unit.guard", outcomes={"opened": OpenData},
             signatures=(Sign("actor", "key_guard"),)),
    TaskSpec("entry_sign_security", "《使用客户托管钥匙入室登记表》保安部签字：{room}", "R7 7",
             "key_guard", assignee="unit.guard", outcomes={"sign_off": SignData}),
    TaskSpec("entry_sign_property", "《使用客户托管钥匙入室登记表》物业部签字：{room}", "R7 7",
             "key_assistant", assignee="unit.assistant", outcomes={"sign_off": SignData}),
    TaskSpec("entry_sign_lead", "《使用客户托管钥匙入室登记表》施工负责人签字：{room}", "R7 7",
             "key_work_lead", assignee="unit.work_lead", outcomes={"sign_off": SignData}),
    TaskSpec("key_work", "现场监护与物品登记：{room}（{work}）", "R7 6", "key_assistant",
             assignee="unit.assistant", outcomes={"done": WorkData},
             record=RecordSpec("key_items", "物品登记及摆放平面图")),
    TaskSpec("key_reseal", "共同封存并交回保安部钥匙箱：{key_no}", "R7 8", "key_guard",
             assignee="unit.guard", deadline="key_back_by", outcomes={"resealed": ResealData},
             record=RecordSpec("key_reseal", "《封存钥匙登记表》", ("resealed",)),
             signatures=(Sign("actor", "key_guard"),),
             breach=Breach(notify=_HEADS)),
    TaskSpec("key_reseal_confirm", "确认封条：{key_no}", "R7 8", "key_assistant",
             assignee="unit.assistant", outcomes={"confirmed": ConfirmSealData}),
    TaskSpec("key_return", "钥匙交还客户：{customer_name}（{room}）", "R7 1", "key_custodian",
             assignee="input.custodian", deadline="return_due", outcomes={"returned": ReturnData},
             record=RecordSpec("key_returned", "托管钥匙交还客户签收", ("returned",)),
             signatures=(Sign("actor", "key_custodian"),
                         Sign("customer", "customer", ("drawing", "otp")))),
)  # fmt: skip

_BOTH = Tier(None, ("property_dept_manager", "security_supervisor"))
ACCEPT = ApprovalSpec("key_accept", "key_accept_approval", "托管钥匙接收审批：{key_no}（{room}）",
                      "R7 2", tiers=(_BOTH,), mode="joint")  # fmt: skip
USE = ApprovalSpec("key_use", "key_use_approval", "《钥匙使用登记薄》审批：{key_no}（{work}）",
                   "R7 4", tiers=(_BOTH,), mode="joint")  # fmt: skip


@workflow.defn(name="zhidu.key-custody")
class KeyCustodyWorkflow(CaseWorkflow):
    REGULATION = CODE
    TITLE = "托管钥匙：{customer_name}（{room}，{key_no}）"
    INPUT = KeyCustodyInput
    POLICY = KeyCustodyPolicy
    VARS = KeyVars
    TASKS = TASKS
    APPROVALS = (ACCEPT, USE)
    ROLES = ROLES
    ROLE_HOLDERS = {"key_custodian": "input.custodian"}
    ACTIONS = (
        ActionSpec("request_use", UseInput, ("key_assistant", "property_dept_manager"), "update",
                   "登记使用托管钥匙", "Request a use of the key",
                   people={"assistant": "key_assistant", "guard": "key_guard",
                           "work_lead": "key_work_lead"}),
        ActionSpec("return_to_customer", ReturnInput, ("property_dept_manager", "key_custodian"),
                   "update", "钥匙交还客户", "Return the key to the customer"),
    )  # fmt: skip
    inp: KeyCustodyInput
    policy: KeyCustodyPolicy
    v: KeyVars

    @workflow.run
    async def run(self, start: CaseStart) -> str:
        return await self.run_case()

    # ---- 1–2: handed over, accepted by both heads, sealed by the custodian ----------------------

    def begin(self) -> None:
        self._custody("handed_over", "物业部", None)
        unit = self.open_unit("custody", f"托管钥匙：{self.inp.key_no}")
        rid = self.record("key_handover", "托管钥匙交接单", {
            **self.inp.model_dump(mode="json")}, created_by=self.started_by, clause="R7 2")  # fmt: skip
        self.request_approval("key_accept", unit, rid)

    def summarize(self) -> dict[str, Any]:
        return {"key_no": self.inp.key_no, "room": self.inp.room, "status": self.v.status,
                "seal_no": self.v.seal_no, "holder": self.v.holder, "uses": self.v.uses}  # fmt: skip

    def record_context(self, task: TaskState) -> dict[str, Any]:
        base = {"key_no": self.inp.key_no, "customer_name": self.inp.customer_name,
                "room": self.inp.room}  # fmt: skip
        if task.kind == "seal_key":
            return {**base, "custodian": self.inp.custodian, "reason": self.inp.reason,
                    "key_count": self.inp.key_count}  # fmt: skip
        if task.kind == "key_audit":
            return {**base, "seal_no": self.v.seal_no, "week": task.data.get("week")}
        unit = self.unit(task.unit)
        if unit is not None and unit.kind == "use":
            return {**base, "work": unit.data["work"], "old_seal_no": unit.data.get("seal_no")}
        if task.kind == "key_return":
            return {**base, "seal_no": self.v.seal_no}
        return base

    def _custody(self, action: str, holder: str, seal_no: str | None, **more: Any) -> None:
        """One step of the key's chain of custody."""
        self.v.holder = holder
        self.v.chain.append({"at": self.now.isoformat(), "action": action, "holder": holder,
                             "seal_no": seal_no, **more})  # fmt: skip

    @after_approval("key_accept")
    def _accepted(self, unit: UnitState, approved: bool, record_id: str) -> None:
        if not approved:
            self.close_unit(unit, "done", rejected=True)
            self._custody("not_accepted", self.inp.customer_name, None)
            self.finish("rejected", reason="物业部经理、保安主管未同时批准")
            return
        self.open("seal_key", unit)

    @after("seal_key")
    def _sealed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        assert unit is not None
        if task.status != "done":
            return
        data = self.given(SealData, task)
        self.v.status, self.v.seal_no = "held", data.seal_no
        self._custody("key_sealed", self.inp.custodian, data.seal_no, box_slot=data.box_slot)
        self.close_unit(unit)
        sealed_at = task.closed_at or self.now
        every = self.policy.audit_every
        self.recur("audit", Grid(sealed_at, every, every), "audit_week")

    # ---- 3: the weekly audit ----------------------------------------------------------------

    @at("audit_week")
    def _audit_week(self, info: dict[str, Any]) -> None:
        self.open("key_audit", data={"week": info["k"] + 1, "seal_no": self.v.seal_no})

    @after("key_audit")
    def _audited(self, task: TaskState) -> None:
        if task.status != "done":
            return
        data = self.given(AuditData, task)
        expected = task.data.get("seal_no")
        if not data.seal_intact or data.seal_no_seen != expected:
            problem = (
                "封条破损" if not data.seal_intact else f"封条 {data.seal_no_seen} ≠ {expected}"
            )
            self._incident(problem, task.closed_by)

    def _incident(self, problem: str, actor: str | None) -> None:
        self.event("seal_discrepancy", "R7 3", actor, problem=problem, seal_no=self.v.seal_no)
        for role in ("property_dept_manager", "security_supervisor"):
            self.open("key_incident", role=role, data={"problem": problem})

    # ---- 4–8: each use --------------------------------------------------------------------

    @workflow.update(name="request_use")
    def request_use(self, inp: UseInput) -> str:
        self.v.uses += 1
        unit = self.open_unit("use", f"使用托管钥匙：{inp.work}", work=inp.work,
                              assistant=inp.assistant, guard=inp.guard,
                              work_lead=inp.work_lead, seal_no=self.v.seal_no)  # fmt: skip
        rid = self.record("key_use_request", "《钥匙使用登记薄》", {
            "key_no": self.inp.key_no, "room": self.inp.room, "work": inp.work,
            "assistant": inp.assistant, "guard": inp.guard, "work_lead": inp.work_lead,
            "seal_no": self.v.seal_no}, created_by=inp.actor.id, clause="R7 4")  # fmt: skip
        self.request_approval("key_use", unit, rid)
        return unit.id

    @request_use.validator
    def _validate_use(self, inp: UseInput) -> None:
        self.check_action("request_use", inp.actor)
        if self.v.status != "held":
            raise refuse("Conflict", f"the key is not in the box ({self.v.status})",
                         "钥匙不在钥匙箱内，不能登记使用")  # fmt: skip
        if any(u.kind == "use" and u.status == "open" for u in self.s.units):
            raise refuse(
                "Conflict", "a use of this key is already open", "该钥匙已有一次使用在办理"
            )

    @after_approval("key_use")
    def _use_approved(self, unit: UnitState, approved: bool, record_id: str) -> None:
        if not approved:
            self.close_unit(unit, "done", rejected=True)
            return
        self.open("key_collect", unit)
        self.open("key_open_guard", unit)

    @after_all("key_collect", "key_open_guard")
    def _opened(self, unit: UnitState, closed: dict[str, Closed]) -> None:
        if not all(c.done for c in closed.values()):
            return
        self.v.status = "in_use"
        self._custody("collected", unit.data["assistant"], unit.data["seal_no"],
                      with_guard=unit.data["guard"])  # fmt: skip
        for c in closed.values():
            seen = c.data.get("seal_no_seen")
            if seen != unit.data["seal_no"]:
                self._incident(f"开封时封条 {seen} ≠ {unit.data['seal_no']}", None)
                break
        rid = self.record("entry_form", "《使用客户托管钥匙入室登记表》", {
            "key_no": self.inp.key_no, "room": self.inp.room, "work": unit.data["work"],
            "guard": unit.data["guard"], "assistant": unit.data["assistant"],
            "work_lead": unit.data["work_lead"]}, created_by=unit.data["guard"],
            clause="R7 7")  # fmt: skip
        unit.data["entry_record"] = rid
        for kind in ("entry_sign_security", "entry_sign_property", "entry_sign_lead"):
            self.open(kind, unit, data={"record_id": rid})
        self.open("key_work", unit)
        self.open("key_reseal", unit)  # 8: due the end of the day it was collected

    @after("entry_sign_security", "entry_sign_property", "entry_sign_lead")
    def _entry_signed(self, task: TaskState) -> None:
        if task.status == "done":
            self.sign(task.data["record_id"], signer=task.closed_by or "", role=task.role,
                      method="staff_login", clause="R7 7")  # fmt: skip

    @check("key_work")
    def _check_work(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        unit = self.unit(task.unit)
        missing = [self._book.zh(t.role or "") for t in self.s.tasks if unit is not None
                   and t.unit == unit.id and t.kind.startswith("entry_sign_")
                   and t.status != "done"]  # fmt: skip
        if missing:
            return (
                f"the entry form lacks signatures: {', '.join(missing)} (R7 7)",
                f"《使用客户托管钥匙入室登记表》缺少签字：{'、'.join(missing)}（R7 7）",
            )
        if isinstance(data, WorkData) and data.items_moved:
            if data.layout is None and not data.layout_drawing:
                return ("data.layout: moved items need a layout", "搬动物品须附物品摆放平面图")
            if not data.restored:
                return ("data.restored: put the items back first", "施工完毕须将物品恢复原位")
        return None

    @check("key_reseal")
    def _check_reseal(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        if self.open_tasks("key_work", self.unit(task.unit)):
            return ("the work is not reported done yet", "施工及物品恢复尚未确认，不能封存")
        if isinstance(data, ResealData) and data.new_seal_no == self.unit_seal(task):
            return ("data.new_seal_no: a new seal", "重新封存须使用新封条")
        return None

    def unit_seal(self, task: TaskState) -> str | None:
        unit = self.unit(task.unit)
        return unit.data.get("seal_no") if unit else None

    @after("key_reseal")
    def _resealed(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        unit.data["new_seal_no"] = self.given(ResealData, task).new_seal_no
        self.open("key_reseal_confirm", unit, data={"reseal_record": task.data.get("record_id")})

    @check("key_reseal_confirm")
    def _check_confirm(self, task: TaskState, outcome: str, data: Any) -> tuple[str, str] | None:
        unit = self.unit(task.unit)
        want = unit.data.get("new_seal_no") if unit else None
        if isinstance(data, ConfirmSealData) and data.seal_no != want:
            return (f"data.seal_no: the seal is {want}", f"封条编号与封存登记 {want} 不符")
        return None

    @after("key_reseal_confirm")
    def _back_in_box(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        if unit is None or task.status != "done":
            return
        if task.data.get("reseal_record"):
            self.sign(task.data["reseal_record"], signer=task.closed_by or "", role=task.role,
                      method="staff_login", clause="R7 8")  # fmt: skip
        self.v.status, self.v.seal_no = "held", unit.data["new_seal_no"]
        self._custody("resealed", self.inp.custodian, self.v.seal_no,
                      by=[unit.data["guard"], unit.data["assistant"]])  # fmt: skip
        self.close_unit(unit)

    @on_breach("key_reseal")
    def _not_back(self, task: TaskState) -> None:
        unit = self.unit(task.unit)
        self.record("key_not_returned", "钥匙逾期未交回记录", {
            "key_no": self.inp.key_no, "room": self.inp.room, "due_at": task.due_at,
            "assistant": unit.data["assistant"] if unit else None,
            "guard": unit.data["guard"] if unit else None}, created_by="system",
            clause="R7 8")  # fmt: skip

    # ---- the key back to the customer ------------------------------------------------------

    @workflow.update(name="return_to_customer")
    def return_to_customer(self, inp: ReturnInput) -> str:
        self.event("return_requested", "R7 1", inp.actor.id, note=inp.note)
        self.open("key_return")
        return "requested"

    @return_to_customer.validator
    def _validate_return(self, inp: ReturnInput) -> None:
        self.check_action("return_to_customer", inp.actor)
        if self.v.status != "held":
            raise refuse("Conflict", f"the key is not in the box ({self.v.status})",
                         "钥匙不在钥匙箱内，不能交还")  # fmt: skip
        if self.open_tasks("key_return"):
            raise refuse("Conflict", "the return is already asked", "已在办理交还")

    @after("key_return")
    def _returned(self, task: TaskState) -> None:
        if task.status != "done":
            return
        self.stop_recurring("audit")
        for t in self.open_tasks("key_audit"):
            self.cancel(t, "钥匙已交还客户")
        self.v.status = "returned"
        self._custody("returned", self.inp.customer_name, None)
        self.record("custody_chain", "《托管钥匙保管链》", {
            "key_no": self.inp.key_no, "customer_name": self.inp.customer_name,
            "room": self.inp.room, "custodian": self.inp.custodian, "steps": self.v.chain,
            "return_record": task.data.get("record_id")}, created_by=task.closed_by,
            clause="R7")  # fmt: skip
        self.finish("returned", actor=task.closed_by, reason="钥匙已交还客户")
