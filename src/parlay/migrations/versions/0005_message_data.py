"""Structured data on room notices: messages.data (JSON, nullable).

Meeting notices (kinds ``meeting`` and ``meeting_update``) store what happened as data
(action, actor, instants in UTC) so each reader's browser can render the sentence in its own
time zone; ``body`` stays as a plain UTC fallback. Older rows keep ``data`` NULL.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("data")
