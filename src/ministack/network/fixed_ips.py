"""A port's fixed IPs: what a request asks for (claims by subnet and/or address), the
addresses IPAM gives (`allocate`), and re-addressing on update (`readdress`).

Where it sits: between the port logic (`ports.py`, also used for router and floating IP ports)
and the address claim itself (`ipam.py`). Without asked addresses a port gets one address
from the first IPv4 subnet with room and one per IPv6 subnet (EUI-64 from the MAC on SLAAC
and DHCPv6-stateless subnets), as Neutron does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.network import ipam
from ministack.network import models as m


@dataclass
class Claim:
    """What a port asks of IPAM: a subnet (any address), an address, or both."""

    subnet_id: str | None
    ip_address: str | None


def claims_from(body: dict[str, Any]) -> list[Claim] | None:
    if "fixed_ips" not in body:
        return None
    out = []
    for item in body["fixed_ips"]:
        out.append(Claim(item.get("subnet_id"), item.get("ip_address")))
    return out


async def subnets_of(s: AsyncSession, network_id: str) -> list[m.Subnet]:
    rows = await s.execute(
        select(m.Subnet)
        .where(m.Subnet.network_id == network_id)
        .order_by(m.Subnet.created_at, m.Subnet.id)
    )
    return list(rows.scalars())


def subnet_for(claim: Claim, subnets: list[m.Subnet], network_id: str) -> m.Subnet:
    if claim.subnet_id is not None:
        for sub in subnets:
            if sub.id == claim.subnet_id:
                return sub
        raise errors.BadRequest(
            f"Invalid input for operation: Failed to create port on network {network_id}, "
            f"because fixed_ips included invalid subnet {claim.subnet_id}."
        )
    assert claim.ip_address is not None
    addr = ipam.parse_ip(claim.ip_address, "fixed_ips")
    for sub in subnets:
        if addr in ipaddress.ip_network(sub.cidr):
            return sub
    raise errors.BadRequest(
        f"Invalid input for operation: IP address {claim.ip_address} is not a valid IP for "
        f"any of the subnets on network {network_id}.",
        kind="InvalidIpForNetwork",
    )


def eui64(cidr: str, mac: str) -> str:
    net = ipaddress.IPv6Network(cidr)
    parts = [int(x, 16) for x in mac.split(":")]
    parts[0] ^= 0x02
    eui = [*parts[:3], 0xFF, 0xFE, *parts[3:]]
    return str(net.network_address + int.from_bytes(bytes(eui), "big"))


async def allocate(
    s: AsyncSession, port: m.Port, claims: list[Claim] | None, subnets: list[m.Subnet]
) -> list[dict[str, str]]:
    """Claim the port's addresses: as asked, or one from the first IPv4 subnet with room and
    one per IPv6 subnet (EUI-64 on SLAAC subnets, as Neutron). Returns the fixed_ips."""
    out: list[dict[str, str]] = []

    async def claim(sub: m.Subnet, address: str | None) -> None:
        if address is None and sub.ipv6_address_mode in ("slaac", "dhcpv6-stateless"):
            address = eui64(sub.cidr, port.mac_address)
        if address is not None:
            got = await ipam.allocate_fixed(s, sub, port.id, address)
        else:
            got = await ipam.allocate_any(s, sub, port.id)
        out.append({"subnet_id": sub.id, "ip_address": got})

    if claims is not None:
        for item in claims:
            await claim(subnet_for(item, subnets, port.network_id), item.ip_address)
        return out
    v4 = [sub for sub in subnets if sub.ip_version == 4]
    failure: errors.ApiError | None = None
    for sub in v4:
        try:
            await claim(sub, None)
            failure = None
            break
        except ipam.IpAddressGenerationFailure as exc:
            failure = exc
    if failure is not None:
        raise failure
    for sub in (x for x in subnets if x.ip_version == 6):
        await claim(sub, None)
    return out


async def readdress(s: AsyncSession, port: m.Port, claims: list[Claim]) -> None:
    """Keep the addresses still asked for, release the others, claim the new ones."""
    current = (
        (await s.execute(select(m.IPAllocation).where(m.IPAllocation.port_id == port.id)))
        .scalars()
        .all()
    )
    kept: set[tuple[str, str]] = set()
    fresh: list[Claim] = []
    for claim in claims:
        match = next(
            (
                a
                for a in current
                if claim.ip_address == a.ip_address and claim.subnet_id in (None, a.subnet_id)
            ),
            None,
        )
        if match is not None:
            kept.add((match.subnet_id, match.ip_address))
        else:
            fresh.append(claim)
    for alloc in current:
        if (alloc.subnet_id, alloc.ip_address) not in kept:
            await s.delete(alloc)
    await s.flush()
    if fresh:
        await allocate(s, port, fresh, await subnets_of(s, port.network_id))
