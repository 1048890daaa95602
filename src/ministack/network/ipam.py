"""IP address management: subnet arithmetic (pools, gateway, overlap checks) and the atomic
address claim.

Where it sits: the subnet and port logic (`subnets.py`, `ports.py`) call it inside their write
transaction. An address is claimed by inserting its `network_ip_allocations` row, whose primary
key is (subnet, address): a concurrent claim of the same address fails in the database, and
`allocate` retries with another free address in a savepoint, so two ports never get one
address (SQLite serialises writers anyway; PostgreSQL refuses the duplicate key).
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.network import models as m

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address
# A claim draws this many addresses at random and takes a free one (one query).
SAMPLE = 16
# In a dense subnet, a claim picks among this many lowest free addresses.
SPREAD = 8
# Claims retried after a concurrent claim took the chosen address.
MAX_RETRIES = 40


class IpAddressGenerationFailure(errors.Conflict):
    """No free address left (Neutron's 409 of the same name)."""


class IpAddressAlreadyAllocated(errors.Conflict):
    pass


class InvalidIpForSubnet(errors.BadRequest):
    pass


@dataclass(frozen=True)
class Pool:
    """An inclusive range of addresses, held as integers (comparisons need no version)."""

    start: int
    end: int
    version: int

    def as_dict(self) -> dict[str, str]:
        return {"start": text(self.start, self.version), "end": text(self.end, self.version)}

    def __str__(self) -> str:
        return f"{text(self.start, self.version)}-{text(self.end, self.version)}"


def text(value: int, version: int) -> str:
    """An address given as an integer, in its version's notation."""
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def parse_cidr(cidr: str, field: str = "cidr") -> Net:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise errors.BadRequest(
            f"Invalid input for {field}. Reason: '{cidr}' is not a valid IP subnet."
        ) from None


def parse_ip(value: str, field: str) -> Addr:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise errors.BadRequest(
            f"Invalid input for {field}. Reason: '{value}' is not a valid IP address."
        ) from None


def default_gateway(net: Net) -> Addr:
    """The first host address, as Neutron picks it."""
    return net.network_address + 1


def default_pools(net: Net, gateway: Addr | None) -> list[Pool]:
    """Every host address except the gateway (and network/broadcast for IPv4)."""
    first, last = int(net.network_address) + 1, int(net.broadcast_address)
    if net.version == 4:
        last -= 1
    if first > last:
        return []
    gw = int(gateway) if gateway is not None else None
    if gw is None or not first <= gw <= last:
        return [Pool(first, last, net.version)]
    pools = []
    if gw > first:
        pools.append(Pool(first, gw - 1, net.version))
    if gw < last:
        pools.append(Pool(gw + 1, last, net.version))
    return pools


def check_pools(net: Net, pools: Sequence[Pool], gateway: Addr | None) -> None:
    """400 when a pool is reversed, outside the CIDR or overlaps another; 409 when it holds
    the gateway (Neutron's GatewayConflictWithAllocationPools)."""
    low, high = int(net.network_address), int(net.broadcast_address)
    for pool in pools:
        if pool.version != net.version:
            raise errors.BadRequest(
                f"Invalid input for allocation_pools. Reason: pool {pool} is not "
                f"IPv{net.version} like the subnet's CIDR {net}."
            )
        if pool.start > pool.end:
            raise errors.BadRequest(
                f"Invalid input for allocation_pools. Reason: pool {pool} starts after it ends."
            )
        if pool.start < low or pool.end > high:
            raise errors.BadRequest(
                f"The allocation pool {pool} spans beyond the subnet cidr {net}."
            )
        if net.version == 4 and {pool.start, pool.end} & {low, high}:
            raise errors.BadRequest(
                f"The allocation pool {pool} includes the network or broadcast address of {net}."
            )
        if gateway is not None and pool.start <= int(gateway) <= pool.end:
            raise errors.Conflict(
                f"Gateway ip {gateway} conflicts with allocation pool {pool}.",
                kind="GatewayConflictWithAllocationPools",
            )
    ordered = sorted(pools, key=lambda p: p.start)
    for left, right in itertools.pairwise(ordered):
        if right.start <= left.end:
            raise errors.BadRequest(f"Found overlapping allocation pools: {left} and {right}.")


def pools_from(raw: Sequence[dict[str, str]]) -> list[Pool]:
    pools = []
    for item in raw:
        start = parse_ip(item["start"], "allocation_pools")
        end = parse_ip(item["end"], "allocation_pools")
        if start.version != end.version:
            raise errors.BadRequest(
                f"Invalid input for allocation_pools. Reason: {start} and {end} are not of "
                "one IP version."
            )
        pools.append(Pool(int(start), int(end), start.version))
    return pools


def pool_size(pools: Sequence[Pool]) -> int:
    return sum(p.end - p.start + 1 for p in pools)


def free_addresses(pools: Sequence[Pool], used: set[str], count: int) -> list[str]:
    """Up to `count` free addresses, lowest first."""
    out: list[str] = []
    for pool in pools:
        value = pool.start
        while value <= pool.end and len(out) < count:
            addr = text(value, pool.version)
            if addr not in used:
                out.append(addr)
            value += 1
    return out


async def used_addresses(s: AsyncSession, subnet_id: str) -> set[str]:
    rows = await s.execute(
        select(m.IPAllocation.ip_address).where(m.IPAllocation.subnet_id == subnet_id)
    )
    return set(rows.scalars())


def subnet_pools(subnet: m.Subnet) -> list[Pool]:
    raw: list[dict[str, str]] = orjson.loads(subnet.allocation_pools)
    return pools_from(raw)


def serialised(s: AsyncSession) -> bool:
    """Whether write transactions on this session's database run one at a time (SQLite's
    BEGIN IMMEDIATE): then a row checked free stays free until the commit."""
    bind = s.bind
    return bind is not None and bind.dialect.name == "sqlite"


async def _insert(s: AsyncSession, row: m.IPAllocation, checked: bool = False) -> bool:
    """Claim one address; False when another port holds it. With concurrent writers
    (PostgreSQL) the insert runs in a savepoint and the primary key decides; on SQLite an
    address `checked` free in this transaction stays free."""
    if serialised(s):
        key = (row.subnet_id, row.ip_address)
        if not checked and await s.get(m.IPAllocation, key) is not None:
            return False
        s.add(row)
        return True
    try:
        async with s.begin_nested():
            s.add(row)
            await s.flush()
    except IntegrityError:
        return False
    return True


def sample(pools: Sequence[Pool], count: int) -> list[str]:
    """Up to `count` distinct addresses drawn uniformly from the pools (all of them when the
    pools are that small)."""
    total = pool_size(pools)
    picks = list(range(total)) if total <= count else sorted(random.sample(range(total), count))
    out = []
    for n in picks:
        for pool in pools:
            size = pool.end - pool.start + 1
            if n < size:
                out.append(text(pool.start + n, pool.version))
                break
            n -= size
    return out


async def _free_among(s: AsyncSession, subnet_id: str, candidates: list[str]) -> list[str]:
    taken = await s.execute(
        select(m.IPAllocation.ip_address).where(
            m.IPAllocation.subnet_id == subnet_id, m.IPAllocation.ip_address.in_(candidates)
        )
    )
    used = set(taken.scalars())
    return [c for c in candidates if c not in used]


# Serialised databases (SQLite): claim one free address among the candidates (a JSON array),
# chosen at random, in one statement. Plain SQL: building the equivalent expression (a UNION
# ALL of one-row selects) cost more CPU than the rest of a port create.
_CLAIM_SQL = sql_text(
    "INSERT INTO network_ip_allocations (subnet_id, ip_address, port_id, network_id) "
    "SELECT :subnet_id, pick.value, :port_id, :network_id FROM json_each(:candidates) AS pick "
    "WHERE pick.value NOT IN "
    "(SELECT ip_address FROM network_ip_allocations WHERE subnet_id = :subnet_id) "
    "ORDER BY random() LIMIT 1 RETURNING ip_address"
)


async def _claim_among(
    s: AsyncSession, subnet: m.Subnet, port_id: str, candidates: list[str]
) -> str | None:
    """Serialised databases: claim one free address of `candidates`, chosen at random, in one
    statement (INSERT ... SELECT ... RETURNING); None when all are taken."""
    params = {
        "subnet_id": subnet.id,
        "port_id": port_id,
        "network_id": subnet.network_id,
        "candidates": orjson.dumps(candidates).decode(),
    }
    found: str | None = (await s.execute(_CLAIM_SQL, params)).scalar_one_or_none()
    return found


async def allocate_any(s: AsyncSession, subnet: m.Subnet, port_id: str) -> str:
    """Claim a free address of the subnet's pools for the port, chosen at random as Neutron
    does (random sample checked in one query, claimed in the same statement on SQLite; a full
    scan when the subnet is dense); 409 IpAddressGenerationFailure when none is left."""
    pools = subnet_pools(subnet)
    if serialised(s):
        claimed = await _claim_among(s, subnet, port_id, sample(pools, SAMPLE))
        if claimed is not None:
            return claimed
    for _ in range(MAX_RETRIES):
        free = await _free_among(s, subnet.id, sample(pools, SAMPLE))
        if not free:
            free = free_addresses(pools, await used_addresses(s, subnet.id), SPREAD)
        if not free:
            break
        addr = random.choice(free)
        row = m.IPAllocation(
            subnet_id=subnet.id, ip_address=addr, port_id=port_id, network_id=subnet.network_id
        )
        if await _insert(s, row, checked=True):
            return addr
    raise IpAddressGenerationFailure(
        f"No more IP addresses available on network {subnet.network_id}."
    )


async def allocate_fixed(s: AsyncSession, subnet: m.Subnet, port_id: str, address: str) -> str:
    """Claim exactly `address` (must lie in the subnet); 409 when it is taken."""
    net = ipaddress.ip_network(subnet.cidr)
    addr = parse_ip(address, "fixed_ips")
    if (
        addr not in net
        or addr in (net.network_address,)
        or (net.version == 4 and net.prefixlen < 31 and addr == net.broadcast_address)
    ):
        raise InvalidIpForSubnet(
            f"IP address {address} is not a valid IP for the specified subnet {subnet.id}."
        )
    row = m.IPAllocation(
        subnet_id=subnet.id, ip_address=str(addr), port_id=port_id, network_id=subnet.network_id
    )
    if not await _insert(s, row):
        raise IpAddressAlreadyAllocated(
            f"IP address {addr} already allocated in subnet {subnet.id}."
        )
    return str(addr)


def overlapping(net: Net, others: Sequence[Any]) -> str | None:
    """The CIDR of the first subnet in `others` (rows with .cidr) that overlaps `net`."""
    for other in others:
        theirs = ipaddress.ip_network(other.cidr)
        if theirs.version == net.version and theirs.overlaps(net):
            return str(other.cidr)
    return None
