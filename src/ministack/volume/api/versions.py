"""Version discovery: GET / (300, every version) and GET /v3/ (200), as Cinder answers, with
the microversion range (3.0 to 3.71)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common.web import json_response
from ministack.volume.api.common import base_url
from ministack.volume.api.microversion import MAX_VERSION, MIN_VERSION, fmt


def _v3(request: Request) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": fmt(MAX_VERSION),
        "min_version": fmt(MIN_VERSION),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{base_url(request)}/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


async def root(request: Request) -> Response:
    return json_response({"versions": [_v3(request)]}, 300)


async def v3(request: Request) -> Response:
    return json_response({"versions": [_v3(request)]})


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/v3", v3, methods=["GET"]),
    Route("/v3/", v3, methods=["GET"]),
]
