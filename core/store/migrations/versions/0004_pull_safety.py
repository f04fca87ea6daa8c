"""pull safety: stale snapshot records and staged pull pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

``remote_records.stale`` marks a live record whose last read could not be mapped (its last good
version is kept); ``staged_pages`` holds the pages of a pull that would delete or change more
than the limits allow, until a person approves or discards the pull.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN with a constant default: SQLite does it in place, without the batch
    # mode's table copy (a store holds millions of snapshot rows).
    op.add_column(
        "remote_records",
        sa.Column("stale", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "staged_pages",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("hold", sa.String(length=64), nullable=True),
        sa.Column("effects", sa.Text(), nullable=False),
        sa.Column("page", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_staged_pages")),
    )
    op.create_index("ix_staged_pages_scope", "staged_pages", ["platform", "school", "scope"])


def downgrade() -> None:
    op.drop_index("ix_staged_pages_scope", table_name="staged_pages")
    op.drop_table("staged_pages")
    with op.batch_alter_table("remote_records") as batch:
        batch.drop_column("stale")
