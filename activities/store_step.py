"""The one activity that persists a workflow step: cases, events, tasks, records, signatures,
the ledger, the discipline register and outbox notifications, in one transaction.

Idempotent: every row has a natural key and is written with INSERT ... ON CONFLICT, so a retried
activity (same payload) leaves exactly the rows of one successful call and notifies once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify import parse_channels
from activities.signing import (
    SCHEME,
    Sealer,
    canonical_json,
    record_digest,
    signature_payload,
    stored_record_digest,
)
from store import models
from store.db import SessionFactory
from store.queries import unfit_person
from workflows.model import CONTROL, SYSTEM_ACTOR_ID, CaseWrite, StepChanges, TaskState
from workflows.registry import RegulationEntry
from workflows.regulations import registry_or_default


def json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON value exactly as it will be stored and hashed (dates become strings)."""
    result: dict[str, Any] = json.loads(canonical_json(data))
    return result


def _insert_new(model: Any, *keys: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on the table itself (Core, not the ORM): built once,
    so SQLAlchemy compiles it once, and run with a list of rows (one executemany)."""
    return insert(model.__table__).on_conflict_do_nothing(index_elements=list(keys))


def _upsert_newer(model: Any, update: Sequence[str], **extra: Any) -> Any:
    """INSERT ... ON CONFLICT (id) DO UPDATE the `update` columns (plus `extra`) where the
    stored version is not newer: steps may be persisted concurrently, an older snapshot never
    wins."""
    table = model.__table__
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={**{name: stmt.excluded[name] for name in update}, **extra},
        where=table.c.version <= stmt.excluded.version,
    )


INSERT_EVENTS = _insert_new(models.Event, "case_id", "seq")
INSERT_RECORDS = _insert_new(models.Record, "id")
INSERT_SIGNATURES = _insert_new(models.Signature, "id")
INSERT_LEDGER = _insert_new(models.LedgerEntry, "id")
INSERT_DISCIPLINE = _insert_new(models.DisciplineEntry, "id")
INSERT_NOTIFICATIONS = _insert_new(models.Notification, "key")
INSERT_EXTENSIONS = _insert_new(models.TaskExtension, "task_id", "seq")
# Everything else of a case (its start, input and policy) stays as first written.
UPSERT_CASE = _upsert_newer(
    models.Case,
    ("status", "provisional", "closed_at", "version", "summary", "attention"),
    updated_at=func.now(),
)
# A task row carries every column (see _upsert_tasks); all but its keys follow the newest step.
TASK_COLUMNS = tuple(c.name for c in models.Task.__table__.columns)
UPSERT_TASKS = _upsert_newer(models.Task, [c for c in TASK_COLUMNS if c not in ("id", "case_id")])


class CaseStore:
    """Writes workflow steps to PostgreSQL. One instance per worker; methods are activities."""

    def __init__(
        self,
        session_factory: SessionFactory,
        sealer: Sealer,
        channels: Sequence[str] | str | None = None,
        registry: Mapping[str, RegulationEntry] | None = None,
    ) -> None:
        self._sf = session_factory
        self._sealer = sealer
        self._registry = registry_or_default(registry)
        if channels is None:
            from settings import get_settings

            channels = get_settings().notify_channels
        # Outbox channels each notification is queued on (one row per channel).
        self.channels: list[str] = (
            parse_channels(channels) if isinstance(channels, str) else list(channels)
        )

    @activity.defn(name="zhidu.record_step")
    async def record_step(self, changes: StepChanges) -> dict[str, Any]:
        """Write the step. A database that does not answer is retried (with backoff, for as
        long as it takes); data the database refuses is not: the step is written once more with
        its text repaired (control characters removed, over-long values cut) and the repairs
        are returned, so the case can be marked for attention. If even that is refused, the
        failure is final (BadData) and the case is told.

        The first step of a case (it carries the input) is written only if the people the
        start names are active users holding their roles and whoever started it may start the
        regulation (or is the system); otherwise nothing is written and the refusal is returned
        (`refused_start`): the workflow then fails, leaving no trace."""
        if changes.case.input is not None:
            why = await self._start_refusal(changes.case)
            if why is not None:
                return {"refused_start": why}
        try:
            async with self._sf() as session, session.begin():
                await self._write(session, changes)
            return {}
        except DBAPIError as exc:
            if not _refuses_data(exc):
                raise  # the database does not answer: retried
            refused = _sqlstate(exc)
        fixed, repairs = repaired(changes)
        try:
            async with self._sf() as session, session.begin():
                await self._write(session, fixed)
        except DBAPIError as exc:
            if not _refuses_data(exc):
                raise
            raise ApplicationError(
                f"the database refused this step's data ({_sqlstate(exc)})",
                type="BadData",
                non_retryable=True,
            ) from None
        return {"refused": refused, "repairs": repairs}

    async def _start_refusal(self, case: CaseWrite) -> str | None:
        """Why a case's start names someone it may not, or None (checked again here, whatever
        the starter checked: a start can reach Temporal by other routes)."""
        entry = self._registry.get(case.regulation)
        if entry is None:
            return None
        bad = await unfit_person(self._sf, entry.people, case.input or {})
        if bad is not None:
            return f"{bad[0]}: no active user {bad[1]!r} with the role {bad[2]}"
        who = case.started_by
        if who is None or who == SYSTEM_ACTOR_ID:
            return None
        async with self._sf() as s:
            user = await s.get(models.User, who)
        roles = set(user.roles or []) if user is not None and user.active else None
        if roles is None or (entry.start_roles and not roles & set(entry.start_roles)):
            return f"started_by: {who!r} may not start {entry.code}"
        return None

    async def _write(self, s: AsyncSession, changes: StepChanges) -> None:
        case = changes.case
        await self._upsert_case(s, case)
        if changes.events:
            events = [
                {
                    "case_id": case.id,
                    "seq": e.seq,
                    "at": e.at,
                    "kind": e.kind,
                    "actor": e.actor,
                    "clause": e.clause,
                    "detail": json_safe(e.detail),
                }
                for e in changes.events
            ]
            await s.execute(INSERT_EVENTS, events)
        if changes.tasks:
            await self._upsert_tasks(s, case, changes.tasks)
        if changes.records:
            rows = []
            for r in changes.records:
                row = {
                    "id": r.id,
                    "case_id": case.id,
                    "regulation": case.regulation,
                    "kind": r.kind,
                    "title": r.title,
                    "customer_id": case.customer_id,
                    "category": r.category,
                    "data": json_safe(r.data),
                    "created_by": r.created_by,
                    "created_at": r.created_at,
                }
                rows.append({**row, "sha256": record_digest(row)})
            await s.execute(INSERT_RECORDS, rows)
        if changes.signatures:
            await self._insert_signatures(s, changes)
        if changes.ledger:
            ledger = [
                {
                    "id": e.id,
                    "case_id": case.id,
                    "regulation": case.regulation,
                    "clause": e.clause,
                    "party": e.party,
                    "party_kind": e.party_kind,
                    "amount_yuan": e.amount_yuan,
                    "kind": e.kind,
                    "rule": e.rule,
                    "account": e.account,
                    "at": e.at,
                }
                for e in changes.ledger
            ]
            await s.execute(INSERT_LEDGER, ledger)
        if changes.discipline:
            entries = [
                {
                    "id": e.id,
                    "case_id": case.id,
                    "regulation": case.regulation,
                    "clause": e.clause,
                    "party": e.party,
                    "party_kind": e.party_kind,
                    "kind": e.kind,
                    "rule": e.rule,
                    "amount_yuan": e.amount_yuan,
                    "record_id": e.record_id,
                    "proposed_by": e.proposed_by,
                    "approved_by": e.approved_by,
                    "at": e.at,
                }
                for e in changes.discipline
            ]
            await s.execute(INSERT_DISCIPLINE, entries)
        notes = [
            {
                "key": f"{n.key}:{channel}",
                "case_id": case.id,
                "channel": channel,
                "recipient": n.recipient,
                "subject": n.subject[:300],
                "body": n.body,
                "status": "pending",
                "attempts": 0,
            }
            for n in changes.notifications
            for channel in self.channels
        ]
        if notes:
            await s.execute(INSERT_NOTIFICATIONS, notes)

    async def _upsert_case(self, s: AsyncSession, case: CaseWrite) -> None:
        row = {
            "id": case.id,
            "regulation": case.regulation,
            "title": case.title,
            "number": case.number,
            "customer_id": case.customer_id,
            "status": case.status,
            "provisional": case.provisional,
            "started_by": case.started_by,
            "closed_at": case.closed_at,
            "version": case.version,
            "summary": json_safe(case.summary),
            "attention": case.attention,
            # The first write of a case carries its input and policy; later ones do not.
            "input": json_safe(case.input or {}),
            "policy": json_safe(case.policy or {}),
        }
        await s.execute(UPSERT_CASE, [row])

    async def _upsert_tasks(self, s: AsyncSession, case: CaseWrite, tasks: list[TaskState]) -> None:
        """Every task of the step in one statement (and their extensions in one more)."""
        rows = [
            {
                "id": t.id,
                "case_id": case.id,
                "regulation": case.regulation,
                "role": t.role,
                "assignee": t.assignee,
                "title": t.title,
                "clause": t.clause,
                "kind": t.kind,
                "status": t.status,
                "unit": t.unit,
                "due_at": t.due_at,
                "remind_at": t.remind_at,
                "lapse_at": t.lapse_at,
                "paused_at": t.paused_at,
                "provisional": t.provisional,
                "outcome": t.outcome,
                "data": json_safe(t.data),
                "meta": json_safe(
                    {
                        "outcomes": t.outcomes,
                        "signatures": [r.model_dump(mode="json") for r in t.signatures],
                        "extend_limits": t.extend_limits,
                        "pausable_by": t.pausable_by,
                        "extensions": len(t.extensions),
                    }
                ),
                "created_at": t.created_at,
                "closed_at": t.closed_at,
                "closed_by": t.closed_by,
                "breached_at": t.breached_at,
                "version": t.version,
            }
            for t in tasks
        ]
        assert set(rows[0]) == set(TASK_COLUMNS), "a task row must carry every column"
        await s.execute(UPSERT_TASKS, rows)
        extensions = [
            {
                "task_id": t.id,
                "seq": x.seq,
                "case_id": case.id,
                "granted_by": x.granted_by,
                "granted_role": x.granted_role,
                "reason": x.reason,
                "old_due": x.old_due,
                "new_due": x.new_due,
                "at": x.at,
            }
            for t in tasks
            for x in t.extensions
        ]
        if extensions:
            await s.execute(INSERT_EXTENSIONS, extensions)

    async def _insert_signatures(self, s: AsyncSession, changes: StepChanges) -> None:
        record_ids = {sig.record_id for sig in changes.signatures}
        stored = await _record_digests(s, changes.case.id, record_ids)
        rows = []
        for sig in changes.signatures:
            if not sig.record_id.startswith(f"{changes.case.id}/"):
                # A case signs only its own records (ids are '<case id>/<kind>/<n>').
                raise ApplicationError(
                    f"signature {sig.id} refers to record {sig.record_id} of another case",
                    type="ForeignRecord",
                    non_retryable=True,
                )
            if sig.record_id not in stored:
                # Steps of one case are written concurrently: the step carrying the record may
                # still be in flight, so retry (with backoff) until it has landed.
                raise ApplicationError(
                    f"signature {sig.id} refers to record {sig.record_id}, not stored yet",
                    type="UnknownRecord",
                    non_retryable=False,
                )
            row = {
                "id": sig.id,
                "case_id": changes.case.id,
                "record_id": sig.record_id,
                "signer": sig.signer,
                "role": sig.role,
                "method": sig.method,
                "signed_at": sig.signed_at,
                "record_sha256": stored[sig.record_id],
                "evidence_sha256": sig.evidence_sha256,
                "scheme": SCHEME,
            }
            seal = self._sealer.seal(signature_payload(row))
            rows.append({**row, "seal": seal, "public_key": self._sealer.public_key_b64})
        await s.execute(INSERT_SIGNATURES, rows)


def _code(exc: DBAPIError) -> str:
    orig = exc.orig
    return str(
        getattr(orig, "sqlstate", None)
        or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
        or ""
    )


def _refuses_data(exc: DBAPIError) -> bool:
    """SQLSTATE class 22, "data exception": NUL in text, a value too long or out of range."""
    return _code(exc).startswith("22")


def _sqlstate(exc: DBAPIError) -> str:
    """The PostgreSQL error code and class name only: never the values (customer data)."""
    orig = exc.orig
    return f"{type(getattr(orig, '__cause__', None) or orig).__name__} {_code(exc)}".strip()


# The table each part of a step is written to (a task's extensions have their own).
_TABLES = {
    "case": "cases", "events": "events", "tasks": "tasks", "extensions": "task_extensions",
    "notifications": "notifications", "records": "records", "signatures": "signatures",
    "ledger": "ledger", "discipline": "discipline",
}  # fmt: skip
# The width of every bounded text column, per table, as store.models declares it.
_WIDTHS: dict[str, dict[str, int]] = {
    table.name: {
        c.name: c.type.length
        for c in table.columns
        if isinstance(c.type, String) and c.type.length is not None
    }
    for table in models.Base.metadata.tables.values()
}


def repaired(changes: StepChanges) -> tuple[StepChanges, list[str]]:
    """The step with every string storable (control characters removed everywhere; a column's
    value cut to that column's width), and where it was changed."""
    repairs: list[str] = []

    def fix(value: Any, path: str, key: str | None, table: str | None) -> Any:
        if isinstance(value, str):
            clean = CONTROL.sub("", value)
            width = _WIDTHS.get(table or "", {}).get(key or "")
            if width is not None and len(clean) > width:
                clean = clean[:width]
            if clean != value:
                repairs.append(path)
            return clean
        if isinstance(value, dict):  # a row of `table`; what nests in it is JSON, or a table
            return {
                fix(k, path, None, None): fix(
                    v, f"{path}.{k}", str(k),
                    table if isinstance(v, str) else _TABLES.get(str(k)),
                )
                for k, v in value.items()
            }  # fmt: skip
        if isinstance(value, list):  # rows of `table` (or JSON when `table` is None)
            return [fix(v, f"{path}[{i}]", key, table) for i, v in enumerate(value)]
        return value

    data = fix(changes.model_dump(mode="json"), "step", None, None)
    return StepChanges.model_validate(data), repairs[:50]


async def _record_digests(s: AsyncSession, case_id: str, ids: Iterable[str]) -> dict[str, str]:
    """Record id -> the digest of the whole record as stored (what a signature seals)."""
    result = await s.scalars(
        select(models.Record).where(
            models.Record.case_id == case_id, models.Record.id.in_(list(ids))
        )
    )
    return {r.id: stored_record_digest(r) for r in result}
