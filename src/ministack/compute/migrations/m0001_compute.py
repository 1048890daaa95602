"""compute: initial tables.

Revision ID: m0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "m0001"
down_revision = None
branch_labels = ("compute",)
depends_on = "c0001"


def upgrade() -> None:
    op.create_table(
        "compute_aggregates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("hosts", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_aggregates")),
        sa.UniqueConstraint("name", name=op.f("uq_compute_aggregates_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_aggregates_uuid")),
    )
    op.create_table(
        "compute_flavors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flavorid", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("root_gb", sa.Integer(), nullable=False),
        sa.Column("ephemeral_gb", sa.Integer(), nullable=False),
        sa.Column("swap", sa.Integer(), nullable=False),
        sa.Column("rxtx_factor", sa.Float(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extra_specs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_flavors")),
        sa.UniqueConstraint("flavorid", name=op.f("uq_compute_flavors_flavorid")),
        sa.UniqueConstraint("name", name=op.f("uq_compute_flavors_name")),
    )
    op.create_table(
        "compute_idempotency_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", "project_id", name=op.f("pk_compute_idempotency_keys")),
    )
    op.create_table(
        "compute_instance_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_instance_actions")),
    )
    op.create_index(
        op.f("ix_compute_instance_actions_instance_uuid"),
        "compute_instance_actions",
        ["instance_uuid"],
        unique=False,
    )
    op.create_index(
        op.f("ix_compute_instance_actions_request_id"),
        "compute_instance_actions",
        ["request_id"],
        unique=False,
    )
    op.create_table(
        "compute_instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("display_description", sa.Text(), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("reservation_id", sa.String(length=255), nullable=False),
        sa.Column("launch_index", sa.Integer(), nullable=False),
        sa.Column("image_ref", sa.String(length=255), nullable=False),
        sa.Column("flavor", sa.JSON(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("root_gb", sa.Integer(), nullable=False),
        sa.Column("key_name", sa.String(length=255), nullable=True),
        sa.Column("key_data", sa.Text(), nullable=True),
        sa.Column("user_data", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("system_metadata", sa.JSON(), nullable=False),
        sa.Column("request_spec", sa.JSON(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.Column("vm_state", sa.String(length=255), nullable=False),
        sa.Column("task_state", sa.String(length=255), nullable=True),
        sa.Column("power_state", sa.Integer(), nullable=False),
        sa.Column("task_started_at", sa.DateTime(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("locked_by", sa.String(length=16), nullable=True),
        sa.Column("config_drive", sa.String(length=255), nullable=False),
        sa.Column("access_ip_v4", sa.String(length=64), nullable=True),
        sa.Column("access_ip_v6", sa.String(length=64), nullable=True),
        sa.Column("security_groups", sa.JSON(), nullable=False),
        sa.Column("fault", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("launched_at", sa.DateTime(), nullable=True),
        sa.Column("terminated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_instances")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_instances_uuid")),
    )
    op.create_index(
        op.f("ix_compute_instances_created_at"), "compute_instances", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_compute_instances_deleted"), "compute_instances", ["deleted"], unique=False
    )
    op.create_index(op.f("ix_compute_instances_host"), "compute_instances", ["host"], unique=False)
    op.create_index(
        op.f("ix_compute_instances_project_id"), "compute_instances", ["project_id"], unique=False
    )
    op.create_index(
        op.f("ix_compute_instances_updated_at"), "compute_instances", ["updated_at"], unique=False
    )
    op.create_table(
        "compute_keypairs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=255), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_keypairs")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_compute_keypairs_user_id")),
    )
    op.create_index(
        op.f("ix_compute_keypairs_user_id"), "compute_keypairs", ["user_id"], unique=False
    )
    op.create_table(
        "compute_nodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_hostname", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_type", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_version", sa.Integer(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("local_gb", sa.Integer(), nullable=False),
        sa.Column("cpu_info", sa.Text(), nullable=False),
        sa.Column("architecture", sa.String(length=32), nullable=False),
        sa.Column("host_ip", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_nodes")),
        sa.UniqueConstraint(
            "hypervisor_hostname", name=op.f("uq_compute_nodes_hypervisor_hostname")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_nodes_uuid")),
    )
    op.create_index(op.f("ix_compute_nodes_host"), "compute_nodes", ["host"], unique=False)
    op.create_table(
        "compute_project_locks",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_compute_project_locks")),
    )
    op.create_table(
        "compute_quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_compute_quotas")),
    )
    op.create_table(
        "compute_server_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("policy", sa.String(length=255), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_server_groups")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_server_groups_uuid")),
    )
    op.create_index(
        op.f("ix_compute_server_groups_project_id"),
        "compute_server_groups",
        ["project_id"],
        unique=False,
    )
    op.create_table(
        "compute_flavor_access",
        sa.Column("flavor_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["flavor_id"],
            ["compute_flavors.id"],
            name=op.f("fk_compute_flavor_access_flavor_id_compute_flavors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("flavor_id", "project_id", name=op.f("pk_compute_flavor_access")),
    )
    op.create_table(
        "compute_instance_action_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("finish_time", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=255), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["compute_instance_actions.id"],
            name=op.f("fk_compute_instance_action_events_action_id_compute_instance_actions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_instance_action_events")),
    )
    op.create_index(
        op.f("ix_compute_instance_action_events_action_id"),
        "compute_instance_action_events",
        ["action_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_compute_instance_action_events_action_id"),
        table_name="compute_instance_action_events",
    )
    op.drop_table("compute_instance_action_events")
    op.drop_table("compute_flavor_access")
    op.drop_index(op.f("ix_compute_server_groups_project_id"), table_name="compute_server_groups")
    op.drop_table("compute_server_groups")
    op.drop_table("compute_quotas")
    op.drop_table("compute_project_locks")
    op.drop_index(op.f("ix_compute_nodes_host"), table_name="compute_nodes")
    op.drop_table("compute_nodes")
    op.drop_index(op.f("ix_compute_keypairs_user_id"), table_name="compute_keypairs")
    op.drop_table("compute_keypairs")
    op.drop_index(op.f("ix_compute_instances_updated_at"), table_name="compute_instances")
    op.drop_index(op.f("ix_compute_instances_project_id"), table_name="compute_instances")
    op.drop_index(op.f("ix_compute_instances_host"), table_name="compute_instances")
    op.drop_index(op.f("ix_compute_instances_deleted"), table_name="compute_instances")
    op.drop_index(op.f("ix_compute_instances_created_at"), table_name="compute_instances")
    op.drop_table("compute_instances")
    op.drop_index(
        op.f("ix_compute_instance_actions_request_id"), table_name="compute_instance_actions"
    )
    op.drop_index(
        op.f("ix_compute_instance_actions_instance_uuid"), table_name="compute_instance_actions"
    )
    op.drop_table("compute_instance_actions")
    op.drop_table("compute_idempotency_keys")
    op.drop_table("compute_flavors")
    op.drop_table("compute_aggregates")
