"""A subnet's CIDR taken from a subnet pool (Neutron's subnet_allocation and
default-subnetpools extensions): the next free block of the asked or default length, or a
given CIDR checked to lie in the pool's free space.

Where it sits: `subnets.create` calls `pool_of` and `carve` inside its write transaction. The
pool's row is locked first (PostgreSQL; SQLite's writer is exclusive), so two subnets carved
from one pool at once never get overlapping blocks: the second sees the first's subnet row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.network import ipam, prefixes, quotas, subnetpools
from ministack.network import models as m


@dataclass(frozen=True)
class Request:
    """What the subnet body asks of a pool."""

    pool_id: str | None
    use_default: bool
    cidr: ipam.Net | None
    prefixlen: int | None
    ip_version: int


def bad(message: str) -> errors.BadRequest:
    return errors.BadRequest(f"Bad subnets request: {message}.", kind="BadRequest")


def request_of(body: dict[str, Any], cidr: ipam.Net | None) -> Request:
    """The pool part of a subnet create body; 400 for combinations Neutron refuses."""
    pool_id = body.get("subnetpool_id")
    use_default = bool(body.get("use_default_subnetpool", False))
    prefixlen = None if body.get("prefixlen") is None else int(body["prefixlen"])
    if cidr is not None and prefixlen is not None:
        raise bad("cidr and prefixlen must not be supplied together")
    if pool_id and use_default:
        raise bad("subnetpool_id and use_default_subnetpool cannot both be specified")
    if not pool_id and not use_default:
        if cidr is None:
            raise bad("a subnetpool must be specified in the absence of a cidr")
    elif cidr is None and body.get("allocation_pools"):
        raise bad("allocation_pools allowed only for specific subnet requests")
    version = cidr.version if cidr is not None else int(body["ip_version"])
    return Request(pool_id, use_default, cidr, prefixlen, version)


async def pool_of(s: AsyncSession, auth: Auth, req: Request) -> m.SubnetPool | None:
    """The pool the subnet is carved from, its row locked; None for a plain subnet. 404 for a
    pool the caller may not see, 400 when no default pool exists or the versions differ."""
    pool_id = req.pool_id
    if req.use_default:
        query = select(m.SubnetPool.id).where(
            m.SubnetPool.is_default.is_(True), m.SubnetPool.ip_version == req.ip_version
        )
        pool_id = (await s.execute(query)).scalars().first()
        if pool_id is None:
            raise bad(f"No default subnetpool found for IPv{req.ip_version}")
    if pool_id is None:
        return None
    pool = await subnetpools.visible(s, auth, pool_id, lock=True)
    if pool.ip_version != req.ip_version:
        raise bad(
            f"Cannot allocate IPv{req.ip_version} subnet from IPv{pool.ip_version} subnet pool"
        )
    return pool


async def _check_quota(
    s: AsyncSession, pool: m.SubnetPool, project_id: str, prefixlen: int
) -> None:
    """409 OverQuota when the project's subnets from the pool would pass its default_quota."""
    if not pool.default_quota:
        return
    rows = await s.execute(
        select(m.Subnet.cidr).where(
            m.Subnet.subnetpool_id == pool.id, m.Subnet.project_id == project_id
        )
    )
    used = prefixes.quota_units(pool.ip_version, (ipam.parse_cidr(c) for c in rows.scalars()))
    unit = prefixes.VERSION_INFO[pool.ip_version][2]
    if used + 2 ** max(unit - prefixlen, 0) > pool.default_quota:
        raise quotas.OverQuota(
            "Per-tenant subnet pool prefix quota exceeded.", kind="SubnetPoolQuotaExceeded"
        )


async def carve(s: AsyncSession, pool: m.SubnetPool, req: Request, project_id: str) -> ipam.Net:
    """The subnet's CIDR from the pool's free space (the caller holds the pool's lock)."""
    limits = prefixes.Bounds(pool.min_prefixlen, pool.max_prefixlen, pool.default_prefixlen)
    if req.cidr is not None:
        prefixlen = req.cidr.prefixlen
    else:
        prefixlen = req.prefixlen if req.prefixlen is not None else pool.default_prefixlen
    prefixes.check_length(prefixlen, limits)
    await _check_quota(s, pool, project_id, prefixlen)
    free = prefixes.free_blocks(
        subnetpools.prefixes_of(pool), await subnetpools.allocated(s, pool.id)
    )
    if req.cidr is not None:
        return prefixes.specific_block(free, req.cidr)
    return prefixes.any_block(free, prefixlen)


async def check_affinity(
    s: AsyncSession, network_id: str, version: int, pool: m.SubnetPool | None
) -> None:
    """400 NetworkSubnetPoolAffinityError when the network's other subnets of this IP version
    came from another pool (or none): one network, one pool per IP version (Neutron)."""
    rows = await s.execute(
        select(m.Subnet.subnetpool_id).where(
            m.Subnet.network_id == network_id, m.Subnet.ip_version == version
        )
    )
    wanted = pool.id if pool is not None else None
    if any(found != wanted for found in rows.scalars()):
        raise errors.BadRequest(
            "Subnets hosted on the same network must be allocated from the same subnet pool.",
            kind="NetworkSubnetPoolAffinityError",
        )
