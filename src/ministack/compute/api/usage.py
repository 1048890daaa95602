"""Usage (Nova's /os-simple-tenant-usage): each project's server hours in a period, with
vCPU, memory and disk hours, from the instances table (deleted servers included, since a
server deleted in the period used resources in it).

The period is `start`..`end` (both default to now; Nova's three time formats), a server
counts from `max(launched_at, start)` to `min(terminated_at or end, end)`, and a server never
launched counts nothing. From 2.40 the list pages by server (`limit`, `marker` = a server id)
and the response carries `tenant_usages_links` (`tenant_usage_links` for one project).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.db import utcnow
from ministack.common.pagination import MAX_LIMIT, parse_page
from ministack.common.web import json_response
from ministack.compute import models as m
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, base_url, caller, iso_micro, route, version

# Nova's accepted spellings of start/end (simple_tenant_usage._parse_datetime)
_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")
PAGING = (2, 40)


def parse_when(raw: str | None, now: dt.datetime) -> dt.datetime:
    """A period bound: now when absent, else one of Nova's formats (400 otherwise)."""
    if not raw:
        return now
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(raw, fmt)
        except ValueError:
            continue
    raise errors.BadRequest(f"Invalid datetime string: {raw!r}: Datetime is in invalid format")


def _period(request: Request) -> tuple[dt.datetime, dt.datetime]:
    """The period asked for; 400 unless start < end (both absent: up to now). The end is
    capped at now, as Nova does."""
    params = validation.query(request)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # to the microsecond, as Nova's
    start, end = parse_when(params.get("start"), now), parse_when(params.get("end"), now)
    if start >= end and (params.get("start") or params.get("end")):
        raise errors.BadRequest(
            "Invalid start time. The start time cannot occur after the end time."
        )
    return start, min(end, now)


def hours_for(inst: m.Instance, start: dt.datetime, end: dt.datetime) -> float:
    """The hours of the period the server existed in (0 when it never launched)."""
    launched, terminated = inst.launched_at, inst.terminated_at
    if launched is None or launched > end or (terminated is not None and terminated < start):
        return 0.0
    stop = min(end, terminated) if terminated is not None else end
    return (stop - max(launched, start)).total_seconds() / 3600.0


def server_usage(inst: m.Instance, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """One server's entry in `server_usages`, as Nova renders it."""
    flavor = inst.flavor or {}
    launched = inst.launched_at or inst.created_at
    ended = inst.terminated_at
    uptime = (ended if ended is not None else utcnow()) - launched
    return {
        "instance_id": inst.uuid,
        "name": inst.display_name,
        "hours": hours_for(inst, start, end),
        "memory_mb": int(flavor.get("ram", inst.memory_mb)),
        "local_gb": int(flavor.get("disk", inst.root_gb)) + int(flavor.get("ephemeral", 0)),
        "vcpus": int(flavor.get("vcpus", inst.vcpus)),
        "tenant_id": inst.project_id,
        "flavor": flavor.get("name", ""),
        "started_at": iso_micro(inst.launched_at),
        "ended_at": iso_micro(ended),
        "state": "terminated" if ended is not None else inst.vm_state,
        "uptime": int(uptime.total_seconds()),
    }


def summarize(
    usages: list[dict[str, Any]], start: dt.datetime, end: dt.datetime, detailed: bool
) -> list[dict[str, Any]]:
    """Per-project totals in the order projects first appear (Nova's)."""
    out: dict[str, dict[str, Any]] = {}
    for usage in usages:
        summary = out.get(usage["tenant_id"])
        if summary is None:
            summary = {
                "tenant_id": usage["tenant_id"],
                "total_local_gb_usage": 0.0,
                "total_vcpus_usage": 0.0,
                "total_memory_mb_usage": 0.0,
                "total_hours": 0.0,
                "start": iso_micro(start),
                "stop": iso_micro(end),
            }
            if detailed:
                summary["server_usages"] = []
            out[usage["tenant_id"]] = summary
        hours = usage["hours"]
        summary["total_local_gb_usage"] += usage["local_gb"] * hours
        summary["total_vcpus_usage"] += usage["vcpus"] * hours
        summary["total_memory_mb_usage"] += usage["memory_mb"] * hours
        summary["total_hours"] += hours
        if detailed:
            summary["server_usages"].append(usage)
    return list(out.values())


async def _usages(
    request: Request, start: dt.datetime, end: dt.datetime, project_id: str | None
) -> tuple[list[dict[str, Any]], int | None]:
    """The servers active in the period, at most `limit` of them (Nova's max_limit before
    2.40; the client's `limit` and `marker` from 2.40), and that limit when links apply."""
    query = select(m.Instance).where(
        or_(m.Instance.terminated_at.is_(None), m.Instance.terminated_at > start),
        m.Instance.launched_at < end,
    )
    if project_id is not None:
        query = query.where(m.Instance.project_id == project_id)
    query = query.order_by(m.Instance.created_at, m.Instance.id)
    limit, marker = MAX_LIMIT, None
    if version(request) >= PAGING:
        page = parse_page(validation.query(request))
        limit = page.limit if page.limit is not None else MAX_LIMIT
        marker = page.marker
    async with api_of(request).db.session() as s:
        if marker is not None:
            after = await s.scalar(select(m.Instance).where(m.Instance.uuid == marker))
            if after is None:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            query = query.where(
                or_(
                    m.Instance.created_at > after.created_at,
                    (m.Instance.created_at == after.created_at) & (m.Instance.id > after.id),
                )
            )
        rows = (await s.execute(query.limit(limit))).scalars().all()
    return [server_usage(i, start, end) for i in rows], (
        limit if version(request) >= PAGING else None
    )


def _links(
    request: Request, usages: list[dict[str, Any]], limit: int | None
) -> list[dict[str, str]]:
    """The `next` link when a 2.40 page came back full (Nova's paging by server)."""
    if limit is None or not usages or len(usages) < limit:
        return []
    params = dict(request.query_params)
    params["marker"] = usages[-1]["instance_id"]
    return [{"rel": "next", "href": f"{base_url(request)}{request.url.path}?{urlencode(params)}"}]


async def list_usages(request: Request) -> Response:
    await caller(request, "os_compute_api:os-simple-tenant-usage:list")
    start, end = _period(request)
    detailed = validation.query(request).get("detailed") == "1"
    usages, limit = await _usages(request, start, end, None)
    body: dict[str, Any] = {"tenant_usages": summarize(usages, start, end, detailed)}
    links = _links(request, usages, limit)
    if links:
        body["tenant_usages_links"] = links
    return json_response(body)


async def show_usage(request: Request) -> Response:
    project_id = request.path_params["tenant_id"]
    await caller(request, "os_compute_api:os-simple-tenant-usage:show", project_id)
    start, end = _period(request)
    usages, limit = await _usages(request, start, end, project_id)
    summaries = summarize(usages, start, end, detailed=True)
    body: dict[str, Any] = {"tenant_usage": summaries[0] if summaries else {}}
    links = _links(request, usages, limit)
    if links:
        body["tenant_usage_links"] = links
    return json_response(body)


ROUTES: list[BaseRoute] = [
    route("/v2.1/os-simple-tenant-usage", list_usages, "GET", query=schemas.list_usages),
    route("/v2.1/os-simple-tenant-usage/{tenant_id}", show_usage, "GET", query=schemas.show_usage),
]
