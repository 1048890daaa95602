"""Security groups and their rules as Neutron stores, validates and returns them; the default
group of each project, made on first use with Neutron's default rules.

Where it sits: called by `api/security_groups.py` and by port creation (a port gets its
project's default group). A rule's creation or deletion is cast to the agents
(`security_group_changed`), which re-apply the filters (`agent/firewall.py`).
The default group is claimed by the primary key of `network_default_security_groups`, so two
racing first uses make one group.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.network import models as m
from ministack.network import policies, quotas
from ministack.network.core import Core, drop_tags, if_match, not_found, tags_of, touch
from ministack.network.listing import Kind
from ministack.network.views import owner, standard

DEFAULT = "default"
PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}
OTHER_PROTOCOLS = (
    "ah",
    "dccp",
    "egp",
    "esp",
    "gre",
    "igmp",
    "ipip",
    "ospf",
    "pgm",
    "rsvp",
    "udplite",
    "vrrp",
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
)
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


def _protocol(value: Any) -> str | None:
    """Neutron's protocol: a name it knows or a number 0-255 (kept as given), or None."""
    if value is None or value in ("any", ""):
        return None
    text = str(value).lower()
    if text in PROTOCOLS or text in OTHER_PROTOCOLS:
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise errors.BadRequest(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
        kind="SecurityGroupRuleInvalidProtocol",
    )


def _ports(protocol: str | None, low: Any, high: Any) -> tuple[int | None, int | None]:
    low = int(low) if low is not None else None
    high = int(high) if high is not None else None
    if protocol in ("icmp", "icmpv6", "ipv6-icmp", "1", "58"):
        if (low is not None and low > 255) or (high is not None and high > 255):
            raise errors.BadRequest(
                f"Invalid value for ICMP field (port_range_min): {low}. It must be 0 to 255.",
                kind="SecurityGroupInvalidIcmpValue",
            )
        return low, high
    if low is None and high is None:
        return None, None
    if protocol is None or protocol not in PORT_PROTOCOLS:
        raise errors.BadRequest(
            "Invalid input for operation: Ports can only be given with protocol TCP, UDP, "
            "SCTP, DCCP or UDP-Lite.",
            kind="SecurityGroupProtocolRequiredWithPorts",
        )
    if low is None or high is None or low > high or low < 1:
        raise errors.BadRequest(
            "For TCP/UDP protocols, port_range_min must be <= port_range_max and both at least 1.",
            kind="SecurityGroupInvalidPortRange",
        )
    return low, high


def _prefix(value: str | None, ethertype: str) -> str | None:
    if value is None:
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise errors.BadRequest(
            f"Invalid input for remote_ip_prefix. Reason: '{value}' is not a valid IP prefix."
        ) from None
    if f"IPv{net.version}" != ethertype:
        raise errors.BadRequest(
            f"Conflicting value ethertype {ethertype} for CIDR {value}",
            kind="SecurityGroupRuleParameterConflict",
        )
    return value


