"""Security groups and their rules as Neutron stores, validates and returns them; the default
group of each project, made on first use with Neutron's default rules.

Where it sits: called by `api/security_groups.py` and by port creation (a port gets its
project's default group). Packet filtering from these rules is the agent's business (part 2).
The default group is claimed by the primary key of `network_default_security_groups`, so two
racing first uses make one group.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.network import models as m
from ministack.network.core import not_found, tags_of
from ministack.network.listing import Kind
from ministack.network.views import owner, standard

DEFAULT = "default"
PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "6", "17", "132", "dccp", "udplite", "33", "136")

GROUP_KIND = Kind(
    model=m.SecurityGroup,
    collection="security_groups",
    filters={
        "id": m.SecurityGroup.id,
        "name": m.SecurityGroup.name,
        "description": m.SecurityGroup.description,
        "stateful": m.SecurityGroup.stateful,
        "shared": m.SecurityGroup.shared,
        "revision_number": m.SecurityGroup.revision_number,
    },
    sorts={
        "id": m.SecurityGroup.id,
        "name": m.SecurityGroup.name,
        "created_at": m.SecurityGroup.created_at,
        "project_id": m.SecurityGroup.project_id,
        "tenant_id": m.SecurityGroup.project_id,
    },
    bools=frozenset({"stateful", "shared"}),
    ints=frozenset({"revision_number"}),
)
RULE_KIND = Kind(
    model=m.SecurityGroupRule,
    collection="security_group_rules",
    filters={
        "id": m.SecurityGroupRule.id,
        "security_group_id": m.SecurityGroupRule.security_group_id,
        "remote_group_id": m.SecurityGroupRule.remote_group_id,
        "direction": m.SecurityGroupRule.direction,
        "ethertype": m.SecurityGroupRule.ethertype,
        "protocol": m.SecurityGroupRule.protocol,
        "port_range_min": m.SecurityGroupRule.port_range_min,
        "port_range_max": m.SecurityGroupRule.port_range_max,
        "remote_ip_prefix": m.SecurityGroupRule.remote_ip_prefix,
        "description": m.SecurityGroupRule.description,
        "revision_number": m.SecurityGroupRule.revision_number,
    },
    sorts={
        "id": m.SecurityGroupRule.id,
        "direction": m.SecurityGroupRule.direction,
        "protocol": m.SecurityGroupRule.protocol,
        "created_at": m.SecurityGroupRule.created_at,
        "project_id": m.SecurityGroupRule.project_id,
        "tenant_id": m.SecurityGroupRule.project_id,
    },
    ints=frozenset({"port_range_min", "port_range_max", "revision_number"}),
)


def group_visible(auth: Auth) -> Any:
    if auth.reads_all:
        return true()
    return or_(
        m.SecurityGroup.project_id == (auth.project_id or ""), m.SecurityGroup.shared.is_(True)
    )


def rule_visible(auth: Auth) -> Any:
    if auth.reads_all:
        return true()
    own_groups = select(m.SecurityGroup.id).where(
        m.SecurityGroup.project_id == (auth.project_id or "")
    )
    return or_(
        m.SecurityGroupRule.project_id == (auth.project_id or ""),
        m.SecurityGroupRule.security_group_id.in_(own_groups),
    )


def rule_body(row: m.SecurityGroupRule, tags: list[str] | None = None) -> dict[str, Any]:
    body = {
        "id": row.id,
        **owner(row),
        "security_group_id": row.security_group_id,
        "direction": row.direction,
        "ethertype": row.ethertype,
        "protocol": row.protocol,
        "port_range_min": row.port_range_min,
        "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix,
        "remote_group_id": row.remote_group_id,
        "remote_address_group_id": row.remote_address_group_id,
        "normalized_cidr": row.normalized_cidr,
        "belongs_to_default_sg": None,
        **standard(row, tags or []),
    }
    body.pop("tags")
    return body


async def render_groups(s: AsyncSession, rows: list[m.SecurityGroup]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    rules: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        found = await s.execute(
            select(m.SecurityGroupRule)
            .where(m.SecurityGroupRule.security_group_id.in_(ids))
            .order_by(m.SecurityGroupRule.created_at, m.SecurityGroupRule.id)
        )
        for rule_row in found.scalars():
            rules[rule_row.security_group_id].append(rule_body(rule_row))
    defaults = set(
        (
            await s.execute(
                select(m.DefaultSecurityGroup.security_group_id).where(
                    m.DefaultSecurityGroup.security_group_id.in_(ids)
                )
            )
        ).scalars()
    )
    tags = await tags_of(s, ids)
    out = []
    for row in rows:
        for rule in rules[row.id]:
            rule["belongs_to_default_sg"] = row.id in defaults
        out.append(
            {
                "id": row.id,
                "name": row.name,
                **owner(row),
                "stateful": row.stateful,
                "shared": row.shared,
                "security_group_rules": rules[row.id],
                **standard(row, tags.get(row.id, [])),
            }
        )
    return out


def new_rule(group: m.SecurityGroup, **fields: Any) -> m.SecurityGroupRule:
    now = utcnow()
    prefix = fields.get("remote_ip_prefix")
    return m.SecurityGroupRule(
        id=str(uuid.uuid4()),
        project_id=group.project_id,
        security_group_id=group.id,
        normalized_cidr=str(ipaddress.ip_network(prefix, strict=False)) if prefix else None,
        revision_number=0,
        created_at=now,
        updated_at=now,
        description=fields.pop("description", ""),
        **fields,
    )


def default_rules(group: m.SecurityGroup) -> list[m.SecurityGroupRule]:
    """Neutron's rules of a default group: all egress, ingress from members of the group."""
    return [
        new_rule(
            group, direction=d, ethertype=e, remote_group_id=group.id if d == "ingress" else None
        )
        for d in ("egress", "ingress")
        for e in ("IPv4", "IPv6")
    ]


