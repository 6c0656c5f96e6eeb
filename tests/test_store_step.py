"""record_step: one transaction, every table, idempotent under activity retries (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.signing import Sealer, stored_record_digest, verify_signature
from activities.store_step import CaseStore
from store import models
from store.db import SessionFactory
from tests.helpers import ensure_people
from workflows.model import (
    CaseWrite,
    EventState,
    Extension,
    LedgerWrite,
    NotificationWrite,
    RecordWrite,
    SignatureWrite,
    StepChanges,
    TaskState,
)

# Database tests share the session event loop of the session-scoped conftest fixtures.
pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def people(clean_db: SessionFactory) -> None:
    """The first step of a case is stored only when who started it may (the demo users)."""
    await ensure_people(clean_db)


def step(status: str = "open") -> StepChanges:
    case = CaseWrite(
        id="revisit-C1",
        regulation="revisit",
        title="客户回访 C1",
        customer_id="C1",
        status=status,
        started_by="staff",
        input={"customer_id": "C1"},
        policy={"plan_due": {"hours": 24}},
    )
    task = TaskState(
        id="revisit-C1/t1",
        seq=1,
        kind="visit",
        role="staff",
        assignee="staff",
        title="上门回访",
        clause="R1 4.3(2)",
        due_at=T0 + timedelta(days=3),
        data={"note": "首次"},
        created_at=T0,
        extensions=[
            Extension(
                seq=1,
                granted_by="boss",
                granted_role="supervisor",
                reason="客户出差",
                old_due=T0 + timedelta(days=2),
                new_due=T0 + timedelta(days=3),
                at=T0,
            )
        ],
    )
    return StepChanges(
        case=case,
        events=[
            EventState(seq=1, at=T0, kind="started", actor="staff", clause="R1 4.1"),
            EventState(seq=2, at=T0, kind="task_opened", detail={"task": task.id}),
        ],
        tasks=[task],
        notifications=[
            NotificationWrite(
                key="revisit-C1/t1/opened", recipient="staff", subject="新任务", body="请回访"
            )
        ],
        records=[
            RecordWrite(
                id="revisit-C1/revisit_record/1",
                kind="revisit_record",
                title="客户回访记录表",
                data={"rating": 5, "visited_at": T0, "意见": "满意"},
                created_by="staff",
                created_at=T0,
            )
        ],
        signatures=[
            SignatureWrite(
                id="revisit-C1/revisit_record/1/sig/staff",
                record_id="revisit-C1/revisit_record/1",
                signer="staff",
                role="staff",
                method="staff_login",
                signed_at=T0,
            )
        ],
        ledger=[
            LedgerWrite(
                id="revisit-C1/pen/1",
                clause="R1 5.1(1)",
                party="客户服务部",
                party_kind="department",
                amount_yuan=Decimal("1000.50"),
                rule="逾期归档",
                at=T0,
            )
        ],
    )


async def count(factory: SessionFactory, model: type[models.Base]) -> int:
    async with factory() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_record_step_writes_everything_once_even_when_retried(
    clean_db: SessionFactory,
) -> None:
    sealer = Sealer.generate()
    store = CaseStore(clean_db, sealer, channels=["console", "webhook"])
    changes = step()
    await ActivityEnvironment().run(store.record_step, changes)
    # An activity retry delivers the very same payload again.
    await store.record_step(changes)

    for model, n in [
        (models.Case, 1),
        (models.Event, 2),
        (models.Task, 1),
        (models.TaskExtension, 1),
        (models.Record, 1),
        (models.Signature, 1),
        (models.LedgerEntry, 1),
        (models.Notification, 2),
    ]:
        assert await count(clean_db, model) == n, model.__tablename__

    async with clean_db() as s:
        notes = (await s.execute(select(models.Notification))).scalars().all()
        assert sorted(n.key for n in notes) == [
            "revisit-C1/t1/opened:console",
            "revisit-C1/t1/opened:webhook",
        ]
        assert {(n.status, n.attempts, n.case_id) for n in notes} == {("pending", 0, "revisit-C1")}
        record = await s.get(models.Record, "revisit-C1/revisit_record/1")
        assert record is not None
        assert record.sha256 == stored_record_digest(record)
        assert (record.customer_id, record.regulation) == ("C1", "revisit")
        task = await s.get(models.Task, "revisit-C1/t1")
        assert task is not None and task.regulation == "revisit" and task.data == {"note": "首次"}
        penalty = await s.get(models.LedgerEntry, "revisit-C1/pen/1")
        assert penalty is not None and penalty.amount_yuan == Decimal("1000.50")

    ok = await verify_signature(
        clean_db, "revisit-C1/revisit_record/1/sig/staff", sealer.public_key_b64
    )
    assert ok.ok, ok.reason


async def test_later_step_updates_case_and_task_but_keeps_start(clean_db: SessionFactory) -> None:
    store = CaseStore(clean_db, Sealer.generate(), channels=["console"])
    first = step()
    await store.record_step(first)
    async with clean_db() as s:
        started = (await s.get(models.Case, "revisit-C1")).started_at  # type: ignore[union-attr]

    closed = T0 + timedelta(days=1)
    task = first.tasks[0].model_copy(
        update={"status": "done", "outcome": "done", "closed_at": closed, "closed_by": "staff"}
    )
    later = StepChanges(
        case=first.case.model_copy(update={"status": "closed", "closed_at": closed}),
        events=[EventState(seq=3, at=closed, kind="task_done")],
        tasks=[task],
    )
    await store.record_step(later)
    async with clean_db() as s:
        case = await s.get(models.Case, "revisit-C1")
        row = await s.get(models.Task, "revisit-C1/t1")
    assert case is not None and row is not None
    assert (case.status, case.closed_at, case.started_at) == ("closed", closed, started)
    assert (row.status, row.closed_by, row.closed_at) == ("done", "staff", closed)
    assert await count(clean_db, models.Event) == 3
    assert await count(clean_db, models.TaskExtension) == 1


async def test_signature_on_a_record_written_by_an_earlier_step(clean_db: SessionFactory) -> None:
    sealer = Sealer.generate()
    store = CaseStore(clean_db, sealer, channels=["console"])
    first = step()
    await store.record_step(first.model_copy(update={"signatures": []}))
    sig = first.signatures[0].model_copy(update={"id": "later-sig", "role": "customer"})
    await store.record_step(StepChanges(case=first.case, signatures=[sig]))
    result = await verify_signature(clean_db, "later-sig", sealer.public_key_b64)
    assert result.ok, result.reason


async def test_signature_waits_for_its_record_and_never_signs_another_case(
    clean_db: SessionFactory,
) -> None:
    store = CaseStore(clean_db, Sealer.generate(), channels=["console"])
    first = step()
    # The step carrying this case's record may still be in flight: retry.
    early = first.signatures[0].model_copy(update={"record_id": f"{first.case.id}/x/99"})
    with pytest.raises(ApplicationError) as info:
        await store.record_step(StepChanges(case=first.case, signatures=[early]))
    assert not info.value.non_retryable and "not stored yet" in str(info.value)
    assert await count(clean_db, models.Case) == 0  # the whole step rolled back
    # Another case's record: refused for good.
    foreign = first.signatures[0].model_copy(update={"record_id": "revisit-OTHER/revisit_record/1"})
    with pytest.raises(ApplicationError) as info:
        await store.record_step(StepChanges(case=first.case, signatures=[foreign]))
    assert info.value.non_retryable and info.value.type == "ForeignRecord"
    assert await count(clean_db, models.Signature) == 0


async def test_events_are_append_only(clean_db: SessionFactory) -> None:
    await CaseStore(clean_db, Sealer.generate(), channels=["console"]).record_step(step())
    for sql in ("UPDATE events SET kind = 'forged'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with clean_db() as s, s.begin():
                await s.execute(text(sql))
    assert await count(clean_db, models.Event) == 2


async def test_data_the_database_refuses_is_stored_repaired_not_retried(
    clean_db: SessionFactory,
) -> None:
    """A NUL in a record's data and a signer longer than its column: the step is written once
    more with the text repaired, and the repairs are returned (the case is then marked for
    attention); nothing is lost, nothing retried forever."""
    store = CaseStore(clean_db, Sealer.generate(), channels=["console"])
    changes = step()
    changes.records[0].data["questions"] = ["为什么\x00卡纸"]
    changes.signatures[0].signer = "签" * 250
    changes.ledger[0].party = "部" * 250
    changes.records[0].title = "《" + "记" * 250  # records.title is 200 wide (tasks' is 300)
    result = await ActivityEnvironment().run(store.record_step, changes)
    assert result["refused"] and "step.records[0].data.questions[0]" in result["repairs"]
    assert "step.signatures[0].signer" in result["repairs"]
    assert "step.records[0].title" in result["repairs"]
    async with clean_db() as s:
        record = await s.get(models.Record, "revisit-C1/revisit_record/1")
        signature = await s.get(models.Signature, "revisit-C1/revisit_record/1/sig/staff")
        entry = await s.get(models.LedgerEntry, "revisit-C1/pen/1")
    assert record is not None and record.data["questions"] == ["为什么卡纸"]
    assert record.title == ("《" + "记" * 250)[:200]
    assert signature is not None and signature.signer == "签" * 200
    assert entry is not None and len(entry.party) == 200
    # A clean step is written as is and reports nothing.
    assert await ActivityEnvironment().run(store.record_step, step("done")) == {}


async def test_migrations_build_exactly_the_models(database_url: str) -> None:
    """The schema the migrations build (at head) is the schema store/models.py declares: no
    table, column, index or constraint in one and not in the other."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    from store.db import async_url

    def diff(connection: object) -> list:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return compare_metadata(context, models.Base.metadata)

    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == []


async def test_a_database_error_names_no_customer_data(clean_db: SessionFactory) -> None:
    """A refused write's message (a log line, a failed activity in Temporal's history) carries
    the statement but never its values: customers' names and phones stay out of it."""
    phone = "13800000000"
    row = models.Case(
        id="revisit-LEAK1", regulation="revisit", title="客户回访：" + "长" * 400 + phone,
        input={"contacts": [{"phone": phone}]}, started_by="staff",
    )  # fmt: skip
    with pytest.raises(DBAPIError) as info:
        async with clean_db() as session:
            session.add(row)
            await session.commit()
    text_of_error = str(info.value)
    assert "value too long" in text_of_error and "INSERT INTO cases" in text_of_error
    assert phone not in text_of_error and "客户回访" not in text_of_error
    assert "parameters hidden" in text_of_error
