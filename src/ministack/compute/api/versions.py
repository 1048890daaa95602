"""Version discovery: GET / lists v2.0 (the legacy API, SUPPORTED) then v2.1 (CURRENT, with
the microversion range this API supports), as Nova does; GET /v2.1 and GET /v2 describe one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common.web import json_response
from ministack.compute.api.common import base_url
from ministack.compute.api.microversion import MAX_VERSION, MIN_VERSION, fmt

UPDATED = "2013-07-23T11:33:21Z"
UPDATED_V20 = "2011-01-21T11:33:21Z"


def _v20(request: Request) -> dict[str, Any]:
    return {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": UPDATED_V20,
        "links": [{"rel": "self", "href": f"{base_url(request)}/v2/"}],
    }


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
    return json_response({"versions": [_v20(request), _v21(request)]}, status=200)


def _described(body: dict[str, Any], media_version: str) -> dict[str, Any]:
    body["links"].append(
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}
    )
    body["media-types"] = [
        {
            "base": "application/json",
            "type": f"application/vnd.openstack.compute+json;version={media_version}",
        }
    ]
    return {"version": body}


async def show_version(request: Request) -> Response:
    return json_response(_described(_v21(request), "2.1"))


async def show_version_v20(request: Request) -> Response:
    return json_response(_described(_v20(request), "2"))


ROUTES = [
    Route("/", list_versions, methods=["GET"]),
    Route("/v2.1", show_version, methods=["GET"]),
    Route("/v2.1/", show_version, methods=["GET"]),
    Route("/v2", show_version_v20, methods=["GET"]),
    Route("/v2/", show_version_v20, methods=["GET"]),
]
