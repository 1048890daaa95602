"""objectstore: accounts, containers, objects.

Revision ID: o0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "o0001"
down_revision = None
branch_labels = ("objectstore",)
depends_on = "c0001"

OBJECT_NAME = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")
CONTAINER_NAME = sa.String(256).with_variant(sa.String(256, collation="C"), "postgresql")
TIME = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "objstore_accounts",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("container_count", sa.BigInteger(), nullable=False),
        sa.Column("object_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes_used", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_objstore_accounts")),
    )
    op.create_table(
        "objstore_containers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("name", CONTAINER_NAME, nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("read_acl", sa.Text(), nullable=False),
        sa.Column("write_acl", sa.Text(), nullable=False),
        sa.Column("object_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes_used", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objstore_containers")),
    )
    op.create_index(
        "ix_objstore_containers_account_name",
        "objstore_containers",
        ["account", "name"],
        unique=True,
    )
    op.create_table(
        "objstore_objects",
        sa.Column("container_id", sa.Integer(), nullable=False),
        sa.Column("name", OBJECT_NAME, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=256), nullable=False),
        sa.Column("last_modified", TIME, nullable=False),
        sa.Column("delete_at", sa.BigInteger(), nullable=True),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["objstore_containers.id"],
            name=op.f("fk_objstore_objects_container_id_objstore_containers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("container_id", "name", name=op.f("pk_objstore_objects")),
    )
    op.create_index("ix_objstore_objects_delete_at", "objstore_objects", ["delete_at"])
    op.create_index("ix_objstore_objects_location", "objstore_objects", ["location"])


def downgrade() -> None:
    op.drop_table("objstore_objects")
    op.drop_table("objstore_containers")
    op.drop_table("objstore_accounts")
