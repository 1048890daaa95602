"""identity: trusts (OS-TRUST).

Revision ID: i0004trust
Revises: i0003cred
"""

import sqlalchemy as sa
from alembic import op

revision = "i0004trust"
down_revision = "i0003cred"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_trusts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trustor_user_id", sa.String(length=64), nullable=False),
        sa.Column("trustee_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("impersonation", sa.Boolean(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("remaining_uses", sa.Integer(), nullable=True),
        sa.Column("allow_redelegation", sa.Boolean(), nullable=False),
        sa.Column("redelegation_count", sa.Integer(), nullable=False),
        sa.Column("redelegated_trust_id", sa.String(length=64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trustor_user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_trusts_trustor_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trustee_user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_trusts_trustee_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_trusts")),
    )
    for col in ("trustor_user_id", "trustee_user_id", "redelegated_trust_id"):
        op.create_index(op.f(f"ix_identity_trusts_{col}"), "identity_trusts", [col])


def downgrade() -> None:
    for col in ("trustor_user_id", "trustee_user_id", "redelegated_trust_id"):
        op.drop_index(op.f(f"ix_identity_trusts_{col}"), table_name="identity_trusts")
    op.drop_table("identity_trusts")
