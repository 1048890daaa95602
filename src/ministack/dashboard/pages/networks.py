"""Networks and subnets (networking v2.0): list, create a network with its first subnet,
a network's page (its subnets and ports), delete a subnet or a network.

Calls go to the ``network`` endpoint of the user's catalog: ``GET /v2.0/networks``,
``GET /v2.0/subnets``, ``GET /v2.0/ports?network_id=``, ``POST /v2.0/networks``,
``POST /v2.0/subnets``, ``DELETE /v2.0/networks/{id}``, ``DELETE /v2.0/subnets/{id}``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page

SERVICE = "network"


def one(value: str) -> str:
    """A resource id as one URL path segment."""
    return quote(value, safe="")


async def all_networks(p: Page) -> list[dict[str, Any]]:
    body = await p.get(SERVICE, "/v2.0/networks")
    return sorted(body.get("networks", []), key=lambda n: str(n.get("name", "")))


async def all_subnets(p: Page, **filters: str) -> list[dict[str, Any]]:
    body = await p.get(SERVICE, "/v2.0/subnets", **filters)
    return sorted(body.get("subnets", []), key=lambda s: str(s.get("name", "")))


async def list_networks(p: Page) -> Response:
    networks, subnets = await asyncio.gather(all_networks(p), all_subnets(p))
    by_net: dict[str, list[dict[str, Any]]] = {}
    for s in subnets:
        by_net.setdefault(str(s.get("network_id")), []).append(s)
    rows = [
        {
            "id": n["id"],
            "name": n.get("name") or "",
            "status": n.get("status", ""),
            "external": bool(n.get("router:external")),
            "shared": bool(n.get("shared")),
            "mine": n.get("project_id") == p.login.project_id,
            "subnets": [
                f"{s.get('name') or s['id'][:8]} {s.get('cidr', '')}"
                for s in by_net.get(n["id"], [])
            ],
        }
        for n in networks
    ]
    return p.render("networks.html", rows=rows)


async def create_network(p: Page) -> Response:
    """A network and, when a CIDR is given, its first subnet (the network goes if that fails)."""
    form = await p.form()
    name, cidr = field(form, "name"), field(form, "cidr")
    body = await p.call(SERVICE, "POST", "/v2.0/networks", json={"network": {"name": name}})
    net_id = body["network"]["id"]
    if cidr:
        subnet = {
            "network_id": net_id,
            "name": field(form, "subnet_name") or f"{name}-subnet",
            "cidr": cidr,
            "ip_version": 6 if ":" in cidr else 4,
        }
        if field(form, "gateway_ip"):
            subnet["gateway_ip"] = field(form, "gateway_ip")
        try:
            await p.call(SERVICE, "POST", "/v2.0/subnets", json={"subnet": subnet})
        except ApiError as exc:
            await p.call(SERVICE, "DELETE", f"/v2.0/networks/{one(net_id)}")
            raise ApiError(exc.status, f"The subnet was refused: {exc.message}") from None
    return p.redirect("/project/networks", ok=f"Network {name} created.")


async def network_detail(p: Page) -> Response:
    net_id = p.request.path_params["network_id"]
    body, subnets, ports = await asyncio.gather(
        p.get(SERVICE, f"/v2.0/networks/{one(net_id)}"),
        all_subnets(p, network_id=net_id),
        p.get(SERVICE, "/v2.0/ports", network_id=net_id),
    )
    return p.render(
        "network.html", net=body["network"], subnets=subnets, ports=ports.get("ports", [])
    )


async def add_subnet(p: Page) -> Response:
    net_id = p.request.path_params["network_id"]
    form = await p.form()
    cidr = field(form, "cidr")
    subnet = {
        "network_id": net_id,
        "name": field(form, "name"),
        "cidr": cidr,
        "ip_version": 6 if ":" in cidr else 4,
    }
    await p.call(SERVICE, "POST", "/v2.0/subnets", json={"subnet": subnet})
    return p.redirect(f"/project/networks/{one(net_id)}", ok=f"Subnet {cidr} created.")


async def delete_subnet(p: Page) -> Response:
    net_id = p.request.path_params["network_id"]
    form = await p.form()
    await p.call(SERVICE, "DELETE", f"/v2.0/subnets/{one(field(form, 'subnet_id'))}")
    return p.redirect(f"/project/networks/{one(net_id)}", ok="Subnet deleted.")


async def delete_network(p: Page) -> Response:
    net_id = p.request.path_params["network_id"]
    await p.call(SERVICE, "DELETE", f"/v2.0/networks/{one(net_id)}")
    return p.redirect("/project/networks", ok="Network deleted.")


ROUTES = [
    page("/project/networks", list_networks),
    page("/project/networks/create", create_network, ["POST"]),
    page("/project/networks/{network_id}", network_detail),
    page("/project/networks/{network_id}/subnets", add_subnet, ["POST"]),
    page("/project/networks/{network_id}/subnets/delete", delete_subnet, ["POST"]),
    page("/project/networks/{network_id}/delete", delete_network, ["POST"]),
]
