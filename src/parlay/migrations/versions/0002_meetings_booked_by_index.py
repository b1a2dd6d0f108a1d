"""Index meetings by who booked them: busy time reads hosts *or* bookers.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_meetings_booked_by_start", "meetings", ["booked_by", "start"])


def downgrade() -> None:
    op.drop_index("ix_meetings_booked_by_start", table_name="meetings")
