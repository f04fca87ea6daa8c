"""remote_facts and facts_watermark: typed columns of the frequent entities for the rules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

A store from before this revision gets the facts of its snapshot derived in SQL
(``core.store._facts.backfill``), so its reports read the same as a new store's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.store._facts import backfill

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remote_facts",
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("student_id", sa.String(length=64), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("teacher_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("value", sa.String(length=32), nullable=True),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("day", sa.String(length=10), nullable=True),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("shift", sa.Integer(), nullable=True),
        sa.Column("end_time", sa.String(length=16), nullable=True),
        sa.Column("has_topic", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=True),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("platform", "school", "entity", "id", name=op.f("pk_remote_facts")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "facts_watermark",
        sa.Column("school", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("school", "platform", name=op.f("pk_facts_watermark")),
    )
    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("facts_watermark")
    op.drop_table("remote_facts")
