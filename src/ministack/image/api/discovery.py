"""Version discovery (/, /versions), schemas (/v2/schemas/*) and /v2/info/*."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.auth import require_auth
from ministack.common.web import json_response
from ministack.image import schemas
from ministack.image.api.common import core_of, route
from ministack.image.metadefs import published

CURRENT = 16  # v2.16 (2023.2 and later): every feature ministack implements


def _versions(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    link = [{"rel": "self", "href": f"{base}/v2/"}]
    versions = [{"id": f"v2.{CURRENT}", "status": "CURRENT", "links": link}]
    versions += [
        {"id": f"v2.{minor}", "status": "SUPPORTED", "links": link}
        for minor in range(CURRENT - 1, -1, -1)
    ]
    return {"versions": versions}


async def root(request: Request) -> Response:
    return json_response(_versions(request), status=300)


async def versions(request: Request) -> Response:
    return json_response(_versions(request))


async def schema(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in schemas.ALL:
        raise errors.NotFound(f"No schema named {name!r}.")
    return json_response(schemas.ALL[name])


async def import_info(request: Request) -> Response:
    return json_response(
        {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": core_of(request).stores.import_methods,
            }
        }
    )


async def stores_info(request: Request) -> Response:
    """The enabled stores, as multi-store Glance lists them ("default" is the string)."""
    return json_response({"stores": core_of(request).stores.describe()})


async def metadef_schema(request: Request) -> Response:
    await require_auth(request)
    name = request.path_params["name"]
    if name not in published.ALL:
        raise errors.NotFound(f"No schema named metadefs/{name!r}.")
    return json_response(published.ALL[name])


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/versions", versions, methods=["GET"]),
    Route("/v2/schemas/{name}", schema, methods=["GET"]),
    route("/v2/schemas/metadefs/{name}", metadef_schema, "GET"),
    Route("/v2/info/import", import_info, methods=["GET"]),
    Route("/v2/info/stores", stores_info, methods=["GET"]),
]
