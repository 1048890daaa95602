"""placement: initial tables.

Revision ID: p0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "p0001"
down_revision = None
branch_labels = ("placement",)
depends_on = "c0001"


def upgrade() -> None:
    op.create_table(
        "placement_resource_providers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_resource_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_placement_resource_providers_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_placement_resource_providers_uuid")),
    )
    op.create_table(
        "placement_allocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("consumer_id", sa.String(length=36), nullable=False),
        sa.Column("resource_class", sa.String(length=255), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["placement_resource_providers.id"],
            name=op.f("fk_placement_allocations_provider_id_placement_resource_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_allocations")),
        sa.UniqueConstraint(
            "consumer_id",
            "provider_id",
            "resource_class",
            name=op.f("uq_placement_allocations_consumer_id"),
        ),
    )
    op.create_index(
        op.f("ix_placement_allocations_consumer_id"),
        "placement_allocations",
        ["consumer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_placement_allocations_provider_id"),
        "placement_allocations",
        ["provider_id"],
        unique=False,
    )
    op.create_table(
        "placement_inventories",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("resource_class", sa.String(length=255), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("min_unit", sa.Integer(), nullable=False),
        sa.Column("max_unit", sa.Integer(), nullable=False),
        sa.Column("step_size", sa.Integer(), nullable=False),
        sa.Column("allocation_ratio", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["placement_resource_providers.id"],
            name=op.f("fk_placement_inventories_provider_id_placement_resource_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "provider_id", "resource_class", name=op.f("pk_placement_inventories")
        ),
    )


def downgrade() -> None:
    op.drop_table("placement_inventories")
    op.drop_index(op.f("ix_placement_allocations_provider_id"), table_name="placement_allocations")
    op.drop_index(op.f("ix_placement_allocations_consumer_id"), table_name="placement_allocations")
    op.drop_table("placement_allocations")
    op.drop_table("placement_resource_providers")
