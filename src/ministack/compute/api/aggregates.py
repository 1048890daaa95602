"""Host aggregates (/os-aggregates): groups of hosts with metadata; the metadata key
`availability_zone` makes the aggregate an availability zone."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.db import utcnow
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute import servicegroup
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, iso_micro, route, version


def render(request: Request, a: m.Aggregate) -> dict[str, Any]:
    """An aggregate; its uuid from 2.41."""
    body: dict[str, Any] = {
        "id": a.id,
        "name": a.name,
        "availability_zone": (a.metadata_ or {}).get("availability_zone"),
        "hosts": list(a.hosts),
        "metadata": dict(a.metadata_ or {}),
        "created_at": iso_micro(a.created_at),
        "updated_at": iso_micro(a.updated_at),
        "deleted": False,
        "deleted_at": None,
    }
    if version(request) >= (2, 41):
        body["uuid"] = a.uuid
    return body


async def list_aggregates(request: Request) -> Response:
    await caller(request, "os_compute_api:os-aggregates:index")
    async with api_of(request).db.session() as s:
        rows = (await s.execute(select(m.Aggregate).order_by(m.Aggregate.id))).scalars().all()
    return json_response({"aggregates": [render(request, a) for a in rows]})


async def create_aggregate(request: Request) -> Response:
    await caller(request, "os_compute_api:os-aggregates:create")
    body = validation.body(request)["aggregate"]  # checked by schemas.create_aggregate
    name = body["name"]
    zone = body.get("availability_zone")
    metadata = {"availability_zone": zone} if zone else {}
    agg = m.Aggregate(uuid=str(uuid.uuid4()), name=name, hosts=[], metadata_=metadata)
    async with api_of(request).db.writer() as s:
        if (await s.execute(select(m.Aggregate).where(m.Aggregate.name == name))).first():
            raise errors.Conflict(f"Aggregate {name} already exists.")
        s.add(agg)
    body = render(request, agg)
    del body["hosts"], body["metadata"]  # Nova's create answer leaves both out
    return json_response({"aggregate": body})


async def _load(s: Any, request: Request) -> m.Aggregate:
    ident = request.path_params["aggregate_id"]
    agg = await s.get(m.Aggregate, int(ident)) if ident.isdigit() else None
    if agg is None:
        raise errors.NotFound(f"Aggregate {ident} could not be found.")
    return agg  # type: ignore[no-any-return]


async def show_aggregate(request: Request) -> Response:
    await caller(request, "os_compute_api:os-aggregates:show")
    async with api_of(request).db.session() as s:
        return json_response({"aggregate": render(request, await _load(s, request))})


async def update_aggregate(request: Request) -> Response:
    await caller(request, "os_compute_api:os-aggregates:update")
    body = validation.body(request)["aggregate"]  # checked by schemas.update_aggregate
    api = api_of(request)
    async with api.db.writer() as s:
        agg = await _load(s, request)
        if "name" in body:
            agg.name = body["name"]
        if "availability_zone" in body:
            meta = dict(agg.metadata_)
            meta["availability_zone"] = body["availability_zone"]
            agg.metadata_ = {k: v for k, v in meta.items() if v is not None}
        agg.updated_at = utcnow()
    await api.scheduler.refresh()
    return json_response({"aggregate": render(request, agg)})


async def delete_aggregate(request: Request) -> Response:
    await caller(request, "os_compute_api:os-aggregates:delete")
    api = api_of(request)
    async with api.db.writer() as s:
        agg = await _load(s, request)
        if agg.hosts:
            raise errors.BadRequest(f"Aggregate {agg.id} still has hosts; remove them first.")
        await s.delete(agg)
    await api.scheduler.refresh()
    return empty_response(200)


async def aggregate_action(request: Request) -> Response:
    await caller(request, "os_compute_api:os-aggregates:action")
    data = validation.body(request)  # one action, checked by schemas.aggregate_action
    api = api_of(request)
    known = await servicegroup.compute_services(api.db)
    async with api.db.writer() as s:
        agg = await _load(s, request)
        if "add_host" in data:
            host = data["add_host"]["host"]
            if host not in known:
                raise errors.NotFound(f"Compute host {host} could not be found.")
            if host in agg.hosts:
                raise errors.Conflict(f"Aggregate {agg.id} already has host {host}.")
            agg.hosts = [*agg.hosts, host]
        elif "remove_host" in data:
            host = data["remove_host"]["host"]
            if host not in agg.hosts:
                raise errors.NotFound(f"Aggregate {agg.id} has no host {host}.")
            agg.hosts = [h for h in agg.hosts if h != host]
        elif "set_metadata" in data:
            meta = data["set_metadata"]["metadata"]
            merged = {**agg.metadata_, **meta}
            agg.metadata_ = {k: str(v) for k, v in merged.items() if v is not None}
        agg.updated_at = utcnow()
    await api.scheduler.refresh()
    return json_response({"aggregate": render(request, agg)})


ROUTES = [
    Route("/v2.1/os-aggregates", list_aggregates, methods=["GET"]),
    route("/v2.1/os-aggregates", create_aggregate, "POST", body=schemas.create_aggregate),
    Route("/v2.1/os-aggregates/{aggregate_id}", show_aggregate, methods=["GET"]),
    route(
        "/v2.1/os-aggregates/{aggregate_id}", update_aggregate, "PUT", body=schemas.update_aggregate
    ),
    Route("/v2.1/os-aggregates/{aggregate_id}", delete_aggregate, methods=["DELETE"]),
    route(
        "/v2.1/os-aggregates/{aggregate_id}/action",
        aggregate_action,
        "POST",
        body=schemas.aggregate_action,
    ),
]
