"""Room-addressed live events: ``events.room_id``; such an event's recipients are the room's
members, with no ``event_recipients`` row per member (a message in a room of a thousand wrote
a thousand rows).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("room_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_events_room_id_rooms"), "rooms", ["room_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_events_room_id_id", ["room_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_room_id_id")
        batch_op.drop_constraint(op.f("fk_events_room_id_rooms"), type_="foreignkey")
        batch_op.drop_column("room_id")
