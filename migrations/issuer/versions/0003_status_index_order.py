"""Status lists hand out their indices in a stored random order; alloc_tag goes

Each list gets a ``status_list_order`` row: its indices in a random order, the ones
already taken by a credential first (so that ``allocated`` still counts them), the free
ones shuffled after.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import secrets
import sys
from array import array

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _order(size: int, taken: list[int]) -> bytes:
    chosen = set(taken)
    free = array("I", (i for i in range(size) if i not in chosen))
    secrets.SystemRandom().shuffle(free)
    order = array("I", sorted(chosen))
    order.extend(free)
    if sys.byteorder == "big":
        order.byteswap()
    return order.tobytes()


def upgrade() -> None:
    op.create_table(
        "status_list_order",
        sa.Column("status_list_id", sa.Integer(), nullable=False),
        sa.Column("index_order", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["status_list_id"], ["status_list.id"]),
        sa.PrimaryKeyConstraint("status_list_id"),
    )
    connection = op.get_bind()
    lists = connection.execute(sa.text("SELECT id, size FROM status_list")).all()
    for list_id, size in lists:
        taken = list(
            connection.execute(
                sa.text("SELECT status_idx FROM credential WHERE status_list_id = :id"),
                {"id": list_id},
            ).scalars()
        )
        connection.execute(
            sa.text("INSERT INTO status_list_order VALUES (:id, :order)"),
            {"id": list_id, "order": _order(size, taken)},
        )
        connection.execute(
            sa.text("UPDATE status_list SET allocated = :n WHERE id = :id"),
            {"n": len(taken), "id": list_id},
        )
    with op.batch_alter_table("status_list") as batch:
        batch.drop_column("alloc_tag")


def downgrade() -> None:
    with op.batch_alter_table("status_list") as batch:
        batch.add_column(
            sa.Column("alloc_tag", sa.String(length=32), nullable=False, server_default="")
        )
    op.drop_table("status_list_order")
