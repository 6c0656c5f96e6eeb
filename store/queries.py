"""The read queries the API, the CLI and the web pages share. The database is the read model:
the workflows write every step to it, and people read from it, never by querying a workflow
(see starter/cases.py for why a query of a workflow is kept out of everyday paths).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, exists, func, literal, or_, select

from store.db import SessionFactory
from store.models import (
    Case,
    DisciplineEntry,
    Event,
    LedgerEntry,
    Record,
    Signature,
    Task,
    User,
)
from workflows.model import CHINA_TZ


class NoSuchCase(LookupError):
    """The case is not in the database."""


_UTC_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|\+00:00)$")


def jsonable(value: Any) -> Any:
    """Plain JSON values: pydantic models dumped, datetimes ISO 8601 in China time (also those
    that arrive as UTC strings, e.g. in a workflow's answer), decimals as strings."""
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump())
    if isinstance(value, str):
        if _UTC_STAMP.match(value):
            return jsonable(datetime.fromisoformat(value))
        return value
    if isinstance(value, datetime):
        # One style everywhere: ISO 8601 in China time (+08:00).
        return (
            (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(CHINA_TZ).isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


async def unfit_person(
    session_factory: SessionFactory, people: Mapping[str, str], values: Any
) -> tuple[str, str, str] | None:
    """The first person a case or an action names who is not an active user holding the role
    (`people`: field -> role code; `values`: a model or a mapping; None values are not
    checked): (field, user id, role), or None when everyone fits."""
    wanted: list[tuple[str, str, str]] = []
    for name, role in people.items():
        value = values.get(name) if isinstance(values, Mapping) else getattr(values, name, None)
        if value is not None:
            wanted.append((name, str(value), role))
    if not wanted:
        return None
    async with session_factory() as session:
        found = (
            await session.scalars(select(User).where(User.id.in_({uid for _, uid, _ in wanted})))
        ).all()
    by_id = {u.id: u for u in found}
    for name, uid, role in wanted:
        user = by_id.get(uid)
        if user is None or not user.active or role not in (user.roles or []):
            return name, uid, role
    return None


def row_dict(obj: Any) -> dict[str, Any]:
    """A mapped row as plain JSON values (columns only)."""
    return {c.key: jsonable(getattr(obj, c.key)) for c in obj.__table__.columns}


# 'open' written into the SQL text, not sent as a parameter: a prepared statement's generic
# plan can then still use the partial indexes `WHERE status = 'open'` (migration 0005).
OPEN = literal("open", literal_execute=True)


def open_for(user: User) -> Any:
    """SQL for "open tasks this user may complete": of one of their roles, and either
    unassigned or assigned to them; or their own (no role, named) whatever their roles
    (workflows.authority.may_act, as SQL)."""
    roles = list(user.roles or [])
    return and_(
        Task.status == OPEN,
        or_(
            and_(
                Task.role.in_(roles),
                or_(Task.assignee.is_(None), Task.assignee == user.id),
            ),
            and_(Task.role == "", Task.assignee == user.id),
        ),
    )


async def my_tasks(session_factory: SessionFactory, user: User) -> list[dict[str, Any]]:
    stmt = (
        select(Task)
        .where(open_for(user))
        .order_by(Task.due_at.asc().nulls_last(), Task.created_at, Task.id)
    )
    async with session_factory() as session:
        rows = (await session.scalars(stmt)).all()
    return [row_dict(t) for t in rows]


# The columns of a task the work list shows (not `data` nor `meta`).
WORK_COLUMNS = (
    Task.id,
    Task.case_id,
    Task.regulation,
    Task.role,
    Task.assignee,
    Task.title,
    Task.clause,
    Task.kind,
    Task.due_at,
    Task.remind_at,
    Task.paused_at,
    Task.provisional,
    Task.created_at,
    Task.data,  # what tells two tasks of one title apart (a visit's time, its reason)
)


async def work_list(session_factory: SessionFactory, user: User) -> list[dict[str, Any]]:
    """`my_tasks` for the work page: the columns it shows (WORK_COLUMNS), times as datetimes."""
    stmt = (
        select(*WORK_COLUMNS)
        .where(open_for(user))
        .order_by(Task.due_at.asc().nulls_last(), Task.created_at, Task.id)
    )
    async with session_factory() as session:
        return [dict(row) for row in (await session.execute(stmt)).mappings()]


async def list_cases(
    session_factory: SessionFactory,
    regulation: str | None = None,
    status: str | None = None,
    customer_id: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    stmt = select(Case)
    if regulation:
        stmt = stmt.where(Case.regulation == regulation)
    if status:
        stmt = stmt.where(Case.status == status)
    if customer_id:
        stmt = stmt.where(Case.customer_id == customer_id)
    stmt = stmt.order_by(Case.started_at.desc(), Case.id).limit(limit)
    async with session_factory() as session:
        rows = (await session.scalars(stmt)).all()
    return [row_dict(c) for c in rows]


async def case_row(session_factory: SessionFactory, case_id: str) -> Case:
    async with session_factory() as session:
        case = await session.get(Case, case_id)
    if case is None:
        raise NoSuchCase(case_id)
    return case


async def case_tasks(session_factory: SessionFactory, case_id: str) -> list[Task]:
    async with session_factory() as session:
        return list(
            (
                await session.scalars(
                    select(Task).where(Task.case_id == case_id).order_by(Task.created_at, Task.id)
                )
            ).all()
        )


async def _of_case(
    session_factory: SessionFactory, case_id: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A case's rows; only an empty answer asks whether the case exists (NoSuchCase if not),
    so a case page does not read the case row once per list."""
    if not rows:
        await case_row(session_factory, case_id)
    return rows


async def task_row(session_factory: SessionFactory, task_id: str) -> Task | None:
    async with session_factory() as session:
        return await session.get(Task, task_id)


async def case_timeline(
    session_factory: SessionFactory, case_id: str, newest: int | None = None
) -> list[dict[str, Any]]:
    """The append-only event timeline, oldest first; with `newest`, only that many of the
    newest events (still oldest first)."""
    stmt = select(Event).where(Event.case_id == case_id)
    if newest is None:
        stmt = stmt.order_by(Event.seq)
    else:
        stmt = stmt.order_by(Event.seq.desc()).limit(max(0, newest))
    async with session_factory() as session:
        rows = [row_dict(e) for e in (await session.scalars(stmt)).all()]
    return await _of_case(session_factory, case_id, rows if newest is None else rows[::-1])


async def count_events(session_factory: SessionFactory, case_id: str) -> int:
    async with session_factory() as session:
        stmt = select(func.count()).select_from(Event).where(Event.case_id == case_id)
        return int(await session.scalar(stmt) or 0)


async def case_records(session_factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    """The case's named records, each with its signatures (id, signer, role, method, time), so
    a signature can be verified later by its id."""
    async with session_factory() as session:
        rows = (
            await session.scalars(
                select(Record)
                .where(Record.case_id == case_id)
                .order_by(Record.created_at, Record.id)
            )
        ).all()
        sigs = (
            await session.scalars(
                select(Signature)
                .where(Signature.case_id == case_id)
                .order_by(Signature.signed_at, Signature.id)
            )
        ).all()
    by_record: dict[str, list[dict[str, Any]]] = {}
    for sig in sigs:
        by_record.setdefault(sig.record_id, []).append(
            {
                k: jsonable(getattr(sig, k))
                for k in ("id", "signer", "role", "method", "signed_at", "evidence_sha256")
            }
        )
    out = [{**row_dict(r), "signatures": by_record.get(r.id, [])} for r in rows]
    return await _of_case(session_factory, case_id, out)


async def case_ledger(session_factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    async with session_factory() as session:
        rows = (
            await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.case_id == case_id)
                .order_by(LedgerEntry.at, LedgerEntry.id)
            )
        ).all()
    return await _of_case(session_factory, case_id, [row_dict(p) for p in rows])


async def case_discipline(session_factory: SessionFactory, case_id: str) -> list[dict[str, Any]]:
    """The case's entries of the discipline register (sanctions and rewards), oldest first."""
    async with session_factory() as session:
        rows = (
            await session.scalars(
                select(DisciplineEntry)
                .where(DisciplineEntry.case_id == case_id)
                .order_by(DisciplineEntry.at, DisciplineEntry.id)
            )
        ).all()
    return await _of_case(session_factory, case_id, [row_dict(e) for e in rows])


async def provisional_case_ids(session_factory: SessionFactory) -> list[str]:
    """Cases with an open task whose due date is provisional (calendar year not yet loaded)."""
    stmt = (
        select(Task.case_id)
        .where(Task.provisional.is_(True), Task.status == "open")
        .distinct()
        .order_by(Task.case_id)
    )
    async with session_factory() as session:
        return list((await session.scalars(stmt)).all())


# ---- the web pages' reads (cases search, outbox) ----------------------------------------------


def _open_overdue(now: datetime) -> Any:
    """SQL for "an open task past its due whose clock runs" (a paused clock is not overdue)."""
    return and_(
        Task.status == OPEN, Task.due_at.is_not(None), Task.due_at < now, Task.paused_at.is_(None)
    )


# The columns of a case the cases list shows (not `input` nor `policy`: a few kilobytes each).
CASE_LIST_COLUMNS = (
    Case.id,
    Case.number,
    Case.regulation,
    Case.title,
    Case.customer_id,
    Case.status,
    Case.provisional,
    Case.started_by,
    Case.started_at,
    Case.updated_at,
    Case.closed_at,
    Case.attention,
)


async def search_cases(
    session_factory: SessionFactory,
    *,
    regulation: str | None = None,
    status: str | None = None,
    customer: str | None = None,
    role: str | None = None,
    overdue: bool = False,
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of cases, newest first, and how many match in all. `customer` matches the
    customer id exactly or a part of the case title; `role`: cases with an open task of that
    role; `overdue`: cases with an open task past its due. Each row carries the list's columns
    (CASE_LIST_COLUMNS, times as datetimes), `customer_name`, `next_due` (the soonest due of
    its open tasks, a datetime or None) and `overdue` (whether any open task is past due).

    The page is cut first (`ORDER BY started_at DESC, id` read from ix_cases_started_at_id),
    then `next_due` and `overdue` are computed for its rows only; the total is its own count."""
    now = now or datetime.now(UTC)
    conds: list[Any] = []
    if regulation:
        conds.append(Case.regulation == regulation)
    if status:
        conds.append(Case.status == status)
    if customer:
        pattern = "%" + customer.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(or_(Case.customer_id == customer, Case.title.ilike(pattern, escape="\\")))
    if role:
        conds.append(
            exists().where(Task.case_id == Case.id, Task.status == OPEN, Task.role == role)
        )
    if overdue:
        conds.append(exists().where(Task.case_id == Case.id, _open_overdue(now)))
    per_page = max(1, min(per_page, 200))
    page = max(1, page)
    cut = (
        select(*CASE_LIST_COLUMNS, Case.input["customer_name"].astext.label("customer_name"))
        .where(*conds)
        .order_by(Case.started_at.desc(), Case.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page")
    )
    next_due = (
        select(func.min(Task.due_at))
        .where(Task.case_id == cut.c.id, Task.status == OPEN)
        .scalar_subquery()
    )
    late = exists().where(Task.case_id == cut.c.id, _open_overdue(now))
    stmt = select(cut, next_due.label("next_due"), late.label("overdue")).order_by(
        cut.c.started_at.desc(), cut.c.id
    )
    async with session_factory() as session:
        rows = (await session.execute(stmt)).mappings().all()
        total = int(await session.scalar(select(func.count()).select_from(Case).where(*conds)) or 0)
    return [{**row, "overdue": bool(row["overdue"])} for row in rows], total


async def recent_notifications(
    session_factory: SessionFactory, limit: int = 30
) -> list[dict[str, Any]]:
    """The newest outbox rows (for the administrator), without their bodies: a body may carry
    a one-time code."""
    from store.models import Notification

    stmt = select(Notification).order_by(Notification.id.desc()).limit(max(1, min(limit, 500)))
    async with session_factory() as session:
        rows = (await session.scalars(stmt)).all()
    return [{k: v for k, v in row_dict(n).items() if k != "body"} for n in rows]


async def unit_titles(session_factory: SessionFactory, case_id: str) -> dict[str, str]:
    """The titles of a case's units of work (a visit, a claim) by id, from their timeline."""
    stmt = select(Event.detail).where(Event.case_id == case_id, Event.kind == "unit_opened")
    async with session_factory() as session:
        details = (await session.scalars(stmt)).all()
    return {str(d.get("unit")): str(d.get("title") or "") for d in details if d and d.get("unit")}
