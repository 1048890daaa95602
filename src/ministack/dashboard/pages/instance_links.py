"""What an instance is linked to, on its detail page: volumes, interfaces and floating IPs,
each with its attach/detach (or associate/disassociate) form.

The section is loaded by htmx after the page (``GET /project/instances/{id}/links``), so the
detail page does not wait for three more services. Calls, all as the user:
``GET/POST/DELETE /servers/{id}/os-volume_attachments[/{volume}]`` (compute),
``GET/POST/DELETE /servers/{id}/os-interface[/{port}]`` (compute),
``GET /v2.0/floatingips`` and ``PUT /v2.0/floatingips/{id}`` with a port or null (network),
``GET /volumes/detail?status=available`` (block storage).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page

VOLUMES = "volumev3"


def _one(value: str) -> str:
    return quote(value, safe="")


async def _maybe(p: Page, service: str, path: str, key: str, **params: Any) -> list[Any]:
    if not p.login.has(service):
        return []
    body = await p.get(service, path, **params)
    return list(body.get(key, []) if isinstance(body, dict) else [])


async def _compute_list(p: Page, needs: str, path: str, key: str) -> list[Any]:
    """A compute API list that only means something when the service `needs` exists."""
    if not p.login.has(needs):
        return []
    body = await p.get("compute", path)
    return list(body.get(key, []) if isinstance(body, dict) else [])


async def links(p: Page) -> Response:
    sid = _one(p.request.path_params["server_id"])
    attached, interfaces, volumes, fips, networks = await asyncio.gather(
        _compute_list(p, VOLUMES, f"/servers/{sid}/os-volume_attachments", "volumeAttachments"),
        _compute_list(p, "network", f"/servers/{sid}/os-interface", "interfaceAttachments"),
        _maybe(p, VOLUMES, "/volumes/detail", "volumes", status="available"),
        _maybe(p, "network", "/v2.0/floatingips", "floatingips"),
        _maybe(p, "network", "/v2.0/networks", "networks"),
    )
    ports = {i.get("port_id") for i in interfaces}
    return p.render(
        "instance_links.html",
        server_id=p.request.path_params["server_id"],
        attached=attached,
        volumes=volumes,
        interfaces=interfaces,
        networks=[n for n in networks if not n.get("router:external")],
        associated=[f for f in fips if f.get("port_id") in ports],
        free_fips=[f for f in fips if not f.get("port_id")],
        has_volumes=p.login.has(VOLUMES),
        has_network=p.login.has("network"),
    )


async def change(p: Page) -> Response:
    """One attach/detach/associate/disassociate, named by the form's `do` field."""
    raw_sid = p.request.path_params["server_id"]
    sid = _one(raw_sid)
    form = await p.form()
    do = field(form, "do")
    if do == "attach_volume":
        body = {"volumeAttachment": {"volumeId": field(form, "volume_id")}}
        await p.call("compute", "POST", f"/servers/{sid}/os-volume_attachments", json=body)
        done = "Attaching the volume."
    elif do == "detach_volume":
        vid = _one(field(form, "volume_id"))
        await p.call("compute", "DELETE", f"/servers/{sid}/os-volume_attachments/{vid}")
        done = "Detaching the volume."
    elif do == "attach_interface":
        body = {"interfaceAttachment": {"net_id": field(form, "net_id")}}
        await p.call("compute", "POST", f"/servers/{sid}/os-interface", json=body)
        done = "Interface attached."
    elif do == "detach_interface":
        port = _one(field(form, "port_id"))
        await p.call("compute", "DELETE", f"/servers/{sid}/os-interface/{port}")
        done = "Detaching the interface."
    elif do in ("associate", "disassociate"):
        fip = _one(field(form, "floatingip_id"))
        target = field(form, "port_id") if do == "associate" else None
        if do == "associate" and not target:
            raise ApiError(400, "Choose the interface the floating IP goes to.")
        change = {"floatingip": {"port_id": target}}
        await p.call("network", "PUT", f"/v2.0/floatingips/{fip}", json=change)
        done = "Floating IP associated." if target else "Floating IP disassociated."
    else:
        raise ApiError(400, f"Unknown change {do!r}.")
    return p.redirect(f"/project/instances/{_one(raw_sid)}", ok=done)


ROUTES = [
    page("/project/instances/{server_id}/links", links),
    page("/project/instances/{server_id}/links", change, ["POST"]),
]
