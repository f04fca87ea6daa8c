"""account_outcomes and family_roster: family accounts' outcomes and the pupils they showed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_outcomes",
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pupils", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("first_used", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("school", "platform", "login", name=op.f("pk_account_outcomes")),
    )
    op.create_table(
        "family_roster",
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("pupil_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("class_name", sa.String(length=64), nullable=False),
        sa.Column("first_read", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_read", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("school", "platform", "pupil_id", name=op.f("pk_family_roster")),
    )


def downgrade() -> None:
    op.drop_table("family_roster")
    op.drop_table("account_outcomes")
