"""Ports: create (MAC, fixed IPs claimed through IPAM, security groups, binding), show, list,
update (re-addressing, binding to a host), delete; and binding for compute.

Where it sits: called by `api/ports.py` and by the in-process client (`client.py`) that
compute uses; casts `port_changed` / `port_deleted` to the agents after the commit. A MAC is
unique per network by constraint (a generated one is drawn again on a clash); addresses are
claimed by `ipam`.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import bindparam, or_, select, true
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Reads, utcnow
from ministack.config import Settings
from ministack.network import (
    dhcp_options,
    fixed_ips,
    ipam,
    policies,
    port_context,
    quotas,
    secgroups,
    views,
)
from ministack.network import models as m
from ministack.network.core import (
    Core,
    drop_tags,
    if_match,
    not_found,
    tags_of,
    touch,
    trusted,
)
from ministack.network.listing import Kind

BASE_MAC = "fa:16:3e"
DHCP_OWNER = "network:dhcp"
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip")
VIF_BRIDGE = "bridge"
UNBOUND = "unbound"

KIND = Kind(
    model=m.Port,
    collection="ports",
    filters={
        "id": m.Port.id,
        "name": m.Port.name,
        "description": m.Port.description,
        "network_id": m.Port.network_id,
        "mac_address": m.Port.mac_address,
        "admin_state_up": m.Port.admin_state_up,
        "status": m.Port.status,
        "device_id": m.Port.device_id,
        "device_owner": m.Port.device_owner,
        "binding:host_id": m.Port.host,
        "binding:vif_type": m.Port.vif_type,
        "binding:vnic_type": m.Port.vnic_type,
        "port_security_enabled": m.Port.port_security_enabled,
        "revision_number": m.Port.revision_number,
    },
    sorts={
        "id": m.Port.id,
        "name": m.Port.name,
        "status": m.Port.status,
        "mac_address": m.Port.mac_address,
        "device_id": m.Port.device_id,
        "device_owner": m.Port.device_owner,
        "network_id": m.Port.network_id,
        "created_at": m.Port.created_at,
        "updated_at": m.Port.updated_at,
        "project_id": m.Port.project_id,
        "tenant_id": m.Port.project_id,
        "revision_number": m.Port.revision_number,
    },
    bools=frozenset({"admin_state_up", "port_security_enabled"}),
    ints=frozenset({"revision_number"}),
    custom=frozenset({"fixed_ips", "security_groups"}),
)


def bridge_name(network_id: str) -> str:
    """The Linux bridge of a network on every host (Neutron linuxbridge's rule)."""
    return f"brq{network_id[:11]}"


def bridge_mappings(entries: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`physnet:bridge` entries ([network_agent] bridge_mappings) as pairs (an entry without
    a bridge name is left out)."""
    pairs = (e.partition(":") for e in entries)
    return tuple((physnet.strip(), br.strip()) for physnet, _, br in pairs if br.strip())


def network_bridge(settings: Settings, network: m.Network) -> str:
    """The bridge a network's ports go in: the existing bridge its physical network is mapped
    to (a flat network), else its own `brq` bridge."""
    if network.network_type == "flat":
        mapped = dict(bridge_mappings(settings.network_agent.bridge_mappings))
        if network.physical_network in mapped:
            return mapped[network.physical_network]
    return bridge_name(network.id)


def tap_name(port_id: str) -> str:
    """The tap device of a port (Neutron's rule)."""
    return f"tap{port_id[:11]}"


def visible_clause(auth: Auth) -> Any:
    """Ports the caller may see: its project's and those on its networks (all for admins)."""
    if auth.reads_all:
        return true()
    mine = auth.project_id or ""
    own_nets = select(m.Network.id).where(m.Network.project_id == mine)
    return or_(m.Port.project_id == mine, m.Port.network_id.in_(own_nets))


# visible_clause as statements built once (building one cost more than a point read)
_ANY_PORT = select(m.Port).where(m.Port.id == bindparam("port_id"))
_OWN_NETWORKS = select(m.Network.id).where(m.Network.project_id == bindparam("project_id"))
_VISIBLE_PORT = _ANY_PORT.where(
    or_(m.Port.project_id == bindparam("project_id"), m.Port.network_id.in_(_OWN_NETWORKS))
)


async def visible(s: Reads, auth: Auth, port_id: str) -> m.Port:
    """The port if the caller may see it (`visible_clause`); 404 otherwise."""
    if auth.reads_all:
        found = await s.execute(_ANY_PORT, {"port_id": port_id})
    else:
        found = await s.execute(
            _VISIBLE_PORT, {"port_id": port_id, "project_id": auth.project_id or ""}
        )
    row: m.Port | None = found.scalar_one_or_none()
    if row is None:
        raise not_found("Port", port_id)
    return row


# built once: building a statement costs more CPU than running it on SQLite
_ADDRESSES = select(
    m.IPAllocation.port_id, m.IPAllocation.subnet_id, m.IPAllocation.ip_address
).where(m.IPAllocation.port_id.in_(bindparam("ids", expanding=True)))
_GROUPS = select(m.PortSecurityGroup.port_id, m.PortSecurityGroup.security_group_id).where(
    m.PortSecurityGroup.port_id.in_(bindparam("ids", expanding=True))
)


async def render(s: Reads, rows: list[m.Port], auth: Auth) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    ips: dict[str, list[dict[str, str]]] = defaultdict(list)
    groups: dict[str, list[str]] = defaultdict(list)
    if ids:
        for ip in await s.execute(_ADDRESSES, {"ids": ids}):
            ips[ip.port_id].append({"subnet_id": ip.subnet_id, "ip_address": ip.ip_address})
        for link in await s.execute(_GROUPS, {"ids": ids}):
            groups[link.port_id].append(link.security_group_id)
    tags = await tags_of(s, ids)
    return [
        views.port(
            r,
            _ordered(ips[r.id]),
            groups[r.id],
            tags.get(r.id, []),
            auth.is_admin,
        )
        for r in rows
    ]


def _ordered(items: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(items, key=lambda i: (i["subnet_id"], i["ip_address"]))


def random_mac() -> str:
    tail = ":".join(f"{random.randrange(256):02x}" for _ in range(3))
    return f"{BASE_MAC}:{tail}"


def check_mac(value: str) -> str:
    mac = value.lower()
    first = int(mac.split(":")[0], 16)
    if first & 1 or mac == "00:00:00:00:00:00":
        raise errors.BadRequest(
            f"Invalid input for mac_address. Reason: '{value}' is not a valid unicast MAC address."
        )
    return mac


async def insert_port(
    s: AsyncSession, port: m.Port, asked_mac: bool, *, checked: bool = False
) -> None:
    """Add the port with a MAC unique on its network: an asked MAC in use is 409
    MacAddressInUse; a generated one is drawn again. `checked`: the caller found the MAC free
    in this serialised transaction."""
    if checked:
        s.add(port)
        return
    for _ in range(10):
        if ipam.serialised(s):
            clash = await s.execute(
                select(m.Port.id).where(
                    m.Port.network_id == port.network_id, m.Port.mac_address == port.mac_address
                )
            )
            if clash.first() is None:
                s.add(port)
                return
        else:
            try:
                async with s.begin_nested():
                    s.add(port)
                    await s.flush()
                return
            except IntegrityError:
                if port in s:
                    s.expunge(port)
        if asked_mac:
            break
        port.mac_address = random_mac()
    raise errors.Conflict(
        f"Unable to complete operation for network {port.network_id}. The mac address "
        f"{port.mac_address} is in use.",
        kind="MacAddressInUse",
    )


def _pairs(body: dict[str, Any], mac: str) -> list[dict[str, str]]:
    out = []
    for pair in body.get("allowed_address_pairs") or []:
        ip = pair["ip_address"]
        try:
            ipaddress.ip_network(ip, strict=False)
        except ValueError:
            raise errors.BadRequest(
                f"Invalid input for allowed_address_pairs. Reason: '{ip}' is not a valid IP "
                "address or CIDR."
            ) from None
        out.append({"ip_address": ip, "mac_address": (pair.get("mac_address") or mac).lower()})
    return out


def _dhcp_opts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return dhcp_options.validate(body.get("extra_dhcp_opts"))


def _binding(host: str, bridge: str) -> tuple[str, str]:
    """(vif_type, vif_details) of a port bound to `host` (unbound when host is empty)."""
    if not host:
        return UNBOUND, "{}"
    details = {"bridge_name": bridge, "port_filter": True, "connectivity": "l2"}
    return VIF_BRIDGE, orjson.dumps(details).decode()


def _authorize_create(auth: Auth, body: dict[str, Any], network: m.Network) -> None:
    owner = network.project_id
    if str(body.get("device_owner", "")).startswith("network:"):
        policies.authorize(auth, "create_port:device_owner", owner)
    for attr in ("mac_address", "port_security_enabled", "allowed_address_pairs"):
        if attr in body:
            policies.authorize(auth, f"create_port:{attr}", owner)
    if any("ip_address" in f for f in body.get("fixed_ips") or []):
        policies.authorize(auth, "create_port:fixed_ips:ip_address", owner)
    if body.get("binding:host_id"):
        policies.authorize(auth, "create_port:binding:host_id", owner)
    if body.get("binding:profile"):
        policies.authorize(auth, "create_port:binding:profile", owner)


def _usable_network(auth: Auth, network: m.Network | None, network_id: str) -> m.Network:
    """The network a port may be made on: the caller's own, a shared one, or any for an admin;
    404 otherwise (another project's network does not exist for the caller)."""
    ok = network is not None and (
        auth.is_admin or network.shared or network.project_id == auth.project_id
    )
    if not ok or network is None:
        raise not_found("Network", network_id)
    return network


def _security(body: dict[str, Any], network: m.Network) -> bool:
    enabled = bool(body.get("port_security_enabled", network.port_security_enabled))
    if not enabled and body.get("security_groups"):
        raise errors.BadRequest(
            "Port has security group associated. Cannot disable port security or ip address "
            "until security group is removed.",
            kind="PortSecurityPortHasSecurityGroup",
        )
    if not enabled and body.get("allowed_address_pairs"):
        raise errors.Conflict(
            "Port Security must be enabled in order to have allowed address pairs on a port.",
            kind="AddressPairAndPortSecurityRequired",
        )
    return enabled


async def create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    """Make a port: the network, subnets, quota, default group and MAC check are read in one
    statement (`port_context`); then the port, its addresses and group bindings are written.
    On SQLite the whole transaction is one hop to the database's writer thread (`write_once`).
    """
    mac = check_mac(body["mac_address"]) if body.get("mac_address") else random_mac()
    project = body.get("project_id") or body.get("tenant_id") or auth.project_id or ""

    async def write(s: AsyncSession) -> tuple[dict[str, Any], m.Port]:
        await quotas.lock_project(s, core.db, project)
        ctx = await port_context.read(s, body["network_id"], project, mac)
        network = _usable_network(auth, ctx.network, body["network_id"])
        if project != auth.project_id and not auth.is_admin:
            raise errors.Forbidden("Only an admin may create a port for another project.")
        policies.authorize(auth, "create_port", project)
        _authorize_create(auth, body, network)
        secure = _security(body, network)
        quotas.check(core.settings, "port", ctx.own_limit, ctx.ports_in_use)
        bridge = network_bridge(core.settings, network)
        port = _new_port(body, network, project, mac, secure, bridge)
        # the MAC was found free in this (serialised) transaction: no second look
        free = not ctx.mac_taken and ipam.serialised(s)
        await insert_port(s, port, bool(body.get("mac_address")), checked=free)
        claims = fixed_ips.claims_from(body)
        addresses = await fixed_ips.allocate(s, port, claims, ctx.subnets)
        groups = await _bind_groups(
            s, auth, port, body, secure, fresh=True, default=ctx.default_group
        )
        return views.port(port, _ordered(addresses), groups, [], auth.is_admin), port

    out, port = await core.db.write_once(write)
    await core.agents.port_changed(port.id, port.network_id, port.host or None)
    return out


def _new_port(
    body: dict[str, Any], network: m.Network, project: str, mac: str, secure: bool, bridge: str
) -> m.Port:
    now = utcnow()
    host = body.get("binding:host_id") or ""
    vif_type, vif_details = _binding(host, bridge)
    return m.Port(
        id=str(uuid.uuid4()),
        project_id=project,
        network_id=network.id,
        name=body.get("name", ""),
        description=body.get("description", ""),
        mac_address=mac,
        admin_state_up=body.get("admin_state_up", True),
        status="DOWN",
        device_id=body.get("device_id", ""),
        device_owner=body.get("device_owner", ""),
        host=host,
        vif_type=vif_type,
        vif_details=vif_details,
        vnic_type=body.get("binding:vnic_type", "normal"),
        binding_profile=orjson.dumps(body.get("binding:profile") or {}).decode(),
        port_security_enabled=secure,
        allowed_address_pairs=orjson.dumps(_pairs(body, mac)).decode(),
        extra_dhcp_opts=orjson.dumps(_dhcp_opts(body)).decode(),
        dns_name=body.get("dns_name", ""),
        revision_number=1,
        created_at=now,
        updated_at=now,
    )


async def _bind_groups(
    s: AsyncSession,
    auth: Auth,
    port: m.Port,
    body: dict[str, Any],
    secure: bool,
    fresh: bool = False,
    default: str | None = None,
) -> list[str]:
    """Give the port the asked groups (or its project's default: `default` when the caller
    already read it); returns their ids."""
    if not fresh:
        await s.execute(
            sql_delete(m.PortSecurityGroup).where(m.PortSecurityGroup.port_id == port.id)
        )
    if not secure or port.device_owner.startswith("network:"):
        return []
    asked = body.get("security_groups")
    if asked is None and default is not None:
        groups = [default]
    else:
        groups = await secgroups.groups_for_port(s, auth, port.project_id, asked)
    s.add_all([m.PortSecurityGroup(port_id=port.id, security_group_id=g) for g in groups])
    return groups


async def show(core: Core, auth: Auth, port_id: str) -> dict[str, Any]:
    async with core.db.reader() as s:
        row = await visible(s, auth, port_id)
        return (await render(s, [row], auth))[0]


def _authorize_update(auth: Auth, body: dict[str, Any], port: m.Port, owner: str) -> None:
    policies.authorize(auth, "update_port", port.project_id)
    if str(body.get("device_owner", "")).startswith("network:"):
        policies.authorize(auth, "update_port:device_owner", owner)
    for attr in ("mac_address", "port_security_enabled", "allowed_address_pairs"):
        if attr in body:
            policies.authorize(auth, f"update_port:{attr}", owner)
    if any("ip_address" in f for f in body.get("fixed_ips") or []):
        policies.authorize(auth, "update_port:fixed_ips:ip_address", owner)
    if "binding:host_id" in body:
        policies.authorize(auth, "update_port:binding:host_id", owner)
    if "binding:profile" in body:
        policies.authorize(auth, "update_port:binding:profile", owner)


async def update(
    core: Core, auth: Auth, port_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    async with core.db.writer() as s:
        port = await visible(s, auth, port_id)
        network = await s.get(m.Network, port.network_id)
        assert network is not None
        _authorize_update(auth, body, port, network.project_id)
        if_match(match, port)
        old_host = port.host
        await _apply_update(s, auth, port, body, network_bridge(core.settings, network))
        touch(port)
        await s.flush()
        out = (await render(s, [port], auth))[0]
    if old_host and old_host != port.host:
        await core.agents.port_deleted(port.id, port.network_id, old_host)
    await core.agents.port_changed(port.id, port.network_id, port.host or None)
    return out


async def _apply_update(
    s: AsyncSession, auth: Auth, port: m.Port, body: dict[str, Any], bridge: str
) -> None:
    if "mac_address" in body and body["mac_address"] != port.mac_address:
        if port.host:
            raise errors.Conflict(
                f"Port {port.id} is bound: its MAC address cannot change.", kind="PortBound"
            )
        port.mac_address = check_mac(body["mac_address"])
    simple = ("name", "description", "admin_state_up", "device_id", "device_owner", "dns_name")
    for key in simple:
        if key in body:
            setattr(port, key, body[key])
    if "binding:host_id" in body:
        port.host = body["binding:host_id"] or ""
        port.vif_type, port.vif_details = _binding(port.host, bridge)
        port.status = "DOWN"
    if "binding:vnic_type" in body:
        port.vnic_type = body["binding:vnic_type"]
    if "binding:profile" in body:
        port.binding_profile = orjson.dumps(body["binding:profile"] or {}).decode()
    if "extra_dhcp_opts" in body:
        port.extra_dhcp_opts = orjson.dumps(_dhcp_opts(body)).decode()
    secure = body.get("port_security_enabled", port.port_security_enabled)
    groups_now = await _group_ids(s, port.id)
    if not secure and (
        body.get("security_groups") or ("security_groups" not in body and groups_now)
    ):
        raise errors.Conflict(
            "Port has security group associated. Cannot disable port security or ip address "
            "until security group is removed.",
            kind="PortSecurityPortHasSecurityGroup",
        )
    pairs = body.get("allowed_address_pairs", orjson.loads(port.allowed_address_pairs))
    if not secure and pairs:
        raise errors.Conflict(
            "Port Security must be enabled in order to have allowed address pairs on a port.",
            kind="AddressPairAndPortSecurityRequired",
        )
    port.port_security_enabled = bool(secure)
    if "allowed_address_pairs" in body:
        port.allowed_address_pairs = orjson.dumps(_pairs(body, port.mac_address)).decode()
    if "security_groups" in body:
        await _bind_groups(s, auth, port, {"security_groups": body["security_groups"] or []}, True)
    if "fixed_ips" in body:
        await fixed_ips.readdress(s, port, fixed_ips.claims_from(body) or [])


async def _group_ids(s: AsyncSession, port_id: str) -> list[str]:
    rows = await s.execute(
        select(m.PortSecurityGroup.security_group_id).where(m.PortSecurityGroup.port_id == port_id)
    )
    return list(rows.scalars())


async def delete(core: Core, auth: Auth, port_id: str, match: str | None) -> None:
    async with core.db.writer() as s:
        port = await visible(s, auth, port_id)
        network = await s.get(m.Network, port.network_id)
        owner = network.project_id if network else port.project_id
        if not (
            policies.allowed(auth, "delete_port", port.project_id)
            or policies.allowed(auth, "delete_port", owner)
        ):
            policies.authorize(auth, "delete_port", port.project_id)
        if_match(match, port)
        if port.device_owner in ROUTER_OWNERS:
            raise errors.Conflict(
                f"Port {port_id} cannot be deleted directly via the port API: has device owner "
                f"{port.device_owner}.",
                kind="ServicePortInUse",
            )
        await delete_row(s, port)
    await core.agents.port_deleted(port.id, port.network_id, port.host or None)


async def delete_row(s: AsyncSession, port: m.Port) -> None:
    """Delete a port with its addresses, groups and tags; a floating IP on it is
    disassociated (as Neutron does)."""
    await s.execute(
        sql_update(m.FloatingIP)
        .where(m.FloatingIP.fixed_port_id == port.id)
        .values(fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
    )
    await s.execute(sql_delete(m.IPAllocation).where(m.IPAllocation.port_id == port.id))
    await s.execute(sql_delete(m.PortSecurityGroup).where(m.PortSecurityGroup.port_id == port.id))
    await drop_tags(s, [port.id])
    await s.delete(port)


def fixed_ip_filters(raw: list[str]) -> list[Any]:
    """`fixed_ips=ip_address=...` / `fixed_ips=subnet_id=...` filters as SQL clauses."""
    clauses = []
    for item in raw:
        key, _, value = item.partition("=")
        if key not in ("ip_address", "subnet_id", "ip_address_substr"):
            raise errors.BadRequest(f"Invalid input for fixed_ips filter: {item!r}.")
        column = m.IPAllocation.ip_address if key != "subnet_id" else m.IPAllocation.subnet_id
        cond = column.contains(value) if key == "ip_address_substr" else column == value
        clauses.append(m.Port.id.in_(select(m.IPAllocation.port_id).where(cond)))
    return clauses


async def bind(
    core: Core, port_id: str, host: str, device_id: str, device_owner: str
) -> dict[str, Any]:
    """Bind a port to `host` for a device (compute's call): binding:host_id, device_id,
    device_owner, vif_type bridge with the network's bridge name. Idempotent."""
    auth = trusted()
    body = {"binding:host_id": host, "device_id": device_id, "device_owner": device_owner}
    return await update(core, auth, port_id, body, None)


async def unbind(core: Core, port_id: str) -> dict[str, Any]:
    """Clear the binding and device of a port (compute detaching it). Idempotent."""
    body = {"binding:host_id": "", "device_id": "", "device_owner": ""}
    return await update(core, trusted(), port_id, body, None)


async def of_device(core: Core, device_id: str) -> list[dict[str, Any]]:
    """Every port of one device, oldest first (trusted caller)."""
    auth = trusted()
    async with core.db.session() as s:
        rows = await s.execute(
            select(m.Port)
            .where(m.Port.device_id == device_id)
            .order_by(m.Port.created_at, m.Port.id)
        )
        return await render(s, list(rows.scalars()), auth)
