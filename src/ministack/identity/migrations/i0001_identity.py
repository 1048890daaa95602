"""identity: initial tables.

Revision ID: i0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "i0001"
down_revision = None
branch_labels = ("identity",)
depends_on = "c0001"


def upgrade() -> None:
    op.create_table(
        "identity_domains",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_domains")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_domains_name")),
    )
    op.create_table(
        "identity_regions",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_region_id", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_regions")),
    )
    op.create_table(
        "identity_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_revision")),
    )
    op.create_table(
        "identity_revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("audit_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("issued_before", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_revocations")),
    )
    op.create_index(
        op.f("ix_identity_revocations_audit_id"),
        "identity_revocations",
        ["audit_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_identity_revocations_expires_at"),
        "identity_revocations",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_identity_revocations_user_id"),
        "identity_revocations",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "identity_roles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_roles_name")),
    )
    op.create_table(
        "identity_services",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_services")),
    )
    op.create_index(op.f("ix_identity_services_type"), "identity_services", ["type"], unique=False)
    op.create_table(
        "identity_assignments",
        sa.Column("actor_type", sa.String(length=8), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.Column("inherited", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["identity_roles.id"],
            name=op.f("fk_identity_assignments_role_id_identity_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "actor_type",
            "actor_id",
            "target_type",
            "target_id",
            "role_id",
            "inherited",
            name=op.f("pk_identity_assignments"),
        ),
    )
    op.create_index(
        op.f("ix_identity_assignments_actor_id"),
        "identity_assignments",
        ["actor_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_identity_assignments_target_id"),
        "identity_assignments",
        ["target_id"],
        unique=False,
    )
    op.create_table(
        "identity_endpoints",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.String(length=8), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("region_id", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["identity_services.id"],
            name=op.f("fk_identity_endpoints_service_id_identity_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_endpoints")),
    )
    op.create_index(
        op.f("ix_identity_endpoints_service_id"),
        "identity_endpoints",
        ["service_id"],
        unique=False,
    )
    op.create_table(
        "identity_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domains.id"],
            name=op.f("fk_identity_groups_domain_id_identity_domains"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_groups")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_identity_groups_domain_id")),
    )
    op.create_index(
        op.f("ix_identity_groups_domain_id"),
        "identity_groups",
        ["domain_id"],
        unique=False,
    )
    op.create_table(
        "identity_implied_roles",
        sa.Column("prior_role_id", sa.String(length=64), nullable=False),
        sa.Column("implied_role_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["implied_role_id"],
            ["identity_roles.id"],
            name=op.f("fk_identity_implied_roles_implied_role_id_identity_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prior_role_id"],
            ["identity_roles.id"],
            name=op.f("fk_identity_implied_roles_prior_role_id_identity_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "prior_role_id", "implied_role_id", name=op.f("pk_identity_implied_roles")
        ),
    )
    op.create_table(
        "identity_projects",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domains.id"],
            name=op.f("fk_identity_projects_domain_id_identity_domains"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_projects")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_identity_projects_domain_id")),
    )
    op.create_index(
        op.f("ix_identity_projects_domain_id"),
        "identity_projects",
        ["domain_id"],
        unique=False,
    )
    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("default_project_id", sa.String(length=64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domains.id"],
            name=op.f("fk_identity_users_domain_id_identity_domains"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_users")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_identity_users_domain_id")),
    )
    op.create_index(
        op.f("ix_identity_users_domain_id"),
        "identity_users",
        ["domain_id"],
        unique=False,
    )
    op.create_table(
        "identity_app_credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("unrestricted", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_app_credentials_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_app_credentials")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_identity_app_credentials_user_id")),
    )
    op.create_index(
        op.f("ix_identity_app_credentials_user_id"),
        "identity_app_credentials",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "identity_group_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["identity_groups.id"],
            name=op.f("fk_identity_group_members_group_id_identity_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_group_members_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_identity_group_members")),
    )
    op.create_index(
        op.f("ix_identity_group_members_user_id"),
        "identity_group_members",
        ["user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_identity_group_members_user_id"), table_name="identity_group_members")
    op.drop_table("identity_group_members")
    op.drop_index(
        op.f("ix_identity_app_credentials_user_id"),
        table_name="identity_app_credentials",
    )
    op.drop_table("identity_app_credentials")
    op.drop_index(op.f("ix_identity_users_domain_id"), table_name="identity_users")
    op.drop_table("identity_users")
    op.drop_index(op.f("ix_identity_projects_domain_id"), table_name="identity_projects")
    op.drop_table("identity_projects")
    op.drop_table("identity_implied_roles")
    op.drop_index(op.f("ix_identity_groups_domain_id"), table_name="identity_groups")
    op.drop_table("identity_groups")
    op.drop_index(op.f("ix_identity_endpoints_service_id"), table_name="identity_endpoints")
    op.drop_table("identity_endpoints")
    op.drop_index(op.f("ix_identity_assignments_target_id"), table_name="identity_assignments")
    op.drop_index(op.f("ix_identity_assignments_actor_id"), table_name="identity_assignments")
    op.drop_table("identity_assignments")
    op.drop_index(op.f("ix_identity_services_type"), table_name="identity_services")
    op.drop_table("identity_services")
    op.drop_table("identity_roles")
    op.drop_index(op.f("ix_identity_revocations_user_id"), table_name="identity_revocations")
    op.drop_index(op.f("ix_identity_revocations_expires_at"), table_name="identity_revocations")
    op.drop_index(op.f("ix_identity_revocations_audit_id"), table_name="identity_revocations")
    op.drop_table("identity_revocations")
    op.drop_table("identity_revision")
    op.drop_table("identity_regions")
    op.drop_table("identity_domains")
