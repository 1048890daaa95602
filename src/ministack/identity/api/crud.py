"""Collections declared as data: one `Collection` gives list, create, show, update and delete.

Keystone's simple resources (domains, projects, groups, roles, regions, services, endpoints) are
the same five handlers over different tables; each declares its fields with their limits, its
filters, its policy rules and its hooks, and this module does the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.auth import Auth, require_auth
from ministack.common.db import new_id
from ministack.common.pagination import bool_param, paginate, parse_page
from ministack.common.web import empty_response, json_response, read_json
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.core import IdentityCore

Row = Any
Hook = Callable[[AsyncSession, Row, Auth], Awaitable[None]]


@dataclass(frozen=True)
class Field:
    """One writable attribute: its JSON type, limit and whether create requires it."""

    name: str
    kind: type = str
    max_len: int | None = None
    required: bool = False
    default: Any = None
    updatable: bool = True
    nullable: bool = False


@dataclass(frozen=True)
class Collection:
    plural: str
    singular: str
    model: type[Any]
    fields: tuple[Field, ...]
    render: Callable[[Row, str], dict[str, Any]]
    filters: tuple[str, ...] = ("name",)
    target: Callable[[Row], dict[str, str | None]] = lambda _row: {}
    before_create: Hook | None = None
    before_update: Hook | None = None
    before_delete: Hook | None = None
    id_from_body: bool = False


def assigned_targets(user_id: str, target_type: str) -> Any:
    """Subquery: ids of the projects (or domains) where the user or their group has a role."""
    groups = select(m.GroupMember.group_id).where(m.GroupMember.user_id == user_id)
    return select(m.Assignment.target_id).where(
        m.Assignment.target_type == target_type,
        ((m.Assignment.actor_type == "user") & (m.Assignment.actor_id == user_id))
        | ((m.Assignment.actor_type == "group") & m.Assignment.actor_id.in_(groups)),
    )


def core_of(request: Request) -> IdentityCore:
    core: IdentityCore = request.app.state.core
    return core


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def check_value(f: Field, value: Any, where: str) -> Any:
    """Validate one field value; 400 naming the field when it is the wrong type or too long."""
    if value is None and f.nullable:
        return None
    if f.kind is bool:
        if not isinstance(value, bool):
            raise errors.BadRequest(
                f"Invalid input for field '{where}': {value!r} is not a boolean."
            )
        return value
    if f.kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise errors.BadRequest(
                f"Invalid input for field '{where}': a list of strings is required."
            )
        return value
    if not isinstance(value, str):
        raise errors.BadRequest(f"Invalid input for field '{where}': {value!r} is not a string.")
    if f.required and not value.strip():
        raise errors.BadRequest(f"Invalid input for field '{where}': it must not be empty.")
    if f.max_len is not None and len(value) > f.max_len:
        raise errors.BadRequest(
            f"Invalid input for field '{where}': longer than {f.max_len} characters."
        )
    return value


def body_object(body: dict[str, Any], key: str) -> dict[str, Any]:
    obj = body.get(key)
    if not isinstance(obj, dict):
        raise errors.BadRequest(f"Invalid input: the body must contain a '{key}' object.")
    return obj


def parse_fields(coll: Collection, obj: dict[str, Any], *, create: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in coll.fields:
        where = f"{coll.singular}.{f.name}"
        if f.name in obj:
            if not create and not f.updatable:
                raise errors.BadRequest(f"Invalid input for field '{where}': it cannot be changed.")
            values[f.name] = check_value(f, obj[f.name], where)
        elif create and f.required:
            raise errors.BadRequest(f"Invalid input for field '{where}': it is required.")
        elif create and f.default is not None:
            values[f.name] = f.default() if callable(f.default) else f.default
    return values


async def find(s: AsyncSession, coll: Collection, item_id: str) -> Row:
    row = await s.get(coll.model, item_id)
    if row is None:
        raise errors.NotFound(f"Could not find {coll.singular}: {item_id}.")
    return row


def duplicate(coll: Collection) -> errors.Conflict:
    return errors.Conflict(
        f"Conflict occurred attempting to store {coll.singular} - Duplicate entry: "
        f"a {coll.singular} with that name already exists."
    )


def routes(coll: Collection) -> list[Route]:
    async def list_items(request: Request) -> Response:
        auth = await require_auth(request)
        policies.authorize(auth, f"identity:list_{coll.plural}")
        params = request.query_params
        query = select(coll.model)
        for name in coll.filters:
            if name in params:
                col = getattr(coll.model, name)
                value: Any = params[name]
                if name in ("enabled", "is_domain"):
                    value = bool_param(value, name)
                query = query.where(col == value)
        core = core_of(request)
        async with core.db.session() as s:
            query = await paginate(s, query, parse_page(params), coll.model.id)
            rows = (await s.execute(query)).scalars().all()
        base = base_url(request)
        return json_response(
            {
                coll.plural: [coll.render(r, base) for r in rows],
                "links": {"self": f"{base}/v3/{coll.plural}", "previous": None, "next": None},
            }
        )

    async def create_item(request: Request) -> Response:
        auth = await require_auth(request)
        obj = body_object(await read_json(request), coll.singular)
        policies.authorize(auth, f"identity:create_{coll.singular}")
        values = parse_fields(coll, obj, create=True)
        item_id = (
            obj.get("id") if coll.id_from_body and isinstance(obj.get("id"), str) else new_id()
        )
        row = coll.model(id=item_id, **values)
        core = core_of(request)
        try:
            async with core.db.writer() as s:
                if coll.before_create:
                    await coll.before_create(s, row, auth)
                s.add(row)
                await s.flush()
                await core.bump(s)
        except IntegrityError:
            raise duplicate(coll) from None
        return json_response({coll.singular: coll.render(row, base_url(request))}, status=201)

    async def show_item(request: Request) -> Response:
        auth = await require_auth(request)
        core = core_of(request)
        async with core.db.session() as s:
            row = await s.get(coll.model, request.path_params["item_id"])
        if row is None:
            raise errors.NotFound(
                f"Could not find {coll.singular}: {request.path_params['item_id']}."
            )
        policies.authorize(auth, f"identity:get_{coll.singular}", coll.target(row))
        return json_response({coll.singular: coll.render(row, base_url(request))})

    async def update_item(request: Request) -> Response:
        auth = await require_auth(request)
        obj = body_object(await read_json(request), coll.singular)
        policies.authorize(auth, f"identity:update_{coll.singular}")
        values = parse_fields(coll, obj, create=False)
        core = core_of(request)
        try:
            async with core.db.writer() as s:
                row = await find(s, coll, request.path_params["item_id"])
                for key, value in values.items():
                    setattr(row, key, value)
                if coll.before_update:
                    await coll.before_update(s, row, auth)
                await s.flush()
                await core.bump(s)
        except IntegrityError:
            raise duplicate(coll) from None
        return json_response({coll.singular: coll.render(row, base_url(request))})

    async def delete_item(request: Request) -> Response:
        auth = await require_auth(request)
        policies.authorize(auth, f"identity:delete_{coll.singular}")
        core = core_of(request)
        async with core.db.writer() as s:
            row = await find(s, coll, request.path_params["item_id"])
            if coll.before_delete:
                await coll.before_delete(s, row, auth)
            await s.execute(delete(coll.model).where(coll.model.id == row.id))
            await core.bump(s)
        return empty_response()

    path = f"/v3/{coll.plural}"
    return [
        Route(path, list_items, methods=["GET"]),
        Route(path, create_item, methods=["POST"]),
        Route(path + "/{item_id}", show_item, methods=["GET"]),
        Route(path + "/{item_id}", update_item, methods=["PATCH"]),
        Route(path + "/{item_id}", delete_item, methods=["DELETE"]),
    ]
