"""identity: endpoint groups and project-endpoint associations (OS-EP-FILTER).

Revision ID: i0005epf
Revises: i0004trust
"""

import sqlalchemy as sa
from alembic import op

revision = "i0005epf"
down_revision = "i0004trust"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "identity_endpoint_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_endpoint_groups")),
    )
    table = "identity_project_endpoints"
    op.create_table(
        table,
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        _fk(table, "project_id", "identity_projects"),
        _fk(table, "endpoint_id", "identity_endpoints"),
        sa.PrimaryKeyConstraint("project_id", "endpoint_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_endpoint_id"), table, ["endpoint_id"])
    table = "identity_project_endpoint_groups"
    op.create_table(
        table,
        sa.Column("endpoint_group_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        _fk(table, "endpoint_group_id", "identity_endpoint_groups"),
        _fk(table, "project_id", "identity_projects"),
        sa.PrimaryKeyConstraint("endpoint_group_id", "project_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_project_id"), table, ["project_id"])


def downgrade() -> None:
    op.drop_index(
        op.f("ix_identity_project_endpoint_groups_project_id"),
        table_name="identity_project_endpoint_groups",
    )
    op.drop_table("identity_project_endpoint_groups")
    op.drop_index(
        op.f("ix_identity_project_endpoints_endpoint_id"), table_name="identity_project_endpoints"
    )
    op.drop_table("identity_project_endpoints")
    op.drop_table("identity_endpoint_groups")
