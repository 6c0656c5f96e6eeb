"""Report queries over many cases, run by a workflow's report step (`zhidu.report`).

A report reads the database and returns figures; the workflow that asked writes them as a
record and notifies people. Reads only: a retry returns the same figures for a closed period.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from store import models
from store.db import SessionFactory


class ReportRequest(BaseModel):
    report: str = Field(min_length=1, max_length=64)
    regulation: str | None = Field(None, max_length=50)
    period_start: datetime
    period_end: datetime
    # record_statistics: the data fields (numbers) summed per record kind
    sum_fields: list[str] = Field(default_factory=list, max_length=20)
    # `records`: only these record kinds (none: every kind of the regulation)
    kinds: list[str] = Field(default_factory=list, max_length=20)


async def case_statistics(session_factory: SessionFactory, req: ReportRequest) -> dict[str, Any]:
    """Cases started and closed, tasks due in the period and how many were done on time
    (on-time rate per task kind), breaches, lapses, and ledger totals per kind."""
    t = models.Task
    in_period = and_(t.due_at >= req.period_start, t.due_at < req.period_end)
    reg = [t.regulation == req.regulation] if req.regulation else []
    async with session_factory() as s:
        rows = (
            await s.execute(
                select(
                    t.kind,
                    func.count(),
                    func.count().filter(t.status == "done"),
                    func.count().filter(and_(t.status == "done", t.closed_at <= t.due_at)),
                    func.count().filter(t.breached_at.is_not(None)),
                    func.count().filter(t.status == "lapsed"),
                )
                .where(in_period, *reg)
                .group_by(t.kind)
                .order_by(t.kind)
            )
        ).all()
        c = models.Case
        creg = [c.regulation == req.regulation] if req.regulation else []
        started = await s.scalar(
            select(func.count()).where(
                c.started_at >= req.period_start, c.started_at < req.period_end, *creg
            )
        )
        closed = await s.scalar(
            select(func.count()).where(
                c.closed_at >= req.period_start, c.closed_at < req.period_end, *creg
            )
        )
        ledger = models.LedgerEntry
        lreg = [ledger.regulation == req.regulation] if req.regulation else []
        money = (
            await s.execute(
                select(ledger.kind, func.count(), func.coalesce(func.sum(ledger.amount_yuan), 0))
                .where(ledger.at >= req.period_start, ledger.at < req.period_end, *lreg)
                .group_by(ledger.kind)
                .order_by(ledger.kind)
            )
        ).all()
    kinds: dict[str, dict[str, Any]] = {
        kind: {
            "due": due,
            "done": done,
            "on_time": on_time,
            "on_time_rate": round(on_time / due, 4) if due else None,
            "breached": breached,
            "lapsed": lapsed,
        }
        for kind, due, done, on_time, breached, lapsed in rows
    }
    total_due = sum(int(k["due"]) for k in kinds.values())
    total_on_time = sum(int(k["on_time"]) for k in kinds.values())
    return {
        "cases_started": started or 0,
        "cases_closed": closed or 0,
        "tasks": kinds,
        "tasks_due": total_due,
        "on_time_rate": round(total_on_time / total_due, 4) if total_due else None,
        "ledger": {
            kind: {"count": n, "total_yuan": str(Decimal(total).quantize(Decimal("0.01")))}
            for kind, n, total in money
        },
    }


async def record_statistics(session_factory: SessionFactory, req: ReportRequest) -> dict[str, Any]:
    """What `case_statistics` gives, and the records written in the period: per record kind
    their count, their count per category, and the sum of each of `sum_fields` (exact
    decimals, as text) over the records that hold it."""
    figures = await case_statistics(session_factory, req)
    r = models.Record
    reg = [r.regulation == req.regulation] if req.regulation else []
    async with session_factory() as s:
        found = (
            await s.execute(
                select(r.kind, r.category, r.data)
                .where(r.created_at >= req.period_start, r.created_at < req.period_end, *reg)
                .order_by(r.kind, r.id)
            )
        ).all()
    kinds: dict[str, dict[str, Any]] = {}
    for kind, category, data in found:
        k = kinds.setdefault(kind, {"count": 0, "categories": {}, "sums": {}})
        k["count"] += 1
        if category is not None:
            k["categories"][category] = k["categories"].get(category, 0) + 1
        for name in req.sum_fields:
            value = (data or {}).get(name)
            if value is None or isinstance(value, bool):
                continue
            try:
                amount = Decimal(str(value))
            except ArithmeticError:
                continue
            k["sums"][name] = str(Decimal(k["sums"].get(name, "0")) + amount)
    return {**figures, "records": kinds}


async def closed_cases(session_factory: SessionFactory, req: ReportRequest) -> dict[str, Any]:
    """The cases of a regulation closed in the period (oldest first, at most 1000): id, number,
    title, when closed and the regulation's summary, for a review that goes through them."""
    c = models.Case
    creg = [c.regulation == req.regulation] if req.regulation else []
    async with session_factory() as s:
        found = (
            await s.execute(
                select(c.id, c.number, c.title, c.closed_at, c.summary)
                .where(c.closed_at >= req.period_start, c.closed_at < req.period_end, *creg)
                .order_by(c.closed_at, c.id)
                .limit(1000)
            )
        ).all()
    return {
        "cases": [
            {"id": i, "number": n, "title": t, "closed_at": at.isoformat(), "summary": summ or {}}
            for i, n, t, at, summ in found
        ]
    }


