"""image: initial tables.

Revision ID: g0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "g0001"
down_revision = None
branch_labels = ("image",)
depends_on = "c0001"


def upgrade() -> None:
    op.create_table(
        "image_images",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("disk_format", sa.String(length=20), nullable=True),
        sa.Column("container_format", sa.String(length=20), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("virtual_size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=32), nullable=True),
        sa.Column("os_hash_algo", sa.String(length=64), nullable=True),
        sa.Column("os_hash_value", sa.String(length=128), nullable=True),
        sa.Column("min_disk", sa.Integer(), nullable=False),
        sa.Column("min_ram", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("os_hidden", sa.Boolean(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("staged_size", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_images")),
    )
    op.create_index("ix_image_images_created", "image_images", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_image_images_name"), "image_images", ["name"], unique=False)
    op.create_index(
        "ix_image_images_owner_status", "image_images", ["owner", "status"], unique=False
    )
    op.create_index(op.f("ix_image_images_status"), "image_images", ["status"], unique=False)
    op.create_index(
        op.f("ix_image_images_visibility"), "image_images", ["visibility"], unique=False
    )
    op.create_table(
        "image_members",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["image_images.id"],
            name=op.f("fk_image_members_image_id_image_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", "member", name=op.f("pk_image_members")),
    )
    op.create_index(op.f("ix_image_members_member"), "image_members", ["member"], unique=False)
    op.create_table(
        "image_properties",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["image_images.id"],
            name=op.f("fk_image_properties_image_id_image_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", "name", name=op.f("pk_image_properties")),
    )
    op.create_table(
        "image_tags",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["image_images.id"],
            name=op.f("fk_image_tags_image_id_image_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("image_id", "value", name=op.f("pk_image_tags")),
    )
    op.create_index(op.f("ix_image_tags_value"), "image_tags", ["value"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_image_tags_value"), table_name="image_tags")
    op.drop_table("image_tags")
    op.drop_table("image_properties")
    op.drop_index(op.f("ix_image_members_member"), table_name="image_members")
    op.drop_table("image_members")
    op.drop_index(op.f("ix_image_images_visibility"), table_name="image_images")
    op.drop_index(op.f("ix_image_images_status"), table_name="image_images")
    op.drop_index("ix_image_images_owner_status", table_name="image_images")
    op.drop_index(op.f("ix_image_images_name"), table_name="image_images")
    op.drop_index("ix_image_images_created", table_name="image_images")
    op.drop_table("image_images")
