"""/v2/metadefs/namespaces and /v2/metadefs/resource_types: namespaces, their bulk content
deletes, resource types and associations (handlers: validate -> call -> render)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.image.api import metadef_schemas as schemas
from ministack.image.api.common import core_of, route
from ministack.image.metadefs import contents, namespaces


def _ns(request: Request) -> str:
    name: str = request.path_params["namespace"]
    return name


async def list_namespaces(request: Request) -> Response:
    auth = await require_auth(request)
    db = core_of(request).db
    return json_response(await namespaces.list_namespaces(db, auth, validation.query(request)))


async def create_namespace(request: Request) -> Response:
    auth = await require_auth(request)
    body = validation.body(request)
    created = await namespaces.create_namespace(core_of(request).db, auth, body)
    return json_response(created, status=201)


async def show_namespace(request: Request) -> Response:
    auth = await require_auth(request)
    rtype = validation.query(request).get("resource_type")
    return json_response(
        await namespaces.show_namespace(core_of(request).db, auth, _ns(request), rtype)
    )


async def update_namespace(request: Request) -> Response:
    auth = await require_auth(request)
    body = validation.body(request)
    db = core_of(request).db
    return json_response(await namespaces.update_namespace(db, auth, _ns(request), body))


async def delete_namespace(request: Request) -> Response:
    auth = await require_auth(request)
    await namespaces.delete_namespace(core_of(request).db, auth, _ns(request))
    return empty_response()


def _delete_all(kind: str) -> validation.Handler:
    async def delete_all(request: Request) -> Response:
        auth = await require_auth(request)
        await contents.delete_all(core_of(request).db, auth, _ns(request), kind)
        return empty_response()

    delete_all.__name__ = f"delete_{kind}s"
    return delete_all


async def list_resource_types(request: Request) -> Response:
    auth = await require_auth(request)
    return json_response(await namespaces.list_resource_types(core_of(request).db, auth))


async def list_associations(request: Request) -> Response:
    auth = await require_auth(request)
    return json_response(
        await namespaces.list_associations(core_of(request).db, auth, _ns(request))
    )


async def create_association(request: Request) -> Response:
    auth = await require_auth(request)
    body = validation.body(request)
    made = await namespaces.create_association(core_of(request).db, auth, _ns(request), body)
    return json_response(made, status=201)


async def delete_association(request: Request) -> Response:
    auth = await require_auth(request)
    rtype = request.path_params["resource_type"]
    await namespaces.delete_association(core_of(request).db, auth, _ns(request), rtype)
    return empty_response()


_ALL = "/v2/metadefs/namespaces"
_ONE = _ALL + "/{namespace}"
ROUTES: list[BaseRoute] = [
    route(_ALL, list_namespaces, "GET", query=schemas.list_namespaces),
    route(_ALL, create_namespace, "POST", body=schemas.create_namespace),
    route(_ONE, show_namespace, "GET", query=schemas.show_with_prefix),
    route(_ONE, update_namespace, "PUT", body=schemas.update_namespace),
    route(_ONE, delete_namespace, "DELETE"),
    route(_ONE + "/objects", _delete_all("object"), "DELETE"),
    route(_ONE + "/properties", _delete_all("property"), "DELETE"),
    route(_ONE + "/tags", _delete_all("tag"), "DELETE"),
    route("/v2/metadefs/resource_types", list_resource_types, "GET"),
    route(_ONE + "/resource_types", list_associations, "GET"),
    route(_ONE + "/resource_types", create_association, "POST", body=schemas.association),
    route(_ONE + "/resource_types/{resource_type}", delete_association, "DELETE"),
]
