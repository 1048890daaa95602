"""image: metadata definitions (namespaces, objects, properties, tags, resource types and
their associations) and import tasks.

Revision ID: g0002
Revises: g0001
"""

import sqlalchemy as sa
from alembic import op

revision = "g0002"
down_revision = "g0001"
branch_labels = None
depends_on = None

_NAME = 80


def _times() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def _in_namespace(table: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        *columns,
        *_times(),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["image_metadef_namespaces.id"],
            name=op.f(f"fk_{table}_namespace_id_image_metadef_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f(f"uq_{table}_namespace_id")),
    )
    op.create_index(op.f(f"ix_{table}_namespace_id"), table, ["namespace_id"], unique=False)


def upgrade() -> None:
    op.create_table(
        "image_metadef_namespaces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(length=_NAME), nullable=False),
        sa.Column("display_name", sa.String(length=_NAME), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_metadef_namespaces")),
        sa.UniqueConstraint("namespace", name=op.f("uq_image_metadef_namespaces_namespace")),
    )
    op.create_index(
        op.f("ix_image_metadef_namespaces_owner"), "image_metadef_namespaces", ["owner"]
    )
    _in_namespace(
        "image_metadef_objects",
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("required", sa.JSON(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=True),
    )
    _in_namespace("image_metadef_properties", sa.Column("definition", sa.JSON(), nullable=False))
    _in_namespace("image_metadef_tags")
    op.create_table(
        "image_metadef_resource_types",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=_NAME), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_metadef_resource_types")),
        sa.UniqueConstraint("name", name=op.f("uq_image_metadef_resource_types_name")),
    )
    op.create_table(
        "image_metadef_associations",
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("resource_type_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=_NAME), nullable=True),
        sa.Column("properties_target", sa.String(length=_NAME), nullable=True),
        *_times(),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["image_metadef_namespaces.id"],
            name=op.f("fk_image_metadef_associations_namespace_id_image_metadef_namespaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_type_id"],
            ["image_metadef_resource_types.id"],
            name=op.f(
                "fk_image_metadef_associations_resource_type_id_image_metadef_resource_types"
            ),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "namespace_id", "resource_type_id", name=op.f("pk_image_metadef_associations")
        ),
    )
    op.create_table(
        "image_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_tasks")),
    )
    for column in ("status", "owner", "image_id"):
        op.create_index(op.f(f"ix_image_tasks_{column}"), "image_tasks", [column])


def downgrade() -> None:
    op.drop_table("image_tasks")
    op.drop_table("image_metadef_associations")
    op.drop_table("image_metadef_resource_types")
    for table in ("image_metadef_tags", "image_metadef_properties", "image_metadef_objects"):
        op.drop_table(table)
    op.drop_table("image_metadef_namespaces")
