"""Status lists lose alloc_tag: indices are drawn at random and probed in the database

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status_list") as batch:
        batch.drop_column("alloc_tag")


def downgrade() -> None:
    with op.batch_alter_table("status_list") as batch:
        batch.add_column(
            sa.Column("alloc_tag", sa.String(length=32), nullable=False, server_default="")
        )
