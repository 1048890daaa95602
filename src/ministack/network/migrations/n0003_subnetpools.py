"""network: subnet pools, and the pool a subnet was allocated from.

Revision ID: n0003
Revises: n0002
"""

import sqlalchemy as sa
from alembic import op

revision = "n0003"
down_revision = "n0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_subnetpools",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("prefixes", sa.Text(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("address_scope_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_subnetpools")),
    )
    op.create_index(
        op.f("ix_network_subnetpools_project_id"),
        "network_subnetpools",
        ["project_id"],
        unique=False,
    )
    op.add_column(
        "network_subnets", sa.Column("subnetpool_id", sa.String(length=36), nullable=True)
    )
    op.create_index(
        op.f("ix_network_subnets_subnetpool_id"),
        "network_subnets",
        ["subnetpool_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_network_subnets_subnetpool_id"), table_name="network_subnets")
    op.drop_column("network_subnets", "subnetpool_id")
    op.drop_table("network_subnetpools")
