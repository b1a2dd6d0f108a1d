"""Linked calendars carry a stamp that changes with every write of their busy blocks
(``linked_calendars.mirror_stamp``): a node keeps a user's busy mirror in memory and re-reads
it only when the stamps of that user's conflict calendars changed, so ``dates`` and ``slots``
read a few stamps instead of every busy block.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("linked_calendars") as batch:
        batch.add_column(sa.Column("mirror_stamp", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linked_calendars") as batch:
        batch.drop_column("mirror_stamp")
