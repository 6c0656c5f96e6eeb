"""Hardening II: failed sign-ins counted in the database (per account and address, per account,
per address), and the sealing scheme of each signature (1 = made before the seal covered every
column of the record and of the signature row, 2 = every column).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.add_column(
        "signatures",
        sa.Column("scheme", sa.Integer(), server_default="1", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("signatures", "scheme")
    op.drop_table("login_throttle")
