"""identity_matches: who is who on two platform bindings of one school (issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_matches",
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("source_platform", sa.String(length=64), nullable=False),
        sa.Column("target_platform", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "school",
            "source_platform",
            "target_platform",
            "entity",
            "source_id",
            name=op.f("pk_identity_matches"),
        ),
    )


def downgrade() -> None:
    op.drop_table("identity_matches")
