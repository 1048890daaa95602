"""identity: access rules of application credentials.

Revision ID: i0007arules
Revises: i0006dconf
"""

import sqlalchemy as sa
from alembic import op

revision = "i0007arules"
down_revision = "i0006dconf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_access_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_access_rules_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_access_rules")),
        sa.UniqueConstraint(
            "user_id",
            "service",
            "method",
            "path",
            name=op.f("uq_identity_access_rules_user_id"),
        ),
    )
    op.create_index(op.f("ix_identity_access_rules_user_id"), "identity_access_rules", ["user_id"])
    table = "identity_app_cred_access_rules"
    op.create_table(
        table,
        sa.Column("app_cred_id", sa.String(length=64), nullable=False),
        sa.Column("access_rule_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_cred_id"],
            ["identity_app_credentials.id"],
            name=op.f(f"fk_{table}_app_cred_id_identity_app_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["access_rule_id"],
            ["identity_access_rules.id"],
            name=op.f(f"fk_{table}_access_rule_id_identity_access_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_cred_id", "access_rule_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_access_rule_id"), table, ["access_rule_id"])


def downgrade() -> None:
    table = "identity_app_cred_access_rules"
    op.drop_index(op.f(f"ix_{table}_access_rule_id"), table_name=table)
    op.drop_table(table)
    op.drop_index(op.f("ix_identity_access_rules_user_id"), table_name="identity_access_rules")
    op.drop_table("identity_access_rules")
