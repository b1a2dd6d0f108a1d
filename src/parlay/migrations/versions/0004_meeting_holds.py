"""Meeting holds: nobody is in two overlapping Parlay meetings, as host or as booker.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_holds",
        sa.Column("meeting_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_holds_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_meeting_holds_user_id_users")
        ),
        sa.PrimaryKeyConstraint("meeting_id", "user_id", name=op.f("pk_meeting_holds")),
    )
    op.create_index("ix_meeting_holds_user_id_start", "meeting_holds", ["user_id", "start"])
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "ALTER TABLE meeting_holds ADD CONSTRAINT ex_meeting_holds_no_overlap "
            "EXCLUDE USING gist (user_id WITH =, tstzrange(start, \"end\", '[)') WITH &&)"
        )
    # Existing scheduled meetings: hosts first (their meetings never overlapped), then bookers;
    # a booker already double-booked before this revision keeps the earlier-held meeting only
    # in the holds (PostgreSQL skips the overlapping row; SQLite never had concurrent writers).
    scheduled = "FROM meetings WHERE status = 'scheduled'"
    op.execute(
        f'INSERT INTO meeting_holds (meeting_id, user_id, start, "end") '
        f'SELECT id, host_id, start, "end" {scheduled}'
    )
    op.execute(
        f'INSERT INTO meeting_holds (meeting_id, user_id, start, "end") '
        f'SELECT id, booked_by, start, "end" {scheduled} AND booked_by <> host_id'
        + (" ON CONFLICT DO NOTHING" if postgres else "")
    )


def downgrade() -> None:
    op.drop_index("ix_meeting_holds_user_id_start", table_name="meeting_holds")
    op.drop_table("meeting_holds")
