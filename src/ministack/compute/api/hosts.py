"""Hosts (Nova's deprecated /os-hosts, still what `openstack host list/show` call): every
service's host with its topic and zone, and one compute host's resources — its capacity,
what placement says is used now, what its servers could use at most, and that per project.
Nova answers 404 from microversion 2.43 on; so does this."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.models import ServiceRecord
from ministack.common.web import json_response
from ministack.compute import models as m
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, route, version
from ministack.compute.api.zones import host_zones

REMOVED = (2, 43)


def _check_version(request: Request) -> None:
    if version(request) >= REMOVED:
        raise errors.NotFound("The resource could not be found.")


async def list_hosts(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hosts:list")
    _check_version(request)
    api = api_of(request)
    async with api.db.session() as s:
        rows = (
            await s.execute(
                select(ServiceRecord)
                .where(ServiceRecord.binary.like("nova-%"))
                .order_by(ServiceRecord.id)
            )
        ).scalars()
        services = [(r.host, r.binary) for r in rows]
    zones = await host_zones(api)
    wanted = validation.query(request).get("zone")
    hosts = []
    for host, binary in services:
        topic = binary.removeprefix("nova-")
        zone = zones.get(host, "nova") if topic == "compute" else "internal"
        if wanted is None or zone == wanted:
            hosts.append({"host_name": host, "service": topic, "zone": zone})
    return json_response({"hosts": hosts})


def _resource(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


async def show_host(request: Request) -> Response:
    await caller(request, "os_compute_api:os-hosts:show")
    _check_version(request)
    host = request.path_params["host_name"]
    api = api_of(request)
    async with api.db.session() as s:
        node = await s.scalar(
            select(m.ComputeNode).where(m.ComputeNode.host == host).order_by(m.ComputeNode.id)
        )
        if node is None:
            raise errors.NotFound(f"Compute host {host} could not be found.")
        servers = (
            await s.execute(
                select(m.Instance).where(m.Instance.host == host, m.Instance.deleted.is_(False))
            )
        ).scalars()
        loads = [
            (i.project_id, i.vcpus, i.memory_mb, i.root_gb + int(i.flavor.get("ephemeral", 0)))
            for i in servers
        ]
    used = (await api.placement.usages()).get(node.uuid, {})
    out = [
        _resource(host, "(total)", node.vcpus, node.memory_mb, node.local_gb),
        _resource(
            host,
            "(used_now)",
            used.get("VCPU", 0),
            used.get("MEMORY_MB", 0),
            used.get("DISK_GB", 0),
        ),
        _resource(
            host,
            "(used_max)",
            sum(x[1] for x in loads),
            sum(x[2] for x in loads),
            sum(x[3] for x in loads),
        ),
    ]
    per_project: dict[str, list[int]] = {}
    for project, cpu, mem, disk in loads:
        sums = per_project.setdefault(project, [0, 0, 0])
        sums[0], sums[1], sums[2] = sums[0] + cpu, sums[1] + mem, sums[2] + disk
    out += [_resource(host, p, *sums) for p, sums in per_project.items()]
    return json_response({"host": out})


ROUTES: list[BaseRoute] = [
    route("/v2.1/os-hosts", list_hosts, "GET", query=schemas.list_hosts),
    route("/v2.1/os-hosts/{host_name}", show_host, "GET"),
]
