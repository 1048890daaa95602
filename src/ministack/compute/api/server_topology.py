"""GET /servers/{id}/topology (microversion 2.78): the server's NUMA topology, as Nova shows
it. ministack's drivers give guests no NUMA topology (no hw:numa_* placement), so every
server answers as a Nova server without one: no nodes and no page size."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors
from ministack.common.web import json_response
from ministack.compute.api.common import caller, route, version
from ministack.compute.api.servers import load

SINCE = (2, 78)


async def show_topology(request: Request) -> Response:
    auth = await caller(request, "compute:server:topology:index")
    if version(request) < SINCE:
        raise errors.NotFound("The resource could not be found.")
    await load(request, auth)
    return json_response({"nodes": [], "pagesize_kb": None})


ROUTES: list[BaseRoute] = [route("/v2.1/servers/{server_id}/topology", show_topology, "GET")]
