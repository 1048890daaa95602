"""The external events API other services call (network-vif-plugged, volume-extended, ...)
and the admin-only fake-driver test hook.

Test hook (only when `compute.test_hooks` is true, admin only)::

    POST /v2.1/os-ministack-fake-hosts/{host}
    {"delay": {"spawn": 2.0}, "fail": {"spawn": "disk full"}, "fail_once": {"spawn": ""}}

sets the fake driver of that host; an empty body clears delays and failures.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.web import json_response, read_json
from ministack.compute import instances
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, route
from ministack.compute.rpcapi.agent import FakeSettings


async def create_events(request: Request) -> Response:
    await caller(request, "os_compute_api:os-server-external-events:create")
    events = validation.body(request)["events"]  # checked by schemas.create_events
    api = api_of(request)
    out: list[dict[str, Any]] = []
    for event in events:
        item = dict(event)
        item.setdefault("status", "completed")
        inst = await instances.get(api.db, str(event.get("server_uuid")))
        if inst is None or inst.host is None:
            item["code"] = 404 if inst is None else 422
        else:
            item["code"] = 200
            agent = api.agent(inst.host)
            await agent.external_event(inst.uuid, item["name"], item.get("tag"), item["status"])
        out.append(item)
    codes = {e["code"] for e in out}
    status = 200 if codes == {200} else (404 if codes == {404} else 207)
    return json_response({"events": out}, status=status)


async def set_fake_host(request: Request) -> Response:
    api = api_of(request)
    if not api.settings.compute.test_hooks:
        raise errors.NotFound("The resource could not be found.")
    await caller(request, "ministack:fake-hosts:update")
    raw = await request.body()
    data = await read_json(request) if raw else {}
    host = request.path_params["host"]
    try:
        fake = FakeSettings(data.get("delay"), data.get("fail"), data.get("fail_once"))
        result = await api.agent(host).set_fake(fake)
    except Exception as exc:
        raise errors.NotFound(f"Fake compute host {host} is not reachable: {exc}") from None
    return json_response(result)


ROUTES = [
    route("/v2.1/os-server-external-events", create_events, "POST", body=schemas.create_events),
    Route("/v2.1/os-ministack-fake-hosts/{host}", set_fake_host, methods=["POST"]),
]
