"""Linked calendars, part two: incremental sync (busy_blocks.item_key, the provider's id of the
event a block comes from; linked_calendars.sync_token), meetings written out (external_events:
at most one external event per meeting and calendar) and OAuth linking (oauth_states: one
authorization request each, bound to the browser session that started it, used once).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("busy_blocks") as batch:
        batch.add_column(sa.Column("item_key", sa.String(length=1000), nullable=True))
    op.create_index(
        "ix_busy_blocks_calendar_id_item_key", "busy_blocks", ["calendar_id", "item_key"]
    )
    with op.batch_alter_table("linked_calendars") as batch:
        batch.add_column(sa.Column("sync_token", sa.Text(), nullable=True))
    op.create_table(
        "external_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("meeting_id", sa.String(length=36), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("external_id", sa.String(length=1000), nullable=True),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("written_sequence", sa.Integer(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_external_events_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["linked_calendars.id"],
            name=op.f("fk_external_events_calendar_id_linked_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_events")),
        sa.UniqueConstraint(
            "meeting_id", "calendar_id", name=op.f("uq_external_events_meeting_id")
        ),
    )
    op.create_index(
        op.f("ix_external_events_calendar_id"), "external_events", ["calendar_id"], unique=False
    )
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("session_key", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("return_to", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oauth_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )
    op.create_index(
        op.f("ix_oauth_states_created_at"), "oauth_states", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("oauth_states")
    op.drop_table("external_events")
    with op.batch_alter_table("linked_calendars") as batch:
        batch.drop_column("sync_token")
    op.drop_index("ix_busy_blocks_calendar_id_item_key", table_name="busy_blocks")
    with op.batch_alter_table("busy_blocks") as batch:
        batch.drop_column("item_key")
