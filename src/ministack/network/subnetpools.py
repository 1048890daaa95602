"""Subnet pools: create, show, list, update (prefixes may only grow), delete (refused while a
subnet was carved from the pool), and the add_prefixes / remove_prefixes actions.

Where it sits: called by `api/subnetpools.py`; prefix arithmetic is `prefixes.py`; subnets
are carved from a pool by `subnet_alloc.py`. Visibility as Neutron: a project's own pools
and shared ones (all for admins); only admins set `shared` and `is_default`.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import orjson
from sqlalchemy import or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.network import models as m
from ministack.network import policies, prefixes, quotas, views
from ministack.network.core import Core, drop_tags, if_match, not_found, tags_of, touch
from ministack.network.ipam import Net
from ministack.network.listing import Kind

KIND = Kind(
    model=m.SubnetPool,
    collection="subnetpools",
    filters={
        "id": m.SubnetPool.id,
        "name": m.SubnetPool.name,
        "description": m.SubnetPool.description,
        "ip_version": m.SubnetPool.ip_version,
        "default_prefixlen": m.SubnetPool.default_prefixlen,
        "min_prefixlen": m.SubnetPool.min_prefixlen,
        "max_prefixlen": m.SubnetPool.max_prefixlen,
        "default_quota": m.SubnetPool.default_quota,
        "shared": m.SubnetPool.shared,
        "is_default": m.SubnetPool.is_default,
        "address_scope_id": m.SubnetPool.address_scope_id,
        "revision_number": m.SubnetPool.revision_number,
    },
    sorts={
        "id": m.SubnetPool.id,
        "name": m.SubnetPool.name,
        "ip_version": m.SubnetPool.ip_version,
        "default_prefixlen": m.SubnetPool.default_prefixlen,
        "created_at": m.SubnetPool.created_at,
        "updated_at": m.SubnetPool.updated_at,
        "project_id": m.SubnetPool.project_id,
        "tenant_id": m.SubnetPool.project_id,
        "revision_number": m.SubnetPool.revision_number,
    },
    bools=frozenset({"shared", "is_default"}),
    ints=frozenset(
        {
            "ip_version",
            "default_prefixlen",
            "min_prefixlen",
            "max_prefixlen",
            "default_quota",
            "revision_number",
        }
    ),
)


def visible_clause(auth: Auth) -> Any:
    """Pools the caller may see and use: its own and shared ones (all for admins)."""
    if auth.reads_all:
        return true()
    return or_(m.SubnetPool.project_id == (auth.project_id or ""), m.SubnetPool.shared.is_(True))


async def visible(s: AsyncSession, auth: Auth, pool_id: str, lock: bool = False) -> m.SubnetPool:
    """The pool when the caller may see it (404 otherwise); `lock` holds its row for the rest
    of the transaction (PostgreSQL; SQLite's writer is already exclusive), so allocations from
    one pool and changes to it run one at a time."""
    query = select(m.SubnetPool).where(m.SubnetPool.id == pool_id, visible_clause(auth))
    if lock:
        query = query.with_for_update()
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found("SubnetPool", pool_id)
    return row


def prefixes_of(row: m.SubnetPool) -> list[Net]:
    return [ipaddress.ip_network(p) for p in orjson.loads(row.prefixes)]


async def allocated(s: AsyncSession, pool_id: str) -> list[Net]:
    """The CIDRs of the subnets carved from the pool."""
    rows = await s.execute(select(m.Subnet.cidr).where(m.Subnet.subnetpool_id == pool_id))
    return [ipaddress.ip_network(c) for c in rows.scalars()]


async def render(s: AsyncSession, rows: list[m.SubnetPool]) -> list[dict[str, Any]]:
    tags = await tags_of(s, [r.id for r in rows])
    return [views.subnetpool(r, tags.get(r.id, [])) for r in rows]


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    return None if value is None else int(value)


def _check_attribute_rules(auth: Auth, verb: str, body: dict[str, Any], project: str) -> None:
    for attr in ("shared", "is_default"):
        if attr in body:
            policies.authorize(auth, f"{verb}_subnetpool:{attr}", project)


async def _one_default(s: AsyncSession, version: int, skip: str = "") -> None:
    """400 when another pool of this IP version is already the default."""
    query = select(m.SubnetPool.id).where(
        m.SubnetPool.is_default.is_(True), m.SubnetPool.ip_version == version
    )
    if any(found != skip for found in (await s.execute(query)).scalars()):
        raise errors.BadRequest(
            "Invalid input for operation: A default subnetpool for this IP family has already "
            "been set. Only one default may exist per IP family.",
            kind="InvalidInput",
        )


def _set_bounds(row: m.SubnetPool, body: dict[str, Any]) -> None:
    keys = ("min_prefixlen", "max_prefixlen", "default_prefixlen")
    current = {k: getattr(row, k, None) for k in keys}
    asked = {k: _int(body, k) if k in body else current[k] for k in keys}
    limits = prefixes.bounds(
        row.ip_version, asked["min_prefixlen"], asked["max_prefixlen"], asked["default_prefixlen"]
    )
    row.min_prefixlen = limits.min_prefixlen
    row.max_prefixlen = limits.max_prefixlen
    row.default_prefixlen = limits.default_prefixlen


def _set_prefixes(row: m.SubnetPool, nets: list[Net]) -> None:
    row.prefixes = orjson.dumps([str(n) for n in prefixes.compact(nets)]).decode()


async def create(core: Core, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    project = body.get("project_id") or body.get("tenant_id") or auth.project_id or ""
    policies.authorize(auth, "create_subnetpool", project)
    _check_attribute_rules(auth, "create", body, project)
    nets = prefixes.parse(body["prefixes"])
    now = utcnow()
    row = m.SubnetPool(
        id=str(uuid.uuid4()),
        project_id=project,
        name=body["name"],
        description=body.get("description", ""),
        ip_version=nets[0].version,
        default_quota=_int(body, "default_quota"),
        shared=body.get("shared", False),
        is_default=body.get("is_default", False),
        address_scope_id=None,
        revision_number=0,
        created_at=now,
        updated_at=now,
    )
    _set_prefixes(row, nets)
    _set_bounds(row, body)
    async with core.db.writer() as s:
        await quotas.claim(s, core.db, core.settings, project, "subnetpool")
        if row.is_default:
            await _one_default(s, row.ip_version)
        s.add(row)
        await s.flush()
        return (await render(s, [row]))[0]


async def show(core: Core, auth: Auth, pool_id: str) -> dict[str, Any]:
    async with core.db.session() as s:
        row = await visible(s, auth, pool_id)
        if not row.shared:
            policies.authorize(auth, "get_subnetpool", row.project_id)
        return (await render(s, [row]))[0]


def _grown(row: m.SubnetPool, wanted: list[Net]) -> list[Net]:
    """The new prefixes when they keep every existing one; 400 otherwise (Neutron lets a
    pool's prefixes only grow through update)."""
    if wanted[0].version != row.ip_version:
        raise errors.BadRequest(
            "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.", kind="PrefixVersionMismatch"
        )
    for old in prefixes_of(row):
        if not any(old.subnet_of(new) for new in wanted):  # type: ignore[arg-type]
            raise errors.BadRequest(
                "Illegal update to prefixes: Existing prefixes must be a subset of the new "
                "prefixes.",
                kind="IllegalSubnetPoolPrefixUpdate",
            )
    return wanted


async def update(
    core: Core, auth: Auth, pool_id: str, body: dict[str, Any], match: str | None
) -> dict[str, Any]:
    async with core.db.writer() as s:
        row = await visible(s, auth, pool_id, lock=True)
        policies.authorize(auth, "update_subnetpool", row.project_id)
        _check_attribute_rules(auth, "update", body, row.project_id)
        if_match(match, row)
        if "prefixes" in body:
            _set_prefixes(row, _grown(row, prefixes.parse(body["prefixes"])))
        _set_bounds(row, body)
        if body.get("is_default") and not row.is_default:
            await _one_default(s, row.ip_version, skip=row.id)
        for key in ("name", "description", "is_default"):
            if key in body:
                setattr(row, key, body[key])
        if "default_quota" in body:
            row.default_quota = _int(body, "default_quota")
        touch(row)
        return (await render(s, [row]))[0]


async def delete(core: Core, auth: Auth, pool_id: str, match: str | None) -> None:
    """Delete a pool; 400 SubnetPoolDeleteError (Neutron's answer) while a subnet was carved
    from it."""
    async with core.db.writer() as s:
        row = await visible(s, auth, pool_id, lock=True)
        policies.authorize(auth, "delete_subnetpool", row.project_id)
        if_match(match, row)
        if await allocated(s, pool_id):
            raise errors.BadRequest(
                "Unable to delete subnet pool: Subnet pool has existing allocations.",
                kind="SubnetPoolDeleteError",
            )
        await s.delete(row)
        await drop_tags(s, [pool_id])


async def add_prefixes(core: Core, auth: Auth, pool_id: str, raw: list[str]) -> list[str]:
    """Merge `raw` into the pool's prefixes; the pool's prefixes after."""
    async with core.db.writer() as s:
        row = await visible(s, auth, pool_id, lock=True)
        policies.authorize(auth, "add_prefixes", row.project_id)
        if raw:
            _set_prefixes(row, _grown(row, prefixes_of(row) + prefixes.parse(raw)))
            touch(row)
        out: list[str] = orjson.loads(row.prefixes)
        return out


async def remove_prefixes(core: Core, auth: Auth, pool_id: str, raw: list[str]) -> list[str]:
    """Take `raw` out of the pool's prefixes; 400 IllegalSubnetPoolPrefixUpdate when a subnet
    of the pool lies in what would go."""
    async with core.db.writer() as s:
        row = await visible(s, auth, pool_id, lock=True)
        policies.authorize(auth, "remove_prefixes", row.project_id)
        if raw:
            gone = prefixes.parse(raw)
            if any(a.overlaps(g) for a in await allocated(s, pool_id) for g in gone):
                raise errors.BadRequest(
                    "Illegal update to prefixes: One or more the prefixes to be removed is in "
                    "use by a subnet.",
                    kind="IllegalSubnetPoolPrefixUpdate",
                )
            left = prefixes.free_blocks(prefixes_of(row), gone)
            _set_prefixes(row, left)
            touch(row)
        out: list[str] = orjson.loads(row.prefixes)
        return out
