"""Event drafts: on PostgreSQL a unit of work's live events are written as drafts and published
into ``events`` by a deferred trigger as the transaction commits, so the event lock is taken
inside the commit and never held across a round trip to the application.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: ``parlay.services.events.EVENT_LOCK_KEY`` (a migration is frozen: the value, not an import;
#: ``tests/db/test_event_log.py`` checks the two agree).
EVENT_LOCK_KEY = 727_001

PUBLISH = f"""
CREATE FUNCTION parlay_publish_event_draft() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    published bigint;
BEGIN
    -- Held to the end of the commit: ids become visible in id order (the lock is reentrant,
    -- so the transaction's later drafts take it again at no cost).
    PERFORM pg_advisory_xact_lock({EVENT_LOCK_KEY});
    -- The commit does not wait for the disk while the lock is held (parlay.db.durable).
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO events (type, data, created_at) VALUES (NEW.type, NEW.data, NEW.created_at)
        RETURNING id INTO published;
    INSERT INTO event_recipients (event_id, user_id)
        SELECT published, recipient FROM json_array_elements_text(NEW.recipients) AS recipient;
    DELETE FROM event_drafts WHERE id = NEW.id;
    RETURN NULL;
END
$$
"""

TRIGGER = """
CREATE CONSTRAINT TRIGGER event_drafts_publish AFTER INSERT ON event_drafts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION parlay_publish_event_draft()
"""


def upgrade() -> None:
    op.create_table(
        "event_drafts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_drafts")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PUBLISH)
        op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER event_drafts_publish ON event_drafts")
        op.execute("DROP FUNCTION parlay_publish_event_draft()")
    op.drop_table("event_drafts")
