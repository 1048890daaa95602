"""Routers (networking v2.0): list, create, set or clear the external gateway, add or remove
a subnet interface, delete.

Calls: ``GET /v2.0/routers``, ``POST /v2.0/routers``, ``PUT /v2.0/routers/{id}``
(external_gateway_info), ``PUT /v2.0/routers/{id}/add_router_interface`` and
``.../remove_router_interface`` (subnet_id), ``DELETE /v2.0/routers/{id}``; a router's
interfaces are its ports (``GET /v2.0/ports?device_id=``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.pages.networks import SERVICE, all_networks, all_subnets, one
from ministack.dashboard.web import Page, field, page


def _names(items: list[dict[str, Any]]) -> dict[str, str]:
    return {str(i["id"]): str(i.get("name") or i["id"]) for i in items}


async def list_routers(p: Page) -> Response:
    body, networks, subnets = await asyncio.gather(
        p.get(SERVICE, "/v2.0/routers"), all_networks(p), all_subnets(p)
    )
    net_names = _names(networks)
    rows = [
        {
            "id": r["id"],
            "name": r.get("name") or "",
            "status": r.get("status", ""),
            "gateway": net_names.get(
                str((r.get("external_gateway_info") or {}).get("network_id")), ""
            ),
        }
        for r in sorted(body.get("routers", []), key=lambda r: str(r.get("name", "")))
    ]
    external = [n for n in networks if n.get("router:external")]
    return p.render("routers.html", rows=rows, external=external, subnets=subnets)


async def create_router(p: Page) -> Response:
    form = await p.form()
    router: dict[str, Any] = {"name": field(form, "name")}
    if field(form, "external_network_id"):
        router["external_gateway_info"] = {"network_id": field(form, "external_network_id")}
    await p.call(SERVICE, "POST", "/v2.0/routers", json={"router": router})
    return p.redirect("/project/routers", ok=f"Router {router['name']} created.")


async def router_detail(p: Page) -> Response:
    rid = p.request.path_params["router_id"]
    body, ports, networks, subnets = await asyncio.gather(
        p.get(SERVICE, f"/v2.0/routers/{one(rid)}"),
        p.get(SERVICE, "/v2.0/ports", device_id=rid),
        all_networks(p),
        all_subnets(p),
    )
    sub_names = {s["id"]: f"{s.get('name') or s['id'][:8]} ({s.get('cidr', '')})" for s in subnets}
    interfaces = [
        {
            "subnet_id": ip["subnet_id"],
            "subnet": sub_names.get(ip["subnet_id"], ip["subnet_id"]),
            "ip": ip.get("ip_address", ""),
            "owner": port.get("device_owner", ""),
        }
        for port in ports.get("ports", [])
        for ip in port.get("fixed_ips", [])
    ]
    router = body["router"]
    gateway = (router.get("external_gateway_info") or {}).get("network_id")
    return p.render(
        "router.html",
        router=router,
        gateway=_names(networks).get(str(gateway), "") if gateway else "",
        interfaces=interfaces,
        subnets=subnets,
        external=[n for n in networks if n.get("router:external")],
    )


async def router_action(p: Page) -> Response:
    """gateway / clear_gateway / add_interface / remove_interface / delete on one router."""
    rid = p.request.path_params["router_id"]
    form = await p.form()
    action = field(form, "do")
    path = f"/v2.0/routers/{one(rid)}"
    here = f"/project/routers/{one(rid)}"
    if action == "delete":
        await p.call(SERVICE, "DELETE", path)
        return p.redirect("/project/routers", ok="Router deleted.")
    if action == "gateway":
        info = {"network_id": field(form, "external_network_id")}
        await p.call(SERVICE, "PUT", path, json={"router": {"external_gateway_info": info}})
        return p.redirect(here, ok="External gateway set.")
    if action == "clear_gateway":
        await p.call(SERVICE, "PUT", path, json={"router": {"external_gateway_info": {}}})
        return p.redirect(here, ok="External gateway cleared.")
    if action in ("add_interface", "remove_interface"):
        body = {"subnet_id": field(form, "subnet_id")}
        await p.call(SERVICE, "PUT", f"{path}/{action.replace('_', '_router_')}", json=body)
        done = "Interface added." if action == "add_interface" else "Interface removed."
        return p.redirect(here, ok=done)
    raise ApiError(400, f"Unknown action {action!r}.")


ROUTES = [
    page("/project/routers", list_routers),
    page("/project/routers/create", create_router, ["POST"]),
    page("/project/routers/{router_id}", router_detail),
    page("/project/routers/{router_id}/action", router_action, ["POST"]),
]
