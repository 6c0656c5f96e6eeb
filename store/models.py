"""The database schema (SQLAlchemy 2 declarative). One dialect: PostgreSQL.

The event timeline is append-only (a trigger in the migration refuses UPDATE and DELETE).
Every table written by an activity has a natural idempotency key, so a retried activity
never writes twice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONB, list[str]: ARRAY(String)}


def _now() -> Any:
    return func.now()


class User(Base):
    """A person who signs in. Roles are the role codes of REGULATIONS.md (staff, supervisor, ...)."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    department: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ApiToken(Base):
    """Revocable bearer token for integrations. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, only its SHA-256 is stored here.
    Logout revokes it; it also ends after `session_idle_minutes` without use and
    `session_max_hours` after sign-in."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Failed sign-ins counted per account and client address, per account and per address
    (starter.throttle): counted before the password is checked, under a row lock, so parallel
    attempts cannot slip past the count."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Case(Base):
    """One running (or finished) regulation case; id = the Temporal workflow id (business key
    or case number)."""

    __tablename__ = "cases"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(60), unique=True)
    regulation: Mapped[str] = mapped_column(String(50), index=True)
    title: Mapped[str] = mapped_column(String(300))
    customer_id: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # The workflow's step counter when written: concurrent step writes never go backwards.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    input: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The regulation's summary of the case (next visit, counters, ...), as of the last step.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # Why the case needs an administrator (a step the database refused), or None.
    attention: Mapped[str | None] = mapped_column(Text)


class Task(Base):
    """A human step. id = '<case id>/t<seq>' so a retried write is a no-op."""

    __tablename__ = "tasks"
    id: Mapped[str] = mapped_column(String(250), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    regulation: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(64), index=True)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300))
    clause: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    unit: Mapped[str | None] = mapped_column(String(250))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lapse_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # outcomes, signatures, extend_limits, pausable_by (see workflows.model.TaskState)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(64))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The task's change counter in the workflow: concurrent step writes never go backwards.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TaskExtension(Base):
    """Who moved a deadline, why, from when to when (extend_deadline)."""

    __tablename__ = "task_extensions"
    __table_args__ = (UniqueConstraint("task_id", "seq"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(250), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_role: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    old_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    new_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """The append-only case timeline: every step, with the clause it comes from."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64))
    clause: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Record(Base):
    """A named record of a regulation (《客户回访记录表》, 《客户回访报告》, ...).

    `kind` names the record type; `data` is validated by that kind's pydantic model in the
    regulation module. id = '<case id>/<kind>/<n>' (idempotent)."""

    __tablename__ = "records"
    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    regulation: Mapped[str] = mapped_column(String(50), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(100), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerEntry(Base):
    """The one ledger: fines, charges and sanctions, commendations and rewards, deposits held /
    used / refunded, commission shares. id = '<case id>/ledger/<key>' (booked once)."""

    __tablename__ = "ledger"
    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    regulation: Mapped[str] = mapped_column(String(50), index=True)
    clause: Mapped[str] = mapped_column(String(100))
    party: Mapped[str] = mapped_column(String(200))
    party_kind: Mapped[str] = mapped_column(String(20))  # person | department | customer
    amount_yuan: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    kind: Mapped[str] = mapped_column(String(30), index=True)  # fine | reward | deposit_held | …
    rule: Mapped[str] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(300), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DisciplineEntry(Base):
    """The discipline register beside the ledger: sanctions (书面警告, 记过, 记大过, 降级, 开除)
    and rewards (嘉奖, 记小功, 记大功, 奖金) of a person or a department, each written once its
    approval chain approved it. id = '<case id>/discipline/<key>' (written once); a bonus's
    money is in the ledger too (account = this id)."""

    __tablename__ = "discipline"
    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    regulation: Mapped[str] = mapped_column(String(50), index=True)
    clause: Mapped[str] = mapped_column(String(100))
    party: Mapped[str] = mapped_column(String(200), index=True)
    party_kind: Mapped[str] = mapped_column(String(20))  # person | department
    kind: Mapped[str] = mapped_column(String(30), index=True)  # warning | … | bonus
    rule: Mapped[str] = mapped_column(Text)
    amount_yuan: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    record_id: Mapped[str | None] = mapped_column(String(300))
    proposed_by: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The web pages' reads (migration 0005): the cases list newest first, read from the index; the
# open tasks of a case (filters "open task of role X", "overdue", the soonest due); a person's
# open tasks by role and assignee.
Index("ix_cases_started_at_id", Case.started_at.desc(), Case.id)
Index(
    "ix_tasks_open_case_due",
    Task.case_id,
    Task.due_at,
    postgresql_include=["role", "paused_at"],
    postgresql_where=Task.status == "open",
)
Index(
    "ix_tasks_open_role_assignee", Task.role, Task.assignee, postgresql_where=Task.status == "open"
)


class CaseNumber(Base):
    """The last case number allocated per regulation and year (`complaint-2026-000123`):
    allocated before the start, never reused."""

    __tablename__ = "case_numbers"
    regulation: Mapped[str] = mapped_column(String(50), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class Signature(Base):
    """A sealed signature over the SHA-256 of the exact record signed."""

    __tablename__ = "signatures"
    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    signer: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))  # staff_login | drawing | otp
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    record_sha256: Mapped[str] = mapped_column(String(64))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(Text)  # base64 Ed25519 signature over the sealed payload
    public_key: Mapped[str] = mapped_column(Text)  # base64 raw public key that sealed it
    # What the seal covers (activities.signing): 1 = signatures made before every column of the
    # record and of this row was covered, 2 = every column.
    scheme: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class SignatureCode(Base):
    """One-time code sent to a customer to sign a record (method 'otp'). Only the hash is kept."""

    __tablename__ = "signature_codes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    task_id: Mapped[str] = mapped_column(String(250), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Wrong codes tried against this row; at starter.service.MAX_CODE_ATTEMPTS it is dead.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Notification(Base):
    """Outbox: a message is written in the same transaction as the step that causes it and is
    delivered later by the dispatcher, with retries and backoff; nothing is lost."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # idempotency key
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # console | smtp | webhook
    recipient: Mapped[str] = mapped_column(String(200))  # user id, 'role:<code>' or an address
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The dispatcher's poll: pending messages whose next attempt is due (migration 0001).
Index(
    "ix_notifications_due",
    Notification.next_attempt_at,
    postgresql_where=Notification.status == "pending",
)


class Attachment(Base):
    """A file a person attached to a form (a checklist's document, a drawing, a spreadsheet, a
    receipt): the bytes and what the case keeps of them (workflows.model.Attachment: id, name,
    media type, size, SHA-256 computed here). A drawn signature is kept as one too, found by
    the SHA-256 of its evidence (the signature row's `evidence_sha256`, which the seal covers).
    Written once, never changed."""

    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # att_<random>
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class CalendarYear(Base):
    """A year of the statutory calendar loaded by an administrator (override file)."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(300))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    loaded_by: Mapped[str | None] = mapped_column(String(64))


class CalendarDay(Base):
    """A day the override file states: a statutory holiday (is_workday false) or a 调休 makeup
    working day on a weekend (is_workday true). Other days follow the weekday rule."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(100))
