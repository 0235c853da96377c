"""The sandbox bank and provider, and the widget's origin on transactions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("widget_origin", sa.Text(), nullable=True))
    op.create_table(
        "sandbox_orders",
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("hold_id", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=False),
        sa.Column("notify_url", sa.Text(), nullable=False),
        sa.Column("frame_ancestors", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("refused_submissions", sa.Integer(), nullable=False),
        sa.Column("challenge_failures", sa.Integer(), nullable=False),
        sa.Column("card_mask", sa.String(length=19), nullable=True),
        sa.Column("capture_fails", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_sandbox_orders")),
        sa.UniqueConstraint("hold_id", name=op.f("uq_sandbox_orders_hold_id")),
    )
    op.create_table(
        "sandbox_credits",
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("contract_value", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("ready_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_sandbox_credits")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_credits")
    op.drop_table("sandbox_orders")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("widget_origin")