async def create_group(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    project = body.get("project_id") or body.get("tenant_id") or auth.project_id or ""
    policies.authorize(auth, "create_security_group", project)
    if body.get("name") == DEFAULT and project != "":
        raise errors.Conflict(
            "Default security group already exists.", kind="SecurityGroupDefaultAlreadyExists"
        )
    now = utcnow()
    async with core.db.writer() as s:
        await ensure_default(s, project)
        await quotas.claim(s, core.db, core.settings, project, "security_group")
        group = m.SecurityGroup(
            id=str(uuid.uuid4()),
            project_id=project,
            name=body.get("name", ""),
            description=body.get("description", ""),
            stateful=body.get("stateful", True),
            revision_number=1,
            created_at=now,
            updated_at=now,
        )
        s.add(group)
        await s.flush()
        s.add_all([new_rule(group, direction="egress", ethertype=e) for e in ("IPv4", "IPv6")])
        await s.flush()
        return (await render_groups(s, [group]))[0]


async def show_group(core: Core, auth: Auth, group_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        return (await render_groups(s, [await visible_group(s, auth, group_id)]))[0]


async def update_group(
    core: Core, auth: Auth, group_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    async with core.db.writer() as s:
        group = await visible_group(s, auth, group_id)
        policies.authorize(auth, "update_security_group", group.project_id)
        if_match(match, group)
        if group.name == DEFAULT and body.get("name", DEFAULT) != DEFAULT:
            raise errors.Conflict(
                "Updating default security group not allowed.",
                kind="SecurityGroupCannotUpdateDefault",
            )
        for key in ("name", "description", "stateful"):
            if key in body:
                setattr(group, key, body[key])
        touch(group)
        return (await render_groups(s, [group]))[0]


async def delete_group(core: Core, auth: Auth, group_id: str, match: str | None) -> None:
    async with core.db.writer() as s:
        group = await visible_group(s, auth, group_id)
        policies.authorize(auth, "delete_security_group", group.project_id)
        if_match(match, group)
        default = await s.get(m.DefaultSecurityGroup, group.project_id)
        if default is not None and default.security_group_id == group.id and not auth.is_admin:
            raise errors.Conflict(
                "Insufficient rights for removing default security group.",
                kind="SecurityGroupCannotRemoveDefault",
            )
        used = await s.execute(
            select(m.PortSecurityGroup.port_id).where(
                m.PortSecurityGroup.security_group_id == group_id
            )
        )
        if used.first() is not None:
            raise errors.Conflict(f"Security Group {group_id} in use.", kind="SecurityGroupInUse")
        await s.execute(
            sql_delete(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id == group_id)
        )
        await s.execute(
            sql_delete(m.DefaultSecurityGroup).where(
                m.DefaultSecurityGroup.security_group_id == group_id
            )
        )
        await drop_tags(s, [group_id])
        await s.delete(group)


async def create_rule(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    ethertype = body.get("ethertype", "IPv4")
    protocol = _protocol(body.get("protocol"))
    low, high = _ports(protocol, body.get("port_range_min"), body.get("port_range_max"))
    prefix = _prefix(body.get("remote_ip_prefix"), ethertype)
    if prefix is not None and body.get("remote_group_id"):
        raise errors.BadRequest(
            "Only remote_ip_prefix or remote_group_id may be provided.",
            kind="SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )
    async with core.db.writer() as s:
        group = await visible_group(s, auth, body["security_group_id"])
        policies.authorize(auth, "create_security_group_rule", group.project_id)
        if body.get("remote_group_id"):
            await visible_group(s, auth, body["remote_group_id"])
        await quotas.claim(s, core.db, core.settings, group.project_id, "security_group_rule")
        fields = {
            "direction": body["direction"],
            "ethertype": ethertype,
            "protocol": protocol,
            "port_range_min": low,
            "port_range_max": high,
            "remote_ip_prefix": prefix,
            "remote_group_id": body.get("remote_group_id"),
        }
        existing = await s.execute(
            select(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id == group.id)
        )
        for rule in existing.scalars():
            if all(getattr(rule, k) == v for k, v in fields.items()):
                raise errors.Conflict(
                    f"Security group rule already exists. Rule id is {rule.id}.",
                    kind="SecurityGroupRuleExists",
                )
        row = new_rule(group, description=body.get("description", ""), **fields)
        s.add(row)
        touch(group)
        await s.flush()
        rendered = (await render_rules(s, [row]))[0]
        group_id = group.id
    await core.agents.security_group_changed(group_id)
    return rendered


async def visible_rule(s: AsyncSession, auth: Auth, rule_id: str) -> m.SecurityGroupRule:
    query = select(m.SecurityGroupRule).where(m.SecurityGroupRule.id == rule_id, rule_visible(auth))
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found("SecurityGroupRule", rule_id)
    return row


async def render_rules(s: AsyncSession, rows: list[m.SecurityGroupRule]) -> list[dict[str, Any]]:
    groups = {r.security_group_id for r in rows}
    found = await s.execute(
        select(m.DefaultSecurityGroup.security_group_id).where(
            m.DefaultSecurityGroup.security_group_id.in_(groups)
        )
    )
    defaults = set(found.scalars())
    out = []
    for row in rows:
        body = rule_body(row)
        body["belongs_to_default_sg"] = row.security_group_id in defaults
        out.append(body)
    return out


async def show_rule(core: Core, auth: Auth, rule_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        return (await render_rules(s, [await visible_rule(s, auth, rule_id)]))[0]


async def delete_rule(core: Core, auth: Auth, rule_id: str) -> None:
    async with core.db.writer() as s:
        rule = await visible_rule(s, auth, rule_id)
        policies.authorize(auth, "delete_security_group_rule", rule.project_id)
        group_id = rule.security_group_id
        group = await s.get(m.SecurityGroup, group_id)
        await s.delete(rule)
        if group is not None:
            touch(group)
    await core.agents.security_group_changed(group_id)
