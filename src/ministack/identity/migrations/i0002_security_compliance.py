"""identity: [security_compliance] state of each user (lockout counter, expiry, history).

Revision ID: i0002sc
Revises: i0001
"""

import sqlalchemy as sa
from alembic import op

revision = "i0002sc"
down_revision = "i0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "identity_users",
        sa.Column("failed_auth_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("identity_users", sa.Column("failed_auth_at", sa.DateTime(), nullable=True))
    op.add_column("identity_users", sa.Column("password_expires_at", sa.DateTime(), nullable=True))
    op.add_column(
        "identity_users",
        sa.Column("password_history", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    for column in (
        "password_history",
        "password_expires_at",
        "failed_auth_at",
        "failed_auth_count",
    ):
        op.drop_column("identity_users", column)
