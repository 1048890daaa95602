"""Hypervisors (/os-hypervisors): each compute node, its capacity and what placement says is
used, with its service's state and status."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.db import utcnow
from ministack.common.models import ServiceRecord
from ministack.common.web import json_response
from ministack.compute import models as m
from ministack.compute import servicegroup
from ministack.compute.api.common import api_of, caller, version


async def _rows(request: Request) -> list[dict[str, Any]]:
    api = api_of(request)
    async with api.db.session() as s:
        nodes = list((await s.execute(select(m.ComputeNode).order_by(m.ComputeNode.id))).scalars())
        counts = await s.execute(
            select(m.Instance.node, func.count())
            .where(m.Instance.deleted.is_(False))
            .group_by(m.Instance.node)
        )
        running = {node: int(n) for node, n in counts.tuples()}
    services = await servicegroup.compute_services(api.db)
    usages = await api.placement.usages()
    now = utcnow()
    out = []
    for node in nodes:
        svc = services.get(node.host)
        used = usages.get(node.uuid, {})
        out.append(
            _render(
                request,
                node,
                svc,
                used,
                int(running.get(node.hypervisor_hostname, 0)),
                svc is not None
                and servicegroup.is_up(svc, api.settings.compute.service_down_time, now),
            )
        )
    return out


def _render(
    request: Request,
    node: m.ComputeNode,
    svc: ServiceRecord | None,
    used: dict[str, int],
    running: int,
    up: bool,
) -> dict[str, Any]:
    mem_used = used.get("MEMORY_MB", 0)
    disk_used = used.get("DISK_GB", 0)
    cpu_info: Any = node.cpu_info
    if version(request) >= (2, 28):
        cpu_info = json.loads(node.cpu_info or "{}")
    return {
        "id": node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if up else "down",
        "status": "disabled" if svc is None or svc.disabled else "enabled",
        "vcpus": node.vcpus,
        "memory_mb": node.memory_mb,
        "local_gb": node.local_gb,
        "vcpus_used": used.get("VCPU", 0),
        "memory_mb_used": mem_used,
        "local_gb_used": disk_used,
        "hypervisor_type": node.hypervisor_type,
        "hypervisor_version": node.hypervisor_version,
        "free_ram_mb": node.memory_mb - mem_used,
        "free_disk_gb": node.local_gb - disk_used,
        "current_workload": 0,
        "running_vms": running,
        "cpu_info": cpu_info,
        "disk_available_least": node.local_gb - disk_used,
        "host_ip": node.host_ip,
        "service": {
            "id": svc.id if svc else None,
            "host": node.host,
            "disabled_reason": svc.disabled_reason if svc else None,
        },
    }


_BRIEF = ("id", "hypervisor_hostname", "state", "status")


async def list_hypervisors(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:list")
    rows = await _rows(request)
    return json_response({"hypervisors": [{k: r[k] for k in _BRIEF} for r in rows]})


async def list_hypervisors_detail(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:list-detail")
    return json_response({"hypervisors": await _rows(request)})


async def show_hypervisor(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:show")
    ident = request.path_params["hypervisor_id"]
    for row in await _rows(request):
        if str(row["id"]) == ident:
            return json_response({"hypervisor": row})
    raise errors.NotFound(f"Hypervisor {ident} could not be found.")


async def hypervisor_statistics(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:statistics")
    rows = await _rows(request)
    keys = (
        "vcpus",
        "memory_mb",
        "local_gb",
        "vcpus_used",
        "memory_mb_used",
        "local_gb_used",
        "free_ram_mb",
        "free_disk_gb",
        "current_workload",
        "running_vms",
        "disk_available_least",
    )
    stats: dict[str, int] = {"count": len(rows)}
    for key in keys:
        stats[key] = sum(int(r[key]) for r in rows)
    return json_response({"hypervisor_statistics": stats})


async def hypervisor_uptime(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:uptime")
    ident = request.path_params["hypervisor_id"]
    for row in await _rows(request):
        if str(row["id"]) == ident:
            brief = {k: row[k] for k in _BRIEF}
            brief["uptime"] = _uptime()
            return json_response({"hypervisor": brief})
    raise errors.NotFound(f"Hypervisor {ident} could not be found.")


def _uptime() -> str:
    """The host's uptime in the format of `uptime` (what Nova's drivers report)."""
    seconds = int(float(Path("/proc/uptime").read_text().split()[0]))
    days, rest = divmod(seconds, 86400)
    now = time.strftime("%H:%M:%S")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return f" {now} up {days} days, {rest // 3600:2d}:{rest % 3600 // 60:02d}, load average: {load}"


async def _matching(request: Request) -> list[dict[str, Any]]:
    pattern = request.path_params["pattern"]
    rows = [r for r in await _rows(request) if pattern in r["hypervisor_hostname"]]
    if not rows:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return rows


async def search_hypervisors(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:search")
    return json_response(
        {"hypervisors": [{k: r[k] for k in _BRIEF} for r in await _matching(request)]}
    )


async def hypervisor_servers(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:servers")
    rows = await _matching(request)
    async with api_of(request).db.session() as s:
        insts = (
            (
                await s.execute(
                    select(m.Instance.uuid, m.Instance.display_name, m.Instance.node).where(
                        m.Instance.deleted.is_(False)
                    )
                )
            )
            .tuples()
            .all()
        )
    out = []
    for row in rows:
        brief: dict[str, Any] = {k: row[k] for k in _BRIEF}
        servers = [
            {"uuid": u, "name": n} for u, n, node in insts if node == row["hypervisor_hostname"]
        ]
        if servers:
            brief["servers"] = servers
        out.append(brief)
    return json_response({"hypervisors": out})


ROUTES = [
    Route("/v2.1/os-hypervisors", list_hypervisors, methods=["GET"]),
    Route("/v2.1/os-hypervisors/detail", list_hypervisors_detail, methods=["GET"]),
    Route("/v2.1/os-hypervisors/statistics", hypervisor_statistics, methods=["GET"]),
    Route("/v2.1/os-hypervisors/{hypervisor_id}", show_hypervisor, methods=["GET"]),
    Route("/v2.1/os-hypervisors/{hypervisor_id}/uptime", hypervisor_uptime, methods=["GET"]),
    Route("/v2.1/os-hypervisors/{pattern}/search", search_hypervisors, methods=["GET"]),
    Route("/v2.1/os-hypervisors/{pattern}/servers", hypervisor_servers, methods=["GET"]),
]
