"""Hypervisors (/os-hypervisors): each compute node, its capacity and what placement says is
used, with its service's state and status."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.db import utcnow
from ministack.common.models import ServiceRecord
from ministack.common.params import to_bool
from ministack.common.web import json_response
from ministack.compute import models as m
from ministack.compute import servicegroup
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, route, version


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
    """Every field a hypervisor ever had at this microversion: uuids for ids from 2.53; the
    statistics until 2.87; the host's uptime from 2.88 (callers pick brief or detail)."""
    v = version(request)
    uuids = v >= UUIDS
    body: dict[str, Any] = {
        "id": node.uuid if uuids else node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if up else "down",
        "status": "disabled" if svc is None or svc.disabled else "enabled",
        "hypervisor_type": node.hypervisor_type,
        "hypervisor_version": node.hypervisor_version,
        "host_ip": node.host_ip,
        "service": {
            "id": (svc.uuid if uuids else svc.id) if svc else None,
            "host": node.host,
            "disabled_reason": svc.disabled_reason if svc else None,
        },
    }
    if v >= NO_STATS:
        body["uptime"] = _uptime()
        return body
    mem_used = used.get("MEMORY_MB", 0)
    disk_used = used.get("DISK_GB", 0)
    cpu_info: Any = node.cpu_info
    if v >= (2, 28):
        cpu_info = json.loads(node.cpu_info or "{}")
    body.update(
        {
            "vcpus": node.vcpus,
            "memory_mb": node.memory_mb,
            "local_gb": node.local_gb,
            "vcpus_used": used.get("VCPU", 0),
            "memory_mb_used": mem_used,
            "local_gb_used": disk_used,
            "free_ram_mb": node.memory_mb - mem_used,
            "free_disk_gb": node.local_gb - disk_used,
            "current_workload": 0,
            "running_vms": running,
            "cpu_info": cpu_info,
            "disk_available_least": node.local_gb - disk_used,
        }
    )
    return body


UUIDS = (2, 53)
NO_STATS = (2, 88)
_BRIEF = ("id", "hypervisor_hostname", "state", "status")


def _not_found() -> errors.NotFound:
    return errors.NotFound("The resource could not be found.")


async def _listed(request: Request, detail: bool) -> list[dict[str, Any]]:
    """The hypervisors a list answers: from 2.53 filtered by hypervisor_hostname_pattern
    (no paging then) and with their servers when with_servers is true; limit/marker from
    2.33 (the marker an id, a uuid from 2.53)."""
    params = validation.query(request)
    rows = await _rows(request)
    pattern, with_servers = None, False
    if version(request) >= UUIDS:
        pattern = params.get("hypervisor_hostname_pattern")
        with_servers = to_bool(params.get("with_servers", False))
    if pattern is not None:
        if "limit" in params or params.get("marker"):
            raise errors.BadRequest(
                "Paging over hypervisors with the hypervisor_hostname_pattern query "
                "parameter is not supported."
            )
        rows = [r for r in rows if pattern in r["hypervisor_hostname"]]
        if not rows:
            raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    elif version(request) >= (2, 33):
        rows = _page(rows, params)
    out = [r if detail else {k: r[k] for k in _BRIEF} for r in rows]
    if with_servers:
        await _add_servers(request, out)
    return out


def _page(rows: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    marker = params.get("marker")
    if marker:
        ids = [str(r["id"]) for r in rows]
        if str(marker) not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        rows = rows[ids.index(str(marker)) + 1 :]
    if params.get("limit") is not None:
        rows = rows[: int(params["limit"])]
    return rows


async def _add_servers(request: Request, hypervisors: list[dict[str, Any]]) -> None:
    """Each hypervisor's servers (name and uuid); from 2.75 an empty list is shown too."""
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
    for hyp in hypervisors:
        servers = [
            {"name": n, "uuid": u} for u, n, node in insts if node == hyp["hypervisor_hostname"]
        ]
        if servers or version(request) >= (2, 75):
            hyp["servers"] = servers


async def list_hypervisors(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:list")
    return json_response({"hypervisors": await _listed(request, detail=False)})


async def list_hypervisors_detail(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:list-detail")
    return json_response({"hypervisors": await _listed(request, detail=True)})


def _check_id(request: Request, ident: str) -> None:
    if version(request) >= UUIDS:
        try:
            uuid.UUID(ident)
        except ValueError:
            raise errors.BadRequest(f"Invalid uuid {ident}") from None
    elif not ident.isdigit():
        raise errors.NotFound(f"Hypervisor with ID '{ident}' could not be found.")


async def show_hypervisor(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:show")
    ident = request.path_params["hypervisor_id"]
    _check_id(request, ident)
    params = validation.query(request)
    for row in await _rows(request):
        if str(row["id"]) == ident:
            if version(request) >= UUIDS and to_bool(params.get("with_servers", False)):
                await _add_servers(request, [row])
            return json_response({"hypervisor": row})
    raise errors.NotFound(f"Hypervisor {ident} could not be found.")


async def hypervisor_statistics(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hypervisors:statistics")
    if version(request) >= NO_STATS:
        raise _not_found()
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
    if version(request) >= NO_STATS:
        raise _not_found()
    _check_id(request, ident)
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
    if version(request) >= UUIDS:  # moved into the list's query parameters at 2.53
        raise _not_found()
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
    route("/v2.1/os-hypervisors", list_hypervisors, "GET", query=schemas.list_hypervisors),
    route(
        "/v2.1/os-hypervisors/detail",
        list_hypervisors_detail,
        "GET",
        query=schemas.list_hypervisors,
    ),
    Route("/v2.1/os-hypervisors/statistics", hypervisor_statistics, methods=["GET"]),
    route(
        "/v2.1/os-hypervisors/{hypervisor_id}",
        show_hypervisor,
        "GET",
        query=schemas.show_hypervisor,
    ),
    Route("/v2.1/os-hypervisors/{hypervisor_id}/uptime", hypervisor_uptime, methods=["GET"]),
    Route("/v2.1/os-hypervisors/{pattern}/search", search_hypervisors, methods=["GET"]),
    Route("/v2.1/os-hypervisors/{pattern}/servers", hypervisor_servers, methods=["GET"]),
]
