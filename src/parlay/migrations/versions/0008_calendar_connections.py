"""Linked calendars: calendar_connections (one linked account each, credentials encrypted,
unique per user, provider and account so reconnecting restores it in place), linked_calendars
(the account's calendars with check_conflicts / write_events) and busy_blocks (the busy-time
mirror read by dates and slots, indexed by user and start).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("account_email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_detail", sa.String(length=500), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_connections_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_connections")),
        sa.UniqueConstraint(
            "user_id",
            "provider",
            "account_email",
            name=op.f("uq_calendar_connections_user_id"),
        ),
    )
    op.create_index(
        op.f("ix_calendar_connections_user_id"), "calendar_connections", ["user_id"], unique=False
    )
    op.create_table(
        "linked_calendars",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("external_id", sa.String(length=1000), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.Column("check_conflicts", sa.Boolean(), nullable=False),
        sa.Column("write_events", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["calendar_connections.id"],
            name=op.f("fk_linked_calendars_connection_id_calendar_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linked_calendars")),
        sa.UniqueConstraint(
            "connection_id", "external_id", name=op.f("uq_linked_calendars_connection_id")
        ),
    )
    op.create_index(
        op.f("ix_linked_calendars_connection_id"),
        "linked_calendars",
        ["connection_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_linked_calendars_user_id"), "linked_calendars", ["user_id"], unique=False
    )
    op.create_table(
        "busy_blocks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["linked_calendars.id"],
            name=op.f("fk_busy_blocks_calendar_id_linked_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_busy_blocks")),
    )
    op.create_index(
        op.f("ix_busy_blocks_calendar_id"), "busy_blocks", ["calendar_id"], unique=False
    )
    op.create_index("ix_busy_blocks_user_id_start", "busy_blocks", ["user_id", "start"])


def downgrade() -> None:
    op.drop_table("busy_blocks")
    op.drop_table("linked_calendars")
    op.drop_table("calendar_connections")
