"""Engine v2: the one ledger (penalties become `ledger`, exact amounts, accounts), case numbers,
task units and clocks (remind / lapse / paused).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("number", sa.String(60), nullable=True))
    op.create_unique_constraint(op.f("uq_cases_number"), "cases", ["number"])
    for name in ("remind_at", "lapse_at", "paused_at"):
        op.add_column("tasks", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("unit", sa.String(250), nullable=True))
    # What a form and the action buttons need without asking the workflow: the outcomes, the
    # signatures the record takes, who may extend to when, who may pause.
    op.add_column(
        "tasks",
        sa.Column("meta", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column(
        "cases",
        sa.Column(
            "summary", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
    )

    op.rename_table("penalties", "ledger")
    op.execute("ALTER TABLE ledger RENAME CONSTRAINT pk_penalties TO pk_ledger")
    op.execute("ALTER INDEX ix_penalties_case_id RENAME TO ix_ledger_case_id")
    op.execute("ALTER INDEX ix_penalties_regulation RENAME TO ix_ledger_regulation")
    op.alter_column("ledger", "amount_yuan", type_=sa.Numeric(14, 2))
    op.alter_column("ledger", "party", type_=sa.String(200))
    op.add_column("ledger", sa.Column("account", sa.String(300), nullable=True))
    op.create_index(op.f("ix_ledger_account"), "ledger", ["account"], unique=False)
    op.create_index(op.f("ix_ledger_kind"), "ledger", ["kind"], unique=False)

    op.create_table(
        "case_numbers",
        sa.Column("regulation", sa.String(50), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("regulation", "year", name=op.f("pk_case_numbers")),
    )


def downgrade() -> None:
    op.drop_table("case_numbers")
    op.drop_index(op.f("ix_ledger_kind"), table_name="ledger")
    op.drop_index(op.f("ix_ledger_account"), table_name="ledger")
    op.drop_column("ledger", "account")
    op.alter_column("ledger", "party", type_=sa.String(100))
    op.alter_column("ledger", "amount_yuan", type_=sa.Numeric(12, 2))
    op.execute("ALTER INDEX ix_ledger_regulation RENAME TO ix_penalties_regulation")
    op.execute("ALTER INDEX ix_ledger_case_id RENAME TO ix_penalties_case_id")
    op.execute("ALTER TABLE ledger RENAME CONSTRAINT pk_ledger TO pk_penalties")
    op.rename_table("ledger", "penalties")
    op.drop_column("cases", "summary")
    op.drop_column("tasks", "meta")
    op.drop_column("tasks", "unit")
    for name in ("paused_at", "lapse_at", "remind_at"):
        op.drop_column("tasks", name)
    op.drop_constraint(op.f("uq_cases_number"), "cases", type_="unique")
    op.drop_column("cases", "number")
