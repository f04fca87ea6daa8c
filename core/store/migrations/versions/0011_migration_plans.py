"""migration_plans: plans of moving a school's journal between platform bindings

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "migration_plans",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("source_binding", sa.String(length=64), nullable=False),
        sa.Column("source_platform", sa.String(length=64), nullable=False),
        sa.Column("target_binding", sa.String(length=64), nullable=False),
        sa.Column("target_platform", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_plans")),
    )
    op.create_index("ix_migration_plans_school", "migration_plans", ["school"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_migration_plans_school", table_name="migration_plans")
    op.drop_table("migration_plans")
