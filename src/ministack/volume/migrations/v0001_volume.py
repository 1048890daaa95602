"""volume: initial tables (volumes, metadata, types, snapshots, attachments, transfers,
quotas).

Revision ID: v0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "v0001"
down_revision = None
branch_labels = ("volume",)
depends_on = "c0001"


def upgrade() -> None:
    op.create_table(
        "volume_attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=True),
        sa.Column("attached_host", sa.String(length=255), nullable=True),
        sa.Column("mountpoint", sa.String(length=255), nullable=True),
        sa.Column("attach_mode", sa.String(length=4), nullable=False),
        sa.Column("attach_status", sa.String(length=32), nullable=False),
        sa.Column("connector", sa.JSON(), nullable=True),
        sa.Column("attach_time", sa.DateTime(), nullable=True),
        sa.Column("detach_time", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_attachments")),
    )
    op.create_index(
        op.f("ix_volume_attachments_instance_uuid"),
        "volume_attachments",
        ["instance_uuid"],
        unique=False,
    )
    op.create_index(
        op.f("ix_volume_attachments_project_id"), "volume_attachments", ["project_id"], unique=False
    )
    op.create_index(
        op.f("ix_volume_attachments_volume_id"), "volume_attachments", ["volume_id"], unique=False
    )
    op.create_table(
        "volume_project_locks",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_volume_project_locks")),
    )
    op.create_table(
        "volume_quotas",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("hard_limit", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_volume_quotas")),
    )
    op.create_table(
        "volume_snapshots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("progress", sa.String(length=8), nullable=False),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_snapshots")),
    )
    op.create_index(
        op.f("ix_volume_snapshots_project_id"), "volume_snapshots", ["project_id"], unique=False
    )
    op.create_index(
        op.f("ix_volume_snapshots_status"), "volume_snapshots", ["status"], unique=False
    )
    op.create_index(
        op.f("ix_volume_snapshots_volume_id"), "volume_snapshots", ["volume_id"], unique=False
    )
    op.create_table(
        "volume_transfers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("crypt_hash", sa.String(length=128), nullable=False),
        sa.Column("no_snapshots", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_transfers")),
    )
    op.create_index(
        op.f("ix_volume_transfers_project_id"), "volume_transfers", ["project_id"], unique=False
    )
    op.create_index(
        op.f("ix_volume_transfers_volume_id"), "volume_transfers", ["volume_id"], unique=False
    )
    op.create_table(
        "volume_types",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_types")),
        sa.UniqueConstraint("name", name=op.f("uq_volume_types_name")),
    )
    op.create_table(
        "volume_volumes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attach_status", sa.String(length=32), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("volume_type_id", sa.String(length=36), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("source_volid", sa.String(length=36), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("bootable", sa.Boolean(), nullable=False),
        sa.Column("multiattach", sa.Boolean(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("consumes_quota", sa.Boolean(), nullable=False),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.Column("previous_size", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("launched_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_volumes")),
    )
    op.create_index(
        "ix_volume_volumes_project_created",
        "volume_volumes",
        ["project_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_volume_volumes_project_id"), "volume_volumes", ["project_id"], unique=False
    )
    op.create_index(op.f("ix_volume_volumes_status"), "volume_volumes", ["status"], unique=False)
    op.create_table(
        "volume_metadata",
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["volume_id"],
            ["volume_volumes.id"],
            name=op.f("fk_volume_metadata_volume_id_volume_volumes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("volume_id", "kind", "key", name=op.f("pk_volume_metadata")),
    )
    op.create_table(
        "volume_snapshot_metadata",
        sa.Column("snapshot_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["volume_snapshots.id"],
            name=op.f("fk_volume_snapshot_metadata_snapshot_id_volume_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "key", name=op.f("pk_volume_snapshot_metadata")),
    )
    op.create_table(
        "volume_type_extra_specs",
        sa.Column("type_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["volume_types.id"],
            name=op.f("fk_volume_type_extra_specs_type_id_volume_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("type_id", "key", name=op.f("pk_volume_type_extra_specs")),
    )
    op.create_table(
        "volume_type_projects",
        sa.Column("type_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["volume_types.id"],
            name=op.f("fk_volume_type_projects_type_id_volume_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("type_id", "project_id", name=op.f("pk_volume_type_projects")),
    )


def downgrade() -> None:
    op.drop_table("volume_type_projects")
    op.drop_table("volume_type_extra_specs")
    op.drop_table("volume_snapshot_metadata")
    op.drop_table("volume_metadata")
    op.drop_index(op.f("ix_volume_volumes_status"), table_name="volume_volumes")
    op.drop_index(op.f("ix_volume_volumes_project_id"), table_name="volume_volumes")
    op.drop_index("ix_volume_volumes_project_created", table_name="volume_volumes")
    op.drop_table("volume_volumes")
    op.drop_table("volume_types")
    op.drop_index(op.f("ix_volume_transfers_volume_id"), table_name="volume_transfers")
    op.drop_index(op.f("ix_volume_transfers_project_id"), table_name="volume_transfers")
    op.drop_table("volume_transfers")
    op.drop_index(op.f("ix_volume_snapshots_volume_id"), table_name="volume_snapshots")
    op.drop_index(op.f("ix_volume_snapshots_status"), table_name="volume_snapshots")
    op.drop_index(op.f("ix_volume_snapshots_project_id"), table_name="volume_snapshots")
    op.drop_table("volume_snapshots")
    op.drop_table("volume_quotas")
    op.drop_table("volume_project_locks")
    op.drop_index(op.f("ix_volume_attachments_volume_id"), table_name="volume_attachments")
    op.drop_index(op.f("ix_volume_attachments_project_id"), table_name="volume_attachments")
    op.drop_index(op.f("ix_volume_attachments_instance_uuid"), table_name="volume_attachments")
    op.drop_table("volume_attachments")
