"""Version discovery: GET / and GET /v2.1 with the microversion range this API supports."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common.web import json_response
from ministack.compute.api.common import base_url
from ministack.compute.api.microversion import MAX_VERSION, MIN_VERSION, fmt

UPDATED = "2013-07-23T11:33:21Z"


def _v21(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": fmt(MAX_VERSION),
        "min_version": fmt(MIN_VERSION),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/v2.1/"}],
    }


async def list_versions(request: Request) -> Response:
    return json_response({"versions": [_v21(request)]}, status=200)


async def show_version(request: Request) -> Response:
    body = _v21(request)
    body["links"].append(
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
    )
    body["media-types"] = [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ]
    return json_response({"version": body})


ROUTES = [
    Route("/", list_versions, methods=["GET"]),
    Route("/v2.1", show_version, methods=["GET"]),
    Route("/v2.1/", show_version, methods=["GET"]),
]
