"""/v2.0/floatingips/{floatingip_id}/port_forwardings: list, create, show, update, delete a
floating IP's port forwardings (extension floating-ip-port-forwarding)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common.auth import require_auth
from ministack.common.web import empty_response
from ministack.network import models as m
from ministack.network import port_forwardings, schemas
from ministack.network.api.common import core_of, list_response, member, one, path_id, route


async def list_port_forwardings(request: Request) -> Response:
    auth = await require_auth(request)
    fip_id = path_id(request, "fip_id")
    async with core_of(request).db.session() as s:
        await port_forwardings.floating_ip(s, auth, fip_id, "get_floatingip_port_forwarding")
    query = select(m.PortForwarding).where(m.PortForwarding.floatingip_id == fip_id)
    return await list_response(request, port_forwardings.KIND, query, port_forwardings.render)


async def create_port_forwarding(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "port_forwarding", {})
    body.pop("project_id", None)
    body.pop("tenant_id", None)
    made = await port_forwardings.create(core_of(request), auth, path_id(request, "fip_id"), body)
    return one("port_forwarding", made, request, 201)


async def show_port_forwarding(request: Request) -> Response:
    auth = await require_auth(request)
    found = await port_forwardings.show(
        core_of(request), auth, path_id(request, "fip_id"), path_id(request)
    )
    return one("port_forwarding", found, request)


async def update_port_forwarding(request: Request) -> Response:
    auth = await require_auth(request)
    body = member(request, "port_forwarding", {})
    found = await port_forwardings.update(
        core_of(request), auth, path_id(request, "fip_id"), path_id(request), body
    )
    return one("port_forwarding", found, request)


async def delete_port_forwarding(request: Request) -> Response:
    auth = await require_auth(request)
    await port_forwardings.delete(
        core_of(request), auth, path_id(request, "fip_id"), path_id(request)
    )
    return empty_response()


_ALL = "/v2.0/floatingips/{fip_id}/port_forwardings"
_ONE = _ALL + "/{id}"
ROUTES: list[BaseRoute] = [
    route(_ALL, list_port_forwardings, "GET"),
    route(_ALL, create_port_forwarding, "POST", body=schemas.create_port_forwarding),
    route(_ONE, show_port_forwarding, "GET"),
    route(_ONE, update_port_forwarding, "PUT", body=schemas.update_port_forwarding),
    route(_ONE, delete_port_forwarding, "DELETE"),
]
