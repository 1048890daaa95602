"""identity: OS-OAUTH1 consumers, request tokens and access tokens.

Revision ID: i0008oauth1
Revises: i0007arules
"""

import sqlalchemy as sa
from alembic import op

revision = "i0008oauth1"
down_revision = "i0007arules"
branch_labels = None
depends_on = None


def _consumer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["consumer_id"],
        ["identity_oauth_consumers.id"],
        name=op.f(f"fk_{table}_consumer_id_identity_oauth_consumers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "identity_oauth_consumers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_oauth_consumers")),
    )
    table = "identity_oauth_request_tokens"
    op.create_table(
        table,
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("consumer_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=True),
        sa.Column("authorizing_user_id", sa.String(length=64), nullable=True),
        sa.Column("verifier", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        _consumer_fk(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_consumer_id"), table, ["consumer_id"])
    table = "identity_oauth_access_tokens"
    op.create_table(
        table,
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("consumer_id", sa.String(length=64), nullable=False),
        sa.Column("authorizing_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        _consumer_fk(table),
        sa.ForeignKeyConstraint(
            ["authorizing_user_id"],
            ["identity_users.id"],
            name=op.f(f"fk_{table}_authorizing_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_consumer_id"), table, ["consumer_id"])
    op.create_index(op.f(f"ix_{table}_authorizing_user_id"), table, ["authorizing_user_id"])


def downgrade() -> None:
    op.drop_table("identity_oauth_access_tokens")
    op.drop_table("identity_oauth_request_tokens")
    op.drop_table("identity_oauth_consumers")
