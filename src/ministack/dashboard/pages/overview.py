"""Overview: the project's quota usage as bars, and its recent instance actions.

Usage comes from each service's quota API (`SOURCES`): compute's
``/os-quota-sets/{project}/detail``, block storage's ``/os-quota-sets/{project}?usage=true``,
networking's ``/v2.0/quotas/{project}/details``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ministack.dashboard.web import Page, page


@dataclass(frozen=True)
class UsageSource:
    """One service's quota API: where usage is read and which of its quotas are drawn."""

    service: str  # catalog type
    path: str  # with {project}
    params: tuple[tuple[str, str], ...]
    body_key: str
    used_key: str
    quotas: tuple[tuple[str, str, str], ...]  # (quota key, label, unit)


# Each service that has landed adds its quotas here; a source shows when its service is in the
# user's catalog (the object store has no quota set of this kind).
SOURCES: tuple[UsageSource, ...] = (
    UsageSource(
        "compute",
        "/os-quota-sets/{project}/detail",
        (),
        "quota_set",
        "in_use",
        (
            ("instances", "Instances", ""),
            ("cores", "vCPUs", ""),
            ("ram", "RAM", "MB"),
            ("key_pairs", "Key pairs", ""),
            ("server_groups", "Server groups", ""),
        ),
    ),
    UsageSource(
        "volumev3",
        "/os-quota-sets/{project}",
        (("usage", "true"),),
        "quota_set",
        "in_use",
        (
            ("volumes", "Volumes", ""),
            ("gigabytes", "Volume storage", "GB"),
            ("snapshots", "Volume snapshots", ""),
        ),
    ),
    UsageSource(
        "network",
        "/v2.0/quotas/{project}/details",
        (),
        "quota",
        "used",
        (
            ("floatingip", "Floating IPs", ""),
            ("security_group", "Security groups", ""),
            ("network", "Networks", ""),
            ("router", "Routers", ""),
            ("port", "Ports", ""),
        ),
    ),
)
RECENT_SERVERS = 5
RECENT_ACTIONS = 10


def bar(key: str, label: str, unit: str, used: int, limit: int) -> dict[str, Any]:
    """One usage bar: used, limit (-1: unlimited) and the filled percentage (0-100)."""
    percent = 0 if limit <= 0 else min(100, round(100 * used / limit))
    if limit == 0 and used:
        percent = 100
    return {
        "key": key,
        "label": label,
        "unit": unit,
        "used": used,
        "limit": limit,
        "percent": percent,
        "level": "high" if percent >= 90 else "mid" if percent >= 70 else "low",
    }


async def _usage(p: Page, source: UsageSource) -> list[dict[str, Any]]:
    path = source.path.format(project=p.login.project_id)
    body = await p.get(source.service, path, **dict(source.params))
    found = (body or {}).get(source.body_key, {})
    bars = []
    for key, label, unit in source.quotas:
        q = found.get(key)
        if isinstance(q, dict):
            used = int(q.get(source.used_key, 0)) + int(q.get("reserved", 0) or 0)
            bars.append(bar(key, label, unit, used, int(q.get("limit", -1))))
    return bars


async def _recent(p: Page) -> list[dict[str, Any]]:
    """The latest instance actions of the project (of its most recently changed servers)."""
    if not p.login.has("compute"):
        return []
    body = await p.get("compute", "/servers/detail", limit=RECENT_SERVERS, sort_key="updated_at")
    servers = body.get("servers", [])
    lists = await asyncio.gather(
        *(p.get("compute", f"/servers/{s['id']}/os-instance-actions") for s in servers),
        return_exceptions=True,
    )
    names = {s["id"]: s.get("name", "") for s in servers}
    recent: list[dict[str, Any]] = []
    for found in lists:
        if isinstance(found, dict):
            for a in found.get("instanceActions", []):
                recent.append({**a, "server_name": names.get(a.get("instance_uuid", ""), "")})
    recent.sort(key=lambda a: str(a.get("start_time", "")), reverse=True)
    return recent[:RECENT_ACTIONS]


async def overview(p: Page) -> Response:
    sources = [s for s in SOURCES if p.login.has(s.service)]
    *usages, recent = await asyncio.gather(
        *(_usage(p, s) for s in sources), _recent(p), return_exceptions=True
    )
    bars: list[dict[str, Any]] = []
    unavailable: list[str] = []
    for source, found in zip(sources, usages, strict=True):
        if isinstance(found, BaseException):
            unavailable.append(f"{source.service}: {getattr(found, 'message', 'unavailable')}")
        else:
            bars += found
    if isinstance(recent, BaseException):
        raise recent
    return p.render("overview.html", bars=bars, recent=recent, unavailable=unavailable)


ROUTES = [page("/project/", overview)]