async def case_summaries(session_factory: SessionFactory, req: ReportRequest) -> dict[str, Any]:
    """The cases of a regulation started in the period, open or closed (oldest first, at most
    5000): id, number, title, status and the regulation's summary, for a view over them (e.g.
    the completeness of the archives of one building)."""
    c = models.Case
    creg = [c.regulation == req.regulation] if req.regulation else []
    async with session_factory() as s:
        found = (
            await s.execute(
                select(c.id, c.number, c.title, c.status, c.summary)
                .where(c.started_at >= req.period_start, c.started_at < req.period_end, *creg)
                .order_by(c.started_at, c.id)
                .limit(5000)
            )
        ).all()
    return {
        "cases": [
            {"id": i, "number": n, "title": t, "status": st, "summary": summ or {}}
            for i, n, t, st, summ in found
        ]
    }


RECORDS_LIMIT = 5000


async def records(session_factory: SessionFactory, req: ReportRequest) -> dict[str, Any]:
    """The named records of a regulation (of the kinds asked) written in the period, oldest
    first, with their data: what a case compares itself with (the previous survey, last
    month's forms). At most RECORDS_LIMIT; `truncated` says when there were more."""
    r = models.Record
    where = [r.created_at >= req.period_start, r.created_at < req.period_end]
    if req.regulation:
        where.append(r.regulation == req.regulation)
    if req.kinds:
        where.append(r.kind.in_(req.kinds))
    async with session_factory() as s:
        found = (
            await s.execute(
                select(r.id, r.case_id, r.kind, r.data, r.created_at)
                .where(*where)
                .order_by(r.created_at, r.id)
                .limit(RECORDS_LIMIT + 1)
            )
        ).all()
    return {
        "records": [
            {"id": rid, "case_id": case, "kind": kind, "data": data, "created_at": at.isoformat()}
            for rid, case, kind, data, at in found[:RECORDS_LIMIT]
        ],
        "truncated": len(found) > RECORDS_LIMIT,
    }


REPORTS = {
    "case_statistics": case_statistics,
    "closed_cases": closed_cases,
    "case_summaries": case_summaries,
    "record_statistics": record_statistics,
    "records": records,
}


class Reports:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sf = session_factory

    @activity.defn(name="zhidu.report")
    async def report(self, raw: dict[str, Any]) -> dict[str, Any]:
        req = ReportRequest.model_validate(raw)
        query = REPORTS.get(req.report)
        if query is None:
            raise ApplicationError(
                f"unknown report {req.report!r}", type="UnknownReport", non_retryable=True
            )
        return await query(self._sf, req)
