"""compute: web console tokens (os-remote-consoles, os-console-auth-tokens).

Revision ID: m0003
Revises: m0002
"""

import sqlalchemy as sa
from alembic import op

revision = "m0003"
down_revision = "m0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_console_auth_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("console_type", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("internal_access_path", sa.String(length=255), nullable=True),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_console_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_compute_console_auth_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_compute_console_auth_tokens_instance_uuid"),
        "compute_console_auth_tokens",
        ["instance_uuid"],
        unique=False,
    )
    op.create_index(
        op.f("ix_compute_console_auth_tokens_expires"),
        "compute_console_auth_tokens",
        ["expires"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_compute_console_auth_tokens_expires"), table_name="compute_console_auth_tokens"
    )
    op.drop_index(
        op.f("ix_compute_console_auth_tokens_instance_uuid"),
        table_name="compute_console_auth_tokens",
    )
    op.drop_table("compute_console_auth_tokens")
