"""compute: block device mappings given at boot (block_device_mapping_v2): where the volume
comes from (source_type image/snapshot/blank/volume, destination_type), its size and type; a
mapping's volume_id is empty until compute has made the volume.

Revision ID: m0006bdm
Revises: m0005
"""

import sqlalchemy as sa
from alembic import op

revision = "m0006bdm"
down_revision = "m0005"
branch_labels = None
depends_on = None

TABLE = "compute_block_device_mappings"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("volume_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(
            sa.Column("source_type", sa.String(length=16), nullable=False, server_default="volume")
        )
        batch.add_column(
            sa.Column(
                "destination_type", sa.String(length=16), nullable=False, server_default="volume"
            )
        )
        batch.add_column(sa.Column("image_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("snapshot_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("volume_size", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("volume_type", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        for name in (
            "volume_type",
            "volume_size",
            "snapshot_id",
            "image_id",
            "destination_type",
            "source_type",
        ):
            batch.drop_column(name)
        batch.alter_column("volume_id", existing_type=sa.String(length=36), nullable=False)
