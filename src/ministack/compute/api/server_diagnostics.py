"""Server diagnostics (GET /servers/{id}/diagnostics, admin): the hypervisor's figures for a
running server, asked of its host's agent over RPC. Before 2.48 they come as the driver's
flat legacy dict (cpu0_time, memory, vda_read, tap..._rx, ...); from 2.48 in Nova's
standard form (state, driver, cpu/disk/nic details, memory_details in MiB)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors
from ministack.common.rpc.base import RemoteError, RpcError
from ministack.common.web import json_response
from ministack.compute import states
from ministack.compute.api.common import api_of, caller, route, version
from ministack.compute.api.servers import load
from ministack.compute.rpcapi.agent import DiagnosticsReport

STANDARD = (2, 48)
_DISK_LEGACY = (
    ("read_requests", "read_req"),
    ("read_bytes", "read"),
    ("write_requests", "write_req"),
    ("write_bytes", "write"),
    ("errors_count", "errors"),
)
_NIC_LEGACY = (
    ("rx_octets", "rx"),
    ("rx_packets", "rx_packets"),
    ("rx_errors", "rx_errors"),
    ("rx_drop", "rx_drop"),
    ("tx_octets", "tx"),
    ("tx_packets", "tx_packets"),
    ("tx_errors", "tx_errors"),
    ("tx_drop", "tx_drop"),
)
_DISK_FIELDS = ("read_bytes", "read_requests", "write_bytes", "write_requests", "errors_count")
_NIC_FIELDS = (
    "mac_address",
    "rx_octets",
    "rx_errors",
    "rx_drop",
    "rx_packets",
    "rx_rate",
    "tx_octets",
    "tx_errors",
    "tx_drop",
    "tx_packets",
    "tx_rate",
)


def legacy(report: DiagnosticsReport) -> dict[str, Any]:
    """The pre-2.48 body: one flat dict of counters keyed by device, as libvirt's were."""
    out: dict[str, Any] = {}
    for cpu in report.cpus:
        if cpu.get("time_ns") is not None:
            out[f"cpu{cpu['id']}_time"] = cpu["time_ns"]
    out["memory"] = report.memory_kib
    if report.memory_used_kib is not None:
        out["memory-actual"] = report.memory_used_kib
    for disk in report.disks:
        for field, suffix in _DISK_LEGACY:
            if disk.get(field) is not None:
                out[f"{disk['device']}_{suffix}"] = disk[field]
    for nic in report.nics:
        for field, suffix in _NIC_LEGACY:
            if nic.get(field) is not None:
                out[f"{nic['device']}_{suffix}"] = nic[field]
    return out


def standard(report: DiagnosticsReport) -> dict[str, Any]:
    """The 2.48 body, every field present (None where the hypervisor has no figure)."""
    used = report.memory_used_kib
    return {
        "state": report.state,
        "driver": report.driver,
        "hypervisor": report.hypervisor,
        "hypervisor_os": report.hypervisor_os,
        "uptime": report.uptime,
        "config_drive": report.config_drive,
        "num_cpus": len(report.cpus),
        "num_disks": len(report.disks),
        "num_nics": len(report.nics),
        "cpu_details": [
            {"id": c["id"], "time": c.get("time_ns"), "utilisation": c.get("utilisation")}
            for c in report.cpus
        ],
        "disk_details": [{k: d.get(k) for k in _DISK_FIELDS} for d in report.disks],
        "nic_details": [{k: n.get(k) for k in _NIC_FIELDS} for n in report.nics],
        "memory_details": {
            "maximum": report.memory_kib // 1024,
            "used": used // 1024 if used is not None else None,
        },
    }


async def show_diagnostics(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-server-diagnostics")
    inst = await load(request, auth)
    if inst.host is None or inst.vm_state == states.BUILDING:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready")
    if inst.power_state != states.PowerState.RUNNING:
        raise errors.Conflict(
            f"Cannot 'get_diagnostics' instance {inst.uuid} while it is in power_state "
            f"{inst.power_state}"
        )
    try:
        report = await api_of(request).agent(inst.host).get_diagnostics(inst.uuid)
    except RemoteError:
        raise errors.Conflict(f"Instance {inst.uuid} is not ready") from None
    except RpcError:
        raise errors.Conflict(
            f"The diagnostics of instance {inst.uuid} are unavailable: its host {inst.host} "
            "does not answer."
        ) from None
    body = standard(report) if version(request) >= STANDARD else legacy(report)
    return json_response(body)


ROUTES: list[BaseRoute] = [
    route("/v2.1/servers/{server_id}/diagnostics", show_diagnostics, "GET"),
]
