"""Settings: users.time_format ("auto" | "12h" | "24h") and auth_sessions.id, an opaque stable
name for a login session so the settings page can list and revoke sessions without ever
showing a token or its hash. Existing sessions get a fresh random id.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("time_format", sa.String(length=8), server_default="auto", nullable=False)
        )
    with op.batch_alter_table("auth_sessions") as batch:
        batch.add_column(sa.Column("id", sa.String(length=36), nullable=True))
    sessions = sa.table("auth_sessions", sa.column("token_hash"), sa.column("id"))
    bind = op.get_bind()
    for (token_hash,) in bind.execute(sa.select(sessions.c.token_hash)).all():
        bind.execute(
            sessions.update()
            .where(sessions.c.token_hash == token_hash)
            .values(id=str(uuid.uuid4()))
        )
    with op.batch_alter_table("auth_sessions") as batch:
        batch.alter_column("id", existing_type=sa.String(length=36), nullable=False)
        batch.create_unique_constraint(batch.f("uq_auth_sessions_id"), ["id"])


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_constraint(batch.f("uq_auth_sessions_id"), type_="unique")
        batch.drop_column("id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_format")
