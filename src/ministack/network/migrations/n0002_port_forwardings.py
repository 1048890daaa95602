"""network: floating IP port forwardings.

Revision ID: n0002
Revises: n0001
"""

import sqlalchemy as sa
from alembic import op

revision = "n0002"
down_revision = "n0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_port_forwardings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("floatingip_id", sa.String(length=36), nullable=False),
        sa.Column("internal_port_id", sa.String(length=36), nullable=False),
        sa.Column("internal_ip_address", sa.String(length=64), nullable=False),
        sa.Column("internal_port", sa.Integer(), nullable=False),
        sa.Column("external_port", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["floatingip_id"],
            ["network_floating_ips.id"],
            name=op.f("fk_network_port_forwardings_floatingip_id_network_floating_ips"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["internal_port_id"],
            ["network_ports.id"],
            name=op.f("fk_network_port_forwardings_internal_port_id_network_ports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_port_forwardings")),
        sa.UniqueConstraint(
            "floatingip_id",
            "external_port",
            "protocol",
            name=op.f("uq_network_port_forwardings_floatingip_id"),
        ),
        sa.UniqueConstraint(
            "internal_port_id",
            "internal_ip_address",
            "internal_port",
            "protocol",
            name=op.f("uq_network_port_forwardings_internal_port_id"),
        ),
    )
    op.create_index(
        op.f("ix_network_port_forwardings_internal_port_id"),
        "network_port_forwardings",
        ["internal_port_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("network_port_forwardings")
