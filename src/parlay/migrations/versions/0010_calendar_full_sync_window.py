"""Linked calendars remember where the window of their last full sync began
(``linked_calendars.synced_from``): incremental syncs add changes on top of that full read, and
a sync starts over with a full one once that window has moved a day (Google's incremental sync
ignores timeMin/timeMax, so only a full read advances the window).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("linked_calendars") as batch:
        batch.add_column(sa.Column("synced_from", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linked_calendars") as batch:
        batch.drop_column("synced_from")
