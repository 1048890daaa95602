"""/v2/metadefs/namespaces/{ns}/objects, /properties and /tags: one handler set, three kinds."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import params, validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.image.api import metadef_schemas as schemas
from ministack.image.api.common import core_of, route
from ministack.image.metadefs import contents

PATHS = {"object": "objects", "property": "properties", "tag": "tags"}


def _names(request: Request) -> tuple[str, str]:
    return request.path_params["namespace"], request.path_params.get("name", "")


def _handlers(kind: str) -> dict[str, validation.Handler]:
    async def list_items(request: Request) -> Response:
        auth = await require_auth(request)
        ns, _ = _names(request)
        return json_response(await contents.list_items(core_of(request).db, auth, ns, kind))

    async def create_item(request: Request) -> Response:
        auth = await require_auth(request)
        ns, _ = _names(request)
        body = validation.body(request)
        made = await contents.create_item(core_of(request).db, auth, ns, kind, body)
        return json_response(made, status=201)

    async def show_item(request: Request) -> Response:
        auth = await require_auth(request)
        ns, name = _names(request)
        rtype = validation.query(request).get("resource_type")
        db = core_of(request).db
        return json_response(await contents.show_item(db, auth, ns, kind, name, rtype))

    async def update_item(request: Request) -> Response:
        auth = await require_auth(request)
        ns, name = _names(request)
        body = validation.body(request)
        db = core_of(request).db
        return json_response(await contents.update_item(db, auth, ns, kind, name, body))

    async def delete_item(request: Request) -> Response:
        auth = await require_auth(request)
        ns, name = _names(request)
        await contents.delete_item(core_of(request).db, auth, ns, kind, name)
        return empty_response()

    found: dict[str, validation.Handler] = {
        "list": list_items,
        "create": create_item,
        "show": show_item,
        "update": update_item,
        "delete": delete_item,
    }
    for verb, handler in found.items():
        handler.__name__ = f"{verb}_metadef_{kind}"
    return found


async def create_tag(request: Request) -> Response:
    """POST /tags/{name}: one tag (201), 409 when it exists."""
    auth = await require_auth(request)
    ns, name = _names(request)
    made = await contents.create_item(core_of(request).db, auth, ns, "tag", {"name": name})
    return json_response(made, status=201)


async def create_tags(request: Request) -> Response:
    auth = await require_auth(request)
    ns, _ = _names(request)
    names = [t["name"] for t in validation.body(request)["tags"]]
    append = params.to_bool(request.headers.get("x-openstack-append", "false"))
    made = await contents.create_tags(core_of(request).db, auth, ns, names, append)
    return json_response(made, status=201)


BODIES = {"object": schemas.metadef_object, "property": schemas.metadef_property}


def _routes() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for kind, path in PATHS.items():
        base = f"/v2/metadefs/namespaces/{{namespace}}/{path}"
        one = base + "/{name}"
        h = _handlers(kind)
        body = BODIES.get(kind, schemas.metadef_tag)
        found += [
            route(base, h["list"], "GET"),
            route(one, h["show"], "GET", query=schemas.show_with_prefix),
            route(one, h["update"], "PUT", body=body),
            route(one, h["delete"], "DELETE"),
        ]
        if kind == "tag":
            found += [
                route(base, create_tags, "POST", body=schemas.metadef_tags),
                route(one, create_tag, "POST"),
            ]
        else:
            found.append(route(base, h["create"], "POST", body=body))
    return found


ROUTES = _routes()
