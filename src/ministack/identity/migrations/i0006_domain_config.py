"""identity: domain-specific configuration.

Revision ID: i0006dconf
Revises: i0005epf
"""

import sqlalchemy as sa
from alembic import op

revision = "i0006dconf"
down_revision = "i0005epf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_domain_configs",
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domains.id"],
            name=op.f("fk_identity_domain_configs_domain_id_identity_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("domain_id", name=op.f("pk_identity_domain_configs")),
    )


def downgrade() -> None:
    op.drop_table("identity_domain_configs")
