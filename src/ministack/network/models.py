"""Networking tables (Neutron's schema, trimmed): networks with their segment, subnets, ports,
IP allocations, security groups and rules, routers, floating IPs, quotas, tags and agents.

List-valued attributes that are only ever read and written whole (DNS servers, host routes,
allocation pools, allowed address pairs, extra DHCP options, binding details) are JSON text
columns. What must be unique under concurrency is a constraint, so the database refuses a
second claim: a VNI per network type, a MAC per network, an address per subnet.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ministack.common.db import Base, utcnow


class StandardAttrs:
    """Neutron's standard attributes: description, revision, timestamps."""

    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Network(StandardAttrs, Base):
    __tablename__ = "network_networks"
    __table_args__ = (
        UniqueConstraint("network_type", "physical_network", "segmentation_id"),
        Index("ix_network_networks_project", "project_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    network_type: Mapped[str] = mapped_column(String(16))
    # '' rather than NULL so the unique constraint also holds for vxlan (no physnet)
    physical_network: Mapped[str] = mapped_column(String(64), default="")
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dns_domain: Mapped[str] = mapped_column(String(255), default="")
    availability_zone_hints: Mapped[str] = mapped_column(Text, default="[]")


class Subnet(StandardAttrs, Base):
    __tablename__ = "network_subnets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("network_networks.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dns_nameservers: Mapped[str] = mapped_column(Text, default="[]")
    host_routes: Mapped[str] = mapped_column(Text, default="[]")
    allocation_pools: Mapped[str] = mapped_column(Text, default="[]")
    service_types: Mapped[str] = mapped_column(Text, default="[]")
    # no foreign key: SQLite cannot add one to an existing table without copying it; a pool
    # is deleted only when no subnet names it, checked with the pool's row locked
    subnetpool_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class SubnetPool(StandardAttrs, Base):
    """A pool of prefixes subnets are carved from (Neutron's subnetpools). Its prefixes are
    kept compacted (adjacent and nested ones merged) as a JSON list of CIDRs."""

    __tablename__ = "network_subnetpools"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer)
    prefixes: Mapped[str] = mapped_column(Text, default="[]")
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    default_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    address_scope_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Port(StandardAttrs, Base):
    __tablename__ = "network_ports"
    __table_args__ = (
        UniqueConstraint("network_id", "mac_address"),
        Index("ix_network_ports_device", "device_id"),
        Index("ix_network_ports_project", "project_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    network_id: Mapped[str] = mapped_column(ForeignKey("network_networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="")
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    host: Mapped[str] = mapped_column(String(255), default="", index=True)
    vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    vif_details: Mapped[str] = mapped_column(Text, default="{}")
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    binding_profile: Mapped[str] = mapped_column(Text, default="{}")
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_address_pairs: Mapped[str] = mapped_column(Text, default="[]")
    extra_dhcp_opts: Mapped[str] = mapped_column(Text, default="[]")
    dns_name: Mapped[str] = mapped_column(String(255), default="")


class IPAllocation(Base):
    """One address of a port. The primary key (subnet, address) is the IPAM claim: two
    ports can never hold one address, whatever the isolation level."""

    __tablename__ = "network_ip_allocations"
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("network_subnets.id", ondelete="CASCADE"), primary_key=True
    )
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), index=True
    )
    network_id: Mapped[str] = mapped_column(String(36), index=True)


class SecurityGroup(StandardAttrs, Base):
    __tablename__ = "network_security_groups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class DefaultSecurityGroup(Base):
    """The project's `default` group: one per project, claimed by this primary key."""

    __tablename__ = "network_default_security_groups"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_groups.id", ondelete="CASCADE")
    )


class SecurityGroupRule(StandardAttrs, Base):
    __tablename__ = "network_security_group_rules"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_groups.id", ondelete="CASCADE"), index=True
    )
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("network_security_groups.id", ondelete="CASCADE"), nullable=True
    )
    remote_address_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    direction: Mapped[str] = mapped_column(String(8))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    normalized_cidr: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PortSecurityGroup(Base):
    __tablename__ = "network_port_security_groups"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("network_security_groups.id"), primary_key=True, index=True
    )


class Router(StandardAttrs, Base):
    __tablename__ = "network_routers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    gw_network_id: Mapped[str | None] = mapped_column(
        ForeignKey("network_networks.id"), nullable=True
    )
    gw_port_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    routes: Mapped[str] = mapped_column(Text, default="[]")
    distributed: Mapped[bool] = mapped_column(Boolean, default=False)
    ha: Mapped[bool] = mapped_column(Boolean, default=False)
    availability_zone_hints: Mapped[str] = mapped_column(Text, default="[]")


class RouterPort(Base):
    """A router interface or gateway: which port of which router (Neutron's routerports)."""

    __tablename__ = "network_router_ports"
    router_id: Mapped[str] = mapped_column(
        ForeignKey("network_routers.id", ondelete="CASCADE"), primary_key=True
    )
    port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
    port_type: Mapped[str] = mapped_column(String(255))


class FloatingIP(StandardAttrs, Base):
    __tablename__ = "network_floating_ips"
    __table_args__ = (UniqueConstraint("floating_network_id", "floating_ip_address"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    floating_network_id: Mapped[str] = mapped_column(ForeignKey("network_networks.id"))
    floating_port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE")
    )
    fixed_port_id: Mapped[str | None] = mapped_column(
        ForeignKey("network_ports.id"), nullable=True, index=True
    )
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    router_id: Mapped[str | None] = mapped_column(ForeignKey("network_routers.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    dns_domain: Mapped[str] = mapped_column(String(255), default="")


class Tag(Base):
    """A standard-attr tag of any resource (resource ids are UUIDs, unique across kinds)."""

    __tablename__ = "network_tags"
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class Quota(Base):
    """A project's own limit for one resource (absent: the configured default)."""

    __tablename__ = "network_quotas"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class ProjectLock(Base):
    """One row per project, locked FOR UPDATE while a quota claim counts and inserts
    (PostgreSQL; SQLite's write transactions are already exclusive)."""

    __tablename__ = "network_project_locks"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Agent(Base):
    """A network agent of one host (DHCP, metadata, Linux bridge) and its last heartbeat."""

    __tablename__ = "network_agents"
    __table_args__ = (UniqueConstraint("agent_type", "host"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255), default="")
    host: Mapped[str] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    configurations: Mapped[str] = mapped_column(Text, default="{}")
    resources_synced: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_timestamp: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PortForwarding(Base):
    """A floating IP's port forwarding: (floating IP, external port, protocol) → an internal
    address and port of a project's port (Neutron's portforwardings). Both ends are unique."""

    __tablename__ = "network_port_forwardings"
    __table_args__ = (
        UniqueConstraint("floatingip_id", "external_port", "protocol"),
        UniqueConstraint("internal_port_id", "internal_ip_address", "internal_port", "protocol"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    floatingip_id: Mapped[str] = mapped_column(
        ForeignKey("network_floating_ips.id", ondelete="CASCADE")
    )
    internal_port_id: Mapped[str] = mapped_column(
        ForeignKey("network_ports.id", ondelete="CASCADE"), index=True
    )
    internal_ip_address: Mapped[str] = mapped_column(String(64))
    internal_port: Mapped[int] = mapped_column(Integer)
    external_port: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(255), default="")
