"""Helpers every network handler shares: the route declarer, the service's core on the app,
request bodies unwrapped from their envelope, and the list machinery bound to a request.

Where it sits: between Starlette and the resource modules (`networks.py`, `ports.py`...):
handlers validate (declared schemas), authorize and call the logic, then render.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import validation
from ministack.common.auth import Auth, require_auth
from ministack.common.params import Schema
from ministack.common.validation import Router
from ministack.common.web import json_response
from ministack.network import listing
from ministack.network.core import Core
from ministack.network.listing import project_fields
from ministack.network.schemas import coerce

# Declares the network API's routes with their request schemas (network.schemas)
route = Router(authenticate=require_auth)

Renderer = Callable[[AsyncSession, list[Any], Auth], Awaitable[list[dict[str, Any]]]]


def core_of(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


def path_id(request: Request, name: str = "id") -> str:
    value: str = request.path_params[name]
    return value


def member(request: Request, key: str, fields: dict[str, Schema]) -> dict[str, Any]:
    """The checked body's `key` object, with Neutron's string booleans made bools."""
    inner: dict[str, Any] = validation.body(request)[key]
    return coerce(inner, fields)


def if_match(request: Request) -> str | None:
    return request.headers.get("if-match")


def one(key: str, item: dict[str, Any], request: Request, status: int = 200) -> Response:
    fields = request.query_params.getlist("fields")
    return json_response({key: project_fields(item, fields)}, status=status)


def collection_url(request: Request) -> str:
    return str(request.url.replace(query="")).rstrip("/")


async def list_response(
    request: Request,
    kind: listing.Kind,
    query: Select[Any],
    render: Renderer,
) -> Response:
    """Filters, sorting, paging and `fields=` of one collection as Neutron answers them."""
    auth = await require_auth(request)
    core = core_of(request)
    async with core.db.session() as s:
        page = await listing.page(s, kind, query, request.query_params, collection_url(request))
        items = await render(s, page.rows, auth)
    body = listing.render_list(kind.collection, items, request.query_params, page.links)
    return json_response(body)
