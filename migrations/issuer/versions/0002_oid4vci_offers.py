"""OpenID4VCI credential offers and spent nonces

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("type_name", sa.String(length=64), nullable=False),
        sa.Column("configuration_id", sa.String(length=64), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_code_hash", sa.String(length=64), nullable=True),
        sa.Column("tx_code_description", sa.String(length=300), nullable=True),
        sa.Column("tx_code_failures", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("credential_offer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credential_offer_public_id"), ["public_id"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_credential_offer_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_credential_offer_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "spent_nonce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce_hash"),
    )
    with op.batch_alter_table("spent_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_nonce_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spent_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_nonce_expires_at"))
    op.drop_table("spent_nonce")
    with op.batch_alter_table("credential_offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_offer_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_credential_offer_state"))
        batch_op.drop_index(batch_op.f("ix_credential_offer_public_id"))
    op.drop_table("credential_offer")
