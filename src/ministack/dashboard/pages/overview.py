"""Overview: the project's quota usage as bars, and its recent instance actions.

Usage comes from ``GET /os-quota-sets/{project}/detail`` (compute). Volumes, gigabytes, floating
IPs and security groups join `USAGE` from their services' quota APIs when those services land.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from ministack.dashboard.web import Page, page

# (quota key, label, unit) of the compute quota set, in display order
USAGE: tuple[tuple[str, str, str], ...] = (
    ("instances", "Instances", ""),
    ("cores", "vCPUs", ""),
    ("ram", "RAM", "MB"),
    ("key_pairs", "Key pairs", ""),
    ("server_groups", "Server groups", ""),
)
RECENT_SERVERS = 5
RECENT_ACTIONS = 10


def bar(key: str, label: str, unit: str, quota: dict[str, Any]) -> dict[str, Any]:
    """One usage bar: used, limit (-1: unlimited) and the filled percentage (0-100)."""
    used = int(quota.get("in_use", 0)) + int(quota.get("reserved", 0))
    limit = int(quota.get("limit", -1))
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


async def overview(p: Page) -> Response:
    quota_body, servers_body = await asyncio.gather(
        p.get("compute", f"/os-quota-sets/{p.login.project_id}/detail"),
        p.get("compute", "/servers/detail", limit=RECENT_SERVERS, sort_key="updated_at"),
    )
    quotas = quota_body.get("quota_set", {})
    bars = [bar(k, label, unit, quotas[k]) for k, label, unit in USAGE if k in quotas]
    servers = servers_body.get("servers", [])
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
    return p.render("overview.html", bars=bars, recent=recent[:RECENT_ACTIONS])


ROUTES = [page("/project/", overview)]
