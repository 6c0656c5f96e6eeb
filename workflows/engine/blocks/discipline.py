"""The discipline register (R5, R10): `propose_discipline` writes a proposal to sanction
(书面警告, 记过, 记大过, 降级, 开除) or reward (嘉奖, 记小功, 记大功, 奖金) a person or a
department, and opens an approval chain (`ApprovalSpec`) on it; only when the chain approves
is the entry written to the register (`zhidu.record_step`, once per key, in the step's
transaction), naming the party, the kind, the clause, the rule, the proposal and who approved
it. A bonus's money is booked in the ledger too (a reward, its account the entry). A rejected
proposal writes nothing; the chain's `@after_approval` handler runs after either way."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, get_args

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine.base import CaseBase
    from workflows.model import DisciplineKind, DisciplineWrite, UnitState, yuan

DISCIPLINE_KINDS: tuple[str, ...] = get_args(DisciplineKind)
DISCIPLINE_ZH = {
    "warning": "书面警告",
    "demerit": "记过",
    "major_demerit": "记大过",
    "demotion": "降级",
    "dismissal": "开除",
    "commendation": "嘉奖",
    "merit": "记小功",
    "major_merit": "记大功",
    "bonus": "奖金",
}


class DisciplineMixin(CaseBase):
    """Sanctions and rewards decided by an approval chain (see the module docstring)."""

    def propose_discipline(
        self,
        key: str,
        unit: UnitState,
        *,
        approval: str,
        party: str,
        kind: str,
        clause: str,
        rule: str,
        amount: Decimal | int | str = 0,
        party_kind: str = "person",
        proposed_by: str | None = None,
        scope: str | None = None,
    ) -> str:
        """Propose to sanction or reward `party` (`kind`: one of DISCIPLINE_KINDS) under
        `clause` for `rule`: writes the proposal (《奖惩审批表》, which each approver signs)
        and opens the approval chain `approval` on it in `unit` (one proposal per chain and
        unit at a time). The chain's tier is chosen by `scope` (default: the kind, so a
        dismissal can need a higher tier than a warning), else by the bonus's amount. The
        register's entry (key `<case id>/discipline/<key>`) is written when the chain approves.
        Returns the proposal's record id."""
        if kind not in DISCIPLINE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(DISCIPLINE_KINDS)}, not {kind!r}")
        value = yuan(Decimal(str(amount)))
        proposal: dict[str, Any] = {
            "party": party,
            "party_kind": party_kind,
            "kind": kind,
            "kind_zh": DISCIPLINE_ZH[kind],
            "clause": clause,
            "rule": rule,
            "amount_yuan": str(value),
        }
        rid = self.record(
            "discipline_proposal",
            "《奖惩审批表》",
            proposal,
            created_by=proposed_by,
            clause=clause,
        )
        unit.data.setdefault("discipline", {})[key] = {
            **proposal,
            "approval": approval,
            "record_id": rid,
            "proposed_by": proposed_by,
            "result": None,
        }
        self.event(
            "discipline_proposed", clause, proposed_by, key=key, party=party, kind=kind,
            record_id=rid,
        )  # fmt: skip
        self.request_approval(
            approval, unit, rid, measure=value if value else None, scope=scope or kind
        )
        return rid

    def _discipline_decided(self, unit: UnitState, approval: str, chain: dict[str, Any]) -> None:
        """An approval chain ended: the proposal it decided is written if it was approved."""
        for key, p in unit.data.get("discipline", {}).items():
            if p["approval"] != approval or p["record_id"] != chain["record_id"]:
                continue
            if p["result"] is not None:
                continue
            p["result"] = chain["result"]
            if chain["result"] == "approved":
                self._register(key, p, [str(a) for a in chain["approved_by"]])

    def _register(self, key: str, p: dict[str, Any], approved_by: list[str]) -> None:
        entry_id = f"{self.s.case_id}/discipline/{key}"
        if entry_id in self.s.discipline_ids:
            return
        self.s.discipline_ids.append(entry_id)
        amount = Decimal(p["amount_yuan"])
        self._p_discipline.append(
            DisciplineWrite(
                id=entry_id,
                clause=p["clause"],
                party=p["party"],
                party_kind=p["party_kind"],
                kind=p["kind"],
                rule=p["rule"],
                amount_yuan=amount,
                record_id=p["record_id"],
                proposed_by=p["proposed_by"],
                approved_by=approved_by,
                at=self.now,
            )
        )
        self.event(
            "discipline", p["clause"], None, party=p["party"], kind=p["kind"], rule=p["rule"],
            amount_yuan=str(amount), record_id=p["record_id"], approved_by=approved_by,
        )  # fmt: skip
        if p["kind"] == "bonus" and amount:
            self.book(
                f"discipline/{key}",
                clause=p["clause"],
                party=p["party"],
                amount=amount,
                rule=p["rule"],
                kind="reward",
                party_kind=p["party_kind"],
                account=entry_id,
            )
