"""Approval chains (`ApprovalSpec`): `request_approval` opens the steps of the tier the
amount, volume or scope selects, sequential or joint; each approval signs the record; a
rejection or a lapse ends the chain; then the regulation's `@after_approval` handler runs."""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine.base import CaseBase
    from workflows.model import TaskState, UnitState
    from workflows.spec import ApprovalSpec


class ApprovalsMixin(CaseBase):
    """Approval chains (see the module docstring)."""

    def request_approval(
        self,
        key: str,
        unit: UnitState,
        record_id: str,
        *,
        measure: Decimal | int | None = None,
        scope: str | None = None,
    ) -> list[str]:
        """Open the approval chain `key` for a record; the tier is chosen by `scope` or by
        `measure` (an amount or a volume). Returns the approving roles in order."""
        spec = self._approvals[key]
        tier = next((t for t in spec.tiers if scope and scope in t.scopes), None)
        if tier is None:
            tier = next(
                t
                for t in spec.tiers
                if t.up_to is None or measure is None or Decimal(measure) <= self.amount(t.up_to)
            )
        roles = list(tier.roles)
        unit.data.setdefault("approvals", {})[key] = {
            "record_id": record_id,
            "roles": roles,
            "approved_by": [],
            "result": None,
        }
        self.event(
            "approval_requested", spec.clause, None, approval=key, record_id=record_id, roles=roles
        )
        for i, role in enumerate(roles if spec.mode == "joint" else roles[:1]):
            self._open_approval(spec, unit, role, i, record_id)
        return roles

    def _open_approval(
        self, spec: ApprovalSpec, unit: UnitState, role: str, step: int, record_id: str
    ) -> None:
        self.open(
            spec.task_kind,
            unit,
            role=role,
            title=f"{spec.title.format_map(self._format_fields(unit))}（{self._book.zh(role)}）",
            data={"approval": spec.key, "record_id": record_id, "step": step},
        )

    def _approval_step(self, task: TaskState) -> None:
        spec = self._approvals[task.data["approval"]]
        unit = self.unit(task.unit)
        assert unit is not None
        chain = unit.data["approvals"][spec.key]
        if chain["result"] is not None:
            return
        record_id = chain["record_id"]
        if task.status == "done" and task.outcome == "approve":
            self.sign(
                record_id,
                signer=task.closed_by or "",
                role=task.role,
                method="staff_login",
                clause=spec.clause,
            )
            chain["approved_by"].append(task.closed_by)
            self.event(
                f"{spec.key}_approved",
                spec.clause,
                task.closed_by,
                record_id=record_id,
                role=task.role,
            )
            if len(chain["approved_by"]) < len(chain["roles"]):
                if spec.mode == "sequential":
                    step = task.data["step"] + 1
                    self._open_approval(spec, unit, chain["roles"][step], step, record_id)
                return
            chain["result"] = "approved"
        else:
            chain["result"] = "rejected"
            reason = task.data.get("reason") or ("逾期未审批" if task.status == "lapsed" else "")
            self.event(
                f"{spec.key}_rejected",
                spec.clause,
                task.closed_by,
                record_id=record_id,
                role=task.role,
                reason=reason,
            )
            for other in self.open_tasks(spec.task_kind, unit):
                if other.data.get("approval") == spec.key:
                    self.cancel(other, "approval rejected")
        if "discipline" in unit.data:  # a sanction or reward this chain decided (discipline.py)
            self._discipline_decided(unit, spec.key, chain)
        self._handler("approval", spec.key)(self, unit, chain["result"] == "approved", record_id)
