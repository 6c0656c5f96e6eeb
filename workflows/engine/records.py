"""What a case writes: its timeline, notifications, records, signatures and ledger rows
(`book`, `split`: once per key), its status and an administrator's attention, and `finish`."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.engine.base import CaseBase
    from workflows.model import (
        EventState,
        LedgerWrite,
        NotificationWrite,
        RecordWrite,
        SignatureWrite,
        yuan,
    )
    from workflows.search import CASE_STATUS

CLOSED = ("closed", "done", "cancelled")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RecordsMixin(CaseBase):
    """The timeline, records, signatures, ledger and status of a case (see the module docstring)."""

    def event(
        self, kind: str, clause: str | None, actor: str | None = None, /, **detail: Any
    ) -> None:
        self.s.event_seq += 1
        ev = EventState(
            seq=self.s.event_seq, at=self.now, kind=kind, actor=actor, clause=clause, detail=detail
        )
        self.events.append(ev)
        self._p_events.append(ev)
        self._case_dirty = True

    def notify(self, key: str, recipient: str, subject: str, body: str) -> None:
        prefix = f"{self.s.case_id}/"
        self._p_notes.append(
            NotificationWrite(
                key=key if key.startswith(prefix) else prefix + key,
                recipient=recipient,
                subject=subject,
                body=body,
            )
        )

    def record(
        self,
        kind: str,
        title: str,
        data: dict[str, Any],
        *,
        created_by: str | None,
        category: str | None = None,
        clause: str | None = None,
    ) -> str:
        self.s.record_seq += 1
        record_id = f"{self.s.case_id}/{kind}/{self.s.record_seq}"
        self._p_records.append(
            RecordWrite(
                id=record_id,
                kind=kind,
                title=title,
                category=category,
                data=data,
                created_by=created_by,
                created_at=self.now,
            )
        )
        self.event("record", clause, created_by, record_id=record_id, kind=kind, title=title)
        return record_id

    def sign(
        self,
        record_id: str,
        *,
        signer: str,
        role: str,
        method: str,
        evidence: str | None = None,
        clause: str | None = None,
    ) -> str:
        self.s.signature_seq += 1
        sig_id = f"{record_id}/sig/{self.s.signature_seq}"
        self._p_sigs.append(
            SignatureWrite(
                id=sig_id,
                record_id=record_id,
                signer=signer,
                role=role,
                method=method,  # type: ignore[arg-type]
                signed_at=self.now,
                evidence_sha256=sha256_text(evidence) if evidence else None,
            )
        )
        self.event("signed", clause, signer, record_id=record_id, signature_id=sig_id, role=role)
        return sig_id

    def book(
        self,
        key: str,
        *,
        clause: str,
        party: str,
        amount: Decimal | int | str = 0,
        rule: str,
        kind: str = "fine",
        party_kind: str = "person",
        account: str | None = None,
    ) -> bool:
        """Book a ledger row once per `key`; False if it was booked before."""
        entry_id = f"{self.s.case_id}/ledger/{key}"
        if entry_id in self.s.ledger_ids:
            return False
        self.s.ledger_ids.append(entry_id)
        value = yuan(Decimal(str(amount)))
        self._p_ledger.append(
            LedgerWrite(
                id=entry_id,
                clause=clause,
                party=party,
                party_kind=party_kind,  # type: ignore[arg-type]
                amount_yuan=value,
                kind=kind,  # type: ignore[arg-type]
                rule=rule,
                account=account,
                at=self.now,
            )
        )
        self.event(
            "ledger",
            clause,
            None,
            party=party,
            amount_yuan=str(value),
            rule=rule,
            kind=kind,
            account=account,
        )
        return True

    def split(
        self,
        key: str,
        total: Decimal,
        shares: list[tuple[str, Decimal]],
        *,
        clause: str,
        rule: str,
        kind: str = "commission",
    ) -> list[Decimal]:
        """Book `total` split by `shares` (ratios summing to 1); the amounts are rounded to the
        fen and the last share takes the remainder, so they add up to the total exactly."""
        if sum(r for _, r in shares) != Decimal(1):
            raise ValueError("shares must add up to 1")
        total = yuan(total)
        amounts = [yuan(total * r) for _, r in shares[:-1]]
        amounts.append(total - sum(amounts, Decimal(0)))
        for (party, ratio), amt in zip(shares, amounts, strict=True):
            self.book(
                f"{key}/{party}",
                clause=clause,
                party=party,
                amount=amt,
                rule=f"{rule}（{ratio * 100:g}%）",
                kind=kind,
                account=key,
            )
        return amounts

    def set_status(self, status: str) -> None:
        if status == self.s.status:
            return
        self.s.status = status
        if status in CLOSED and self.s.closed_at is None:
            self.s.closed_at = self.now
        self.event("status", None, None, status=status)
        # Only cases started with search attributes (the starter sets them) upsert them.
        if workflow.info().typed_search_attributes.get(CASE_STATUS) is not None:
            workflow.upsert_search_attributes([CASE_STATUS.value_set(status)])

    def needs_attention(self, reason: str) -> None:
        """Mark the case for an administrator (status `attention` in the Temporal console,
        the reason on the case, a timeline event, a notification); the case goes on."""
        self.s.attention = reason
        self.event("attention", None, None, reason=reason)
        self.notify(
            f"attention/{self.s.event_seq}",
            "role:admin",
            f"【需处理】{self.title}",
            f"{reason}\n案件：{self.s.case_id}",
        )
        if workflow.info().typed_search_attributes.get(CASE_STATUS) is not None:
            workflow.upsert_search_attributes([CASE_STATUS.value_set("attention")])

    def finish(self, status: str = "closed", *, actor: str | None = None, reason: str = "") -> None:
        """Close the case: open tasks are cancelled, wake-ups dropped; pending jobs end first."""
        if self._finished:
            return
        for t in self.open_tasks():
            self.cancel(t, reason or status, actor)
        for u in self.s.units:
            if u.status == "open":
                self.close_unit(u, "cancelled")
        self.s.wakeups.clear()
        self._finished = status
        self.set_status(status)
        self._wake = True
