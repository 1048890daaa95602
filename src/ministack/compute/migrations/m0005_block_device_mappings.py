"""compute: block device mappings (volumes of instances).

Revision ID: m0005
Revises: m0003
"""

import sqlalchemy as sa
from alembic import op

revision = "m0005"
down_revision = "m0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_block_device_mappings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("attachment_id", sa.String(length=36), nullable=True),
        sa.Column("device_name", sa.String(length=64), nullable=False),
        sa.Column("boot_index", sa.Integer(), nullable=True),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("delete_on_termination", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_block_device_mappings")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_block_device_mappings_uuid")),
        sa.UniqueConstraint(
            "instance_uuid",
            "volume_id",
            name=op.f("uq_compute_block_device_mappings_instance_uuid"),
        ),
    )
    op.create_index(
        op.f("ix_compute_block_device_mappings_instance_uuid"),
        "compute_block_device_mappings",
        ["instance_uuid"],
        unique=False,
    )
    op.create_index(
        op.f("ix_compute_block_device_mappings_volume_id"),
        "compute_block_device_mappings",
        ["volume_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_compute_block_device_mappings_volume_id"),
        table_name="compute_block_device_mappings",
    )
    op.drop_index(
        op.f("ix_compute_block_device_mappings_instance_uuid"),
        table_name="compute_block_device_mappings",
    )
    op.drop_table("compute_block_device_mappings")
