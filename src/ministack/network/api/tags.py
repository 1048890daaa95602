"""Standard-attr tags: /v2.0/{resources}/{id}/tags[/{tag}] for networks, subnets, subnet
pools, ports, routers, floating IPs and security groups (Neutron's tag extension). A tag change
bumps the resource's revision_number."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import Auth, require_auth
from ministack.common.web import empty_response, json_response
from ministack.network import models as m
from ministack.network import policies, ports, schemas, secgroups, subnetpools, subnets
from ministack.network.api.common import core_of, path_id, route
from ministack.network.core import network_visible, not_found, own, set_tags, tags_of, touch

MAX_TAGS = 50


@dataclass(frozen=True)
class Tagged:
    model: Any
    kind: str
    rule: str
    visible: Callable[[Auth], Any]


TAGGED: dict[str, Tagged] = {
    "networks": Tagged(m.Network, "Network", "update_network", network_visible),
    "subnets": Tagged(m.Subnet, "Subnet", "update_subnet", subnets.visible_clause),
    "subnetpools": Tagged(
        m.SubnetPool, "SubnetPool", "update_subnetpool", subnetpools.visible_clause
    ),
    "ports": Tagged(m.Port, "Port", "update_port", ports.visible_clause),
    "routers": Tagged(m.Router, "Router", "update_router", lambda a: own(m.Router, a)),
    "floatingips": Tagged(
        m.FloatingIP, "FloatingIP", "update_floatingip", lambda a: own(m.FloatingIP, a)
    ),
    "security-groups": Tagged(
        m.SecurityGroup, "SecurityGroup", "update_security_group", secgroups.group_visible
    ),
}


def _tag(request: Request) -> str:
    tag: str = request.path_params["tag"]
    if not tag or len(tag) > 255 or "," in tag:
        raise errors.BadRequest(f"Invalid input for tag. Reason: '{tag}' is not a valid tag.")
    return tag


async def _resource(s: AsyncSession, request: Request, auth: Auth, write: bool) -> Any:
    tagged = TAGGED[_kind(request)]
    item_id = path_id(request)
    query = select(tagged.model).where(tagged.model.id == item_id, tagged.visible(auth))
    row = (await s.execute(query)).scalar_one_or_none()
    if row is None:
        raise not_found(tagged.kind, item_id)
    if write:
        policies.authorize(auth, tagged.rule, row.project_id)
    return row


def _kind(request: Request) -> str:
    return str(request.url.path).split("/")[2]


async def list_tags(request: Request) -> Response:
    auth = await require_auth(request)
    async with core_of(request).db.session() as s:
        row = await _resource(s, request, auth, False)
        tags = (await tags_of(s, [row.id])).get(row.id, [])
    return json_response({"tags": sorted(tags)})


async def check_tag(request: Request) -> Response:
    auth = await require_auth(request)
    tag = _tag(request)
    async with core_of(request).db.session() as s:
        row = await _resource(s, request, auth, False)
        tags = (await tags_of(s, [row.id])).get(row.id, [])
    if tag not in tags:
        raise errors.NotFound(f"Tag {tag} could not be found.", kind="TagNotFound")
    return empty_response()


async def replace_tags(request: Request) -> Response:
    auth = await require_auth(request)
    tags: list[str] = validation.body(request)["tags"]
    if any("," in t for t in tags):
        raise errors.BadRequest("Invalid input for tags. Reason: a tag may not contain ','.")
    async with core_of(request).db.writer() as s:
        row = await _resource(s, request, auth, True)
        await set_tags(s, row.id, tags)
        touch(row)
    return json_response({"tags": sorted(set(tags))})


async def add_tag(request: Request) -> Response:
    auth = await require_auth(request)
    tag = _tag(request)
    async with core_of(request).db.writer() as s:
        row = await _resource(s, request, auth, True)
        tags = (await tags_of(s, [row.id])).get(row.id, [])
        if tag not in tags:
            if len(tags) >= MAX_TAGS:
                raise errors.BadRequest(f"A resource may have at most {MAX_TAGS} tags.")
            s.add(m.Tag(resource_id=row.id, tag=tag))
            touch(row)
    return empty_response(201)


async def delete_tag(request: Request) -> Response:
    auth = await require_auth(request)
    tag = _tag(request)
    async with core_of(request).db.writer() as s:
        row = await _resource(s, request, auth, True)
        found = await s.get(m.Tag, (row.id, tag))
        if found is None:
            raise errors.NotFound(f"Tag {tag} could not be found.", kind="TagNotFound")
        await s.delete(found)
        touch(row)
    return empty_response()


async def delete_tags(request: Request) -> Response:
    auth = await require_auth(request)
    async with core_of(request).db.writer() as s:
        row = await _resource(s, request, auth, True)
        await set_tags(s, row.id, [])
        touch(row)
    return empty_response()


ROUTES: list[BaseRoute] = []
for _collection in TAGGED:
    _base = f"/v2.0/{_collection}/{{id}}/tags"
    ROUTES += [
        route(_base, list_tags, "GET"),
        route(_base, replace_tags, "PUT", body=schemas.replace_tags),
        route(_base, delete_tags, "DELETE"),
        route(_base + "/{tag}", check_tag, "GET"),
        route(_base + "/{tag}", add_tag, "PUT"),
        route(_base + "/{tag}", delete_tag, "DELETE"),
    ]