async def ensure_default(s: AsyncSession, project_id: str) -> str:
    """The id of the project's default group, made (with its rules) when missing."""
    found = await s.get(m.DefaultSecurityGroup, project_id)
    if found is not None:
        return found.security_group_id
    now = utcnow()
    group = m.SecurityGroup(
        id=str(uuid.uuid4()),
        project_id=project_id,
        name=DEFAULT,
        description="Default security group",
        revision_number=1,
        created_at=now,
        updated_at=now,
    )
    try:
        async with s.begin_nested():
            s.add(group)
            await s.flush()
            s.add(m.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
            await s.flush()
            s.add_all(default_rules(group))
            await s.flush()
    except IntegrityError:
        again = await s.get(m.DefaultSecurityGroup, project_id)
        if again is None:
            raise
        return again.security_group_id
    return group.id


async def visible_group(s: AsyncSession, auth: Auth, group_id: str) -> m.SecurityGroup:
    query = select(m.SecurityGroup).where(m.SecurityGroup.id == group_id, group_visible(auth))
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found("SecurityGroup", group_id)
    return row


async def groups_for_port(
    s: AsyncSession, auth: Auth, project_id: str, asked: list[str] | None
) -> list[str]:
    """The groups a new port gets: the asked ones (each must be visible) or the default."""
    if asked is None:
        return [await ensure_default(s, project_id)]
    for group_id in asked:
        query = select(m.SecurityGroup.id).where(
            m.SecurityGroup.id == group_id,
            or_(
                m.SecurityGroup.project_id == project_id,
                m.SecurityGroup.shared.is_(True),
                true() if auth.is_admin else m.SecurityGroup.id.is_(None),
            ),
        )
        if (await s.execute(query)).first() is None:
            raise errors.NotFound(
                f"Security group {group_id} does not exist", kind="SecurityGroupNotFound"
            )
    return list(dict.fromkeys(asked))
