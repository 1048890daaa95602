"""The service catalog: written at start-up for every service that runs, served in tokens
(narrowed for a project with OS-EP-FILTER endpoint associations)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ministack.common.db import new_id
from ministack.config import Settings
from ministack.identity import models as m
from ministack.identity.core import IdentityCore

# service name -> (catalog types, URL path after host:port, description)
CATALOG: dict[str, tuple[tuple[str, ...], str, str]] = {
    "identity": (("identity",), "/v3", "keystone"),
    "compute": (("compute",), "/v2.1", "nova"),
    "placement": (("placement",), "", "placement"),
    "image": (("image",), "", "glance"),
    "network": (("network",), "", "neutron"),
    "volume": (("block-storage", "volumev3"), "/v3/$(project_id)s", "cinder"),
    "object": (("object-store",), "/v1/AUTH_$(project_id)s", "swift"),
}

# per core: (revision, the whole catalog, project id -> the endpoint ids its catalog keeps)
_cache: dict[int, tuple[int, list[dict[str, Any]], dict[str, set[str]]]] = {}


async def ensure_catalog(core: IdentityCore, services: list[str]) -> None:
    """Make the catalog list exactly these services at this process's URLs. Idempotent."""
    settings: Settings = core.settings
    region = settings.default.region
    async with core.db.writer() as s:
        if await s.get(m.Region, region) is None:
            s.add(m.Region(id=region, description=""))
        for name in services:
            if name not in CATALOG:
                continue
            types, path, label = CATALOG[name]
            url = settings.endpoint(name) + path
            for stype in types:
                svc = (
                    (await s.execute(select(m.Service).where(m.Service.type == stype)))
                    .scalars()
                    .first()
                )
                if svc is None:
                    svc = m.Service(
                        id=new_id(), type=stype, name=label, description="", enabled=True
                    )
                    s.add(svc)
                    await s.flush()
                endpoints = (
                    (await s.execute(select(m.Endpoint).where(m.Endpoint.service_id == svc.id)))
                    .scalars()
                    .all()
                )
                have = {e.interface: e for e in endpoints}
                for interface in ("public", "internal", "admin"):
                    ep = have.get(interface)
                    if ep is None:
                        s.add(
                            m.Endpoint(
                                id=new_id(),
                                service_id=svc.id,
                                interface=interface,
                                url=url,
                                region_id=region,
                                enabled=True,
                            )
                        )
                    elif ep.url != url or ep.region_id != region:
                        ep.url, ep.region_id = url, region
        await core.bump(s)


async def catalog_for(core: IdentityCore, project_id: str | None = None) -> list[dict[str, Any]]:
    """The catalog in token format, cached until the identity revision changes. A project with
    endpoint associations (OS-EP-FILTER: direct or through endpoint groups) sees only those
    endpoints, and only the services that keep one."""
    rev = await core.revision()
    hit = _cache.get(id(core))
    if not hit or hit[0] != rev:
        hit = (rev, *await _load(core))
        _cache[id(core)] = hit
    catalog, filters = hit[1], hit[2]
    kept = filters.get(project_id) if project_id else None
    if kept is None:
        return catalog
    narrowed = [
        {**svc, "endpoints": [e for e in svc["endpoints"] if e["id"] in kept]} for svc in catalog
    ]
    return [svc for svc in narrowed if svc["endpoints"]]


async def _load(core: IdentityCore) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    async with core.db.session() as s:
        services = (await s.execute(select(m.Service).where(m.Service.enabled))).scalars().all()
        endpoints = (await s.execute(select(m.Endpoint).where(m.Endpoint.enabled))).scalars().all()
        direct = (await s.execute(select(m.ProjectEndpoint))).scalars().all()
        grouped = (
            await s.execute(
                select(m.ProjectEndpointGroup.project_id, m.EndpointGroup.filters).join(
                    m.EndpointGroup,
                    m.EndpointGroup.id == m.ProjectEndpointGroup.endpoint_group_id,
                )
            )
        ).all()
    filters: dict[str, set[str]] = {}
    for link in direct:
        filters.setdefault(link.project_id, set()).add(link.endpoint_id)
    for project, group_filters in grouped:
        filters.setdefault(project, set()).update(
            e.id for e in endpoints if matches(e, group_filters)
        )
    by_service: dict[str, list[dict[str, Any]]] = {}
    for e in endpoints:
        by_service.setdefault(e.service_id, []).append(
            {
                "id": e.id,
                "interface": e.interface,
                "region_id": e.region_id,
                "url": e.url,
                "region": e.region_id,
            }
        )
    catalog = [
        {"endpoints": by_service.get(svc.id, []), "id": svc.id, "type": svc.type, "name": svc.name}
        for svc in services
    ]
    return catalog, filters


def matches(endpoint: m.Endpoint, filters: dict[str, Any]) -> bool:
    """The endpoint has every attribute an endpoint group's filters name."""
    return all(getattr(endpoint, key, None) == value for key, value in filters.items())


def scoped(catalog: list[dict[str, Any]], project_id: str | None) -> list[dict[str, Any]]:
    """The catalog for one token, as Keystone renders it: `$(project_id)s` (or
    `%(project_id)s`) in an endpoint URL becomes the token's project; without a project such
    endpoints are left out (Keystone drops endpoints it cannot substitute)."""
    out = []
    for entry in catalog:
        endpoints = []
        for e in entry["endpoints"]:
            url = str(e["url"])
            if "$(project_id)s" in url or "%(project_id)s" in url:
                if project_id is None:
                    continue
                url = url.replace("$(project_id)s", project_id)
                url = url.replace("%(project_id)s", project_id)
                e = {**e, "url": url}
            endpoints.append(e)
        out.append({**entry, "endpoints": endpoints})
    return out
