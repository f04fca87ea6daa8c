"""schema_drift: unknown, missing and retyped payload fields per platform, school and model

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

(0004 is another branch's; the lead rechains this one after it when merging.)
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
        "schema_drift",
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("field", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "platform", "school", "model", "field", "kind", name=op.f("pk_schema_drift")
        ),
    )


def downgrade() -> None:
    op.drop_table("schema_drift")
