"""Indexes for the web pages' reads with many cases: the cases list newest first (one page of
`ORDER BY started_at DESC, id` read from the index, no sort of every case), and the open tasks
of a case (a partial index: the filters "has an open task of role X" and "is overdue", and
the soonest due of the open tasks, read without visiting the closed tasks), and a person's
open tasks by role and assignee (the work list).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_started_at_id", "cases", [sa.text("started_at DESC"), "id"], unique=False
    )
    op.create_index(
        "ix_tasks_open_case_due",
        "tasks",
        ["case_id", "due_at"],
        unique=False,
        postgresql_include=["role", "paused_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_tasks_open_role_assignee",
        "tasks",
        ["role", "assignee"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_open_role_assignee", table_name="tasks")
    op.drop_index("ix_tasks_open_case_due", table_name="tasks")
    op.drop_index("ix_cases_started_at_id", table_name="cases")
