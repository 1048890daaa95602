"""The service catalog: written at start-up for every service that runs, served in tokens."""

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

_cache: dict[int, tuple[int, list[dict[str, Any]]]] = {}


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


async def catalog_for(core: IdentityCore) -> list[dict[str, Any]]:
    """The catalog in token format, cached until the identity revision changes."""
    rev = await core.revision()
    hit = _cache.get(id(core))
    if hit and hit[0] == rev:
        return hit[1]
    async with core.db.session() as s:
        services = (await s.execute(select(m.Service).where(m.Service.enabled))).scalars().all()
        endpoints = (await s.execute(select(m.Endpoint).where(m.Endpoint.enabled))).scalars().all()
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
    _cache[id(core)] = (rev, catalog)
    return catalog


_PROJECT_KEYS = ("$(project_id)s", "%(project_id)s", "$(tenant_id)s", "%(tenant_id)s")


def for_project(catalog: list[dict[str, Any]], project_id: str | None) -> list[dict[str, Any]]:
    """The catalog as a token scoped to `project_id` shows it: Keystone's URL substitution of
    ``$(project_id)s`` (and ``tenant_id``); an endpoint that needs a project is left out when
    the token has none (domain or system scope), as Keystone does."""
    out = []
    for svc in catalog:
        endpoints = []
        for ep in svc["endpoints"]:
            url: str = ep["url"]
            if any(key in url for key in _PROJECT_KEYS):
                if project_id is None:
                    continue
                for key in _PROJECT_KEYS:
                    url = url.replace(key, project_id)
                ep = {**ep, "url": url}
            endpoints.append(ep)
        out.append({**svc, "endpoints": endpoints})
    return out
