"""identity: credentials (/v3/credentials and EC2 credentials), blobs encrypted at rest.

Revision ID: i0003cred
Revises: i0002sc
"""

import sqlalchemy as sa
from alembic import op

revision = "i0003cred"
down_revision = "i0002sc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("encrypted_blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_credentials_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_credentials")),
    )
    op.create_index(
        op.f("ix_identity_credentials_user_id"), "identity_credentials", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_identity_credentials_user_id"), table_name="identity_credentials")
    op.drop_table("identity_credentials")
