"""Outbox leases: outbox.dedupe_key (at most one pending job per key, a partial unique index),
claimed_by and lease_until (a claim is a lease; a dead worker's job is claimed again when it
runs out) and finished_at (done jobs are pruned a day after). Jobs already ``running`` were
claimed by the old worker, which never released a job it died holding: they become pending.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'running'")
    op.create_index(
        "uq_outbox_pending_dedupe_key",
        "outbox",
        ["dedupe_key"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_outbox_pending_dedupe_key", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("finished_at")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
        batch.drop_column("dedupe_key")
