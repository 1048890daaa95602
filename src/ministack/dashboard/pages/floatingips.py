"""Floating IPs (networking v2.0): list, allocate from an external network, associate with a
port or disassociate, release.

Calls: ``GET /v2.0/floatingips``, ``POST /v2.0/floatingips`` (floating_network_id),
``PUT /v2.0/floatingips/{id}`` (port_id, or null to disassociate),
``DELETE /v2.0/floatingips/{id}``; the ports offered are the project's instance ports.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.pages.networks import SERVICE, all_networks, one
from ministack.dashboard.web import Page, field, page


def _port_label(port: dict[str, Any]) -> str:
    ips = " ".join(str(ip.get("ip_address", "")) for ip in port.get("fixed_ips", []))
    return f"{port.get('name') or port['id'][:8]} {ips} ({port.get('device_id', '')[:8]})"


async def list_floatingips(p: Page) -> Response:
    fips, networks, ports = await asyncio.gather(
        p.get(SERVICE, "/v2.0/floatingips"),
        all_networks(p),
        p.get(SERVICE, "/v2.0/ports", project_id=p.login.project_id),
    )
    instance_ports = [
        pt
        for pt in ports.get("ports", [])
        if str(pt.get("device_owner", "")).startswith("compute:")
    ]
    labels = {pt["id"]: _port_label(pt) for pt in instance_ports}
    net_names = {n["id"]: n.get("name") or n["id"] for n in networks}
    rows = [
        {
            "id": f["id"],
            "address": f.get("floating_ip_address", ""),
            "network": net_names.get(f.get("floating_network_id"), ""),
            "port": labels.get(f.get("port_id") or "", f.get("port_id") or ""),
            "fixed": f.get("fixed_ip_address") or "",
            "status": f.get("status", ""),
        }
        for f in fips.get("floatingips", [])
    ]
    external = [n for n in networks if n.get("router:external")]
    ports_view = [{"id": k, "label": v} for k, v in labels.items()]
    return p.render("floatingips.html", rows=rows, external=external, ports=ports_view)


async def allocate(p: Page) -> Response:
    form = await p.form()
    fip = {"floating_network_id": field(form, "floating_network_id")}
    body = await p.call(SERVICE, "POST", "/v2.0/floatingips", json={"floatingip": fip})
    address = body["floatingip"].get("floating_ip_address", "")
    return p.redirect("/project/floating_ips", ok=f"Floating IP {address} allocated.")


async def floatingip_action(p: Page) -> Response:
    form = await p.form()
    action, _, fid = field(form, "do").partition(" ")
    if not fid:
        raise ApiError(400, "No floating IP named.")
    path = f"/v2.0/floatingips/{one(fid)}"
    if action == "release":
        await p.call(SERVICE, "DELETE", path)
        done = "Floating IP released."
    elif action == "associate":
        port_id = field(form, f"port-{fid}")
        if not port_id:
            raise ApiError(400, "Choose a port to associate the floating IP with.")
        await p.call(SERVICE, "PUT", path, json={"floatingip": {"port_id": port_id}})
        done = "Floating IP associated."
    elif action == "disassociate":
        await p.call(SERVICE, "PUT", path, json={"floatingip": {"port_id": None}})
        done = "Floating IP disassociated."
    else:
        raise ApiError(400, f"Unknown action {action!r}.")
    return p.redirect("/project/floating_ips", ok=done)


ROUTES = [
    page("/project/floating_ips", list_floatingips),
    page("/project/floating_ips/allocate", allocate, ["POST"]),
    page("/project/floating_ips/action", floatingip_action, ["POST"]),
]
