"""The discipline register beside the ledger: sanctions and rewards of a person or a
department (书面警告 … 开除, 嘉奖 … 奖金), each written once its approval chain approved it, by
the step that decided it (`zhidu.record_step`, idempotent by id).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discipline",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("regulation", sa.String(length=50), nullable=False),
        sa.Column("clause", sa.String(length=100), nullable=False),
        sa.Column("party", sa.String(length=200), nullable=False),
        sa.Column("party_kind", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("amount_yuan", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("record_id", sa.String(length=300), nullable=True),
        sa.Column("proposed_by", sa.String(length=64), nullable=True),
        sa.Column(
            "approved_by",
            postgresql.ARRAY(sa.String(length=64)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discipline")),
    )
    for column in ("case_id", "regulation", "party", "kind"):
        op.create_index(op.f(f"ix_discipline_{column}"), "discipline", [column], unique=False)


def downgrade() -> None:
    op.drop_table("discipline")
