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

from ministack.common import errors, validation
from ministack.common import params as p
from ministack.common.auth import Auth, require_auth
from ministack.common.db import new_id
from ministack.common.pagination import bool_param, paginate, parse_page
from ministack.common.validation import Router
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.core import IdentityCore

Row = Any
Hook = Callable[[AsyncSession, Row, Auth], Awaitable[None]]
# extra keys of a shown item the query asks for (projects: api/hierarchy.py)
Expand = Callable[
    [AsyncSession, Row, Request, Auth, Callable[[Row, str], dict[str, Any]], str],
    Awaitable[dict[str, Any]],
]

# Declare identity's routes with their request schemas. Keystone answers 400 (not 415) for a
# body that is not JSON; the token is checked first, as keystonemiddleware would.
route = Router(wrong_media=errors.BadRequest, authenticate=require_auth)
public_route = Router(wrong_media=errors.BadRequest)


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
    # rows belong to a domain and its readers may list them (identity/policies.py admits a
    # domain_reader; the list is then cut to the caller's domain)
    domain_readable: bool = False
    expand: Expand | None = None


def assigned_targets(user_id: str, target_type: str) -> Any:
    """Subquery: ids of the projects (or domains) where the user or their group has a role
    of their own (an inherited grant gives nothing on its target: see inheritance.projects_of
    for the projects it reaches)."""
    groups = select(m.GroupMember.group_id).where(m.GroupMember.user_id == user_id)
    return select(m.Assignment.target_id).where(
        m.Assignment.target_type == target_type,
        m.Assignment.inherited.is_(False),
        ((m.Assignment.actor_type == "user") & (m.Assignment.actor_id == user_id))
        | ((m.Assignment.actor_type == "group") & m.Assignment.actor_id.in_(groups)),
    )


def core_of(request: Request) -> IdentityCore:
    core: IdentityCore = request.app.state.core
    return core


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def field_schema(f: Field) -> p.Schema:
    """The JSON Schema of one declared field."""
    schema: p.Schema
    if f.kind is bool:
        schema = p.strict_boolean
    elif f.kind is list:
        schema = p.array(p.string(1, 255, format="text"))
    else:
        schema = {"type": "string", "format": "text"}
        if f.max_len is not None:
            schema["maxLength"] = f.max_len
        if f.required:
            schema["pattern"] = "\\S"  # not blank
    return p.nullable(schema) if f.nullable else schema


def body_schemas(coll: Collection) -> tuple[p.Schema, p.Schema]:
    """(create, update) schemas from the collection's fields; other attributes pass, as
    Keystone keeps these resources open to extra attributes. A field that cannot change is
    typed on create and refused by `parse_fields` on update."""
    props = {f.name: field_schema(f) for f in coll.fields}
    if coll.id_from_body:
        props["id"] = {"type": "string", "minLength": 1, "maxLength": 64,
                       "pattern": "^[a-zA-Z0-9-_.]+$"}  # fmt: skip
    required = tuple(f.name for f in coll.fields if f.required)
    create = p.envelope(coll.singular, p.obj(props, required=required, additional=True))
    updatable = {f.name: field_schema(f) for f in coll.fields if f.updatable}
    update = p.envelope(coll.singular, p.obj(updatable, additional=True))
    return create, update


def parse_fields(coll: Collection, obj: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The declared fields of a body the schema accepted, with defaults on create."""
    values: dict[str, Any] = {}
    for f in coll.fields:
        if f.name in obj:
            if not create and not f.updatable:
                raise errors.BadRequest(
                    f"Invalid input for field '{coll.singular}.{f.name}': it cannot be changed."
                )
            values[f.name] = obj[f.name]
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
        params = request.query_params
        domain = {"domain_id": params.get("domain_id") or auth.domain_id}
        policies.authorize(auth, f"identity:list_{coll.plural}", domain)
        query = select(coll.model)
        if coll.domain_readable and not auth.reads_all:
            # admitted as a reader of one domain: that domain's rows only
            query = query.where(coll.model.domain_id == auth.domain_id)
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
        obj = validation.body(request)[coll.singular]
        policies.authorize(auth, f"identity:create_{coll.singular}")
        values = parse_fields(coll, obj, create=True)
        item_id = obj.get("id") if coll.id_from_body and obj.get("id") else new_id()
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
        target = dict(coll.target(row))
        if coll.domain_readable:
            target["domain_id"] = row.domain_id
        policies.authorize(auth, f"identity:get_{coll.singular}", target)
        shown = coll.render(row, base_url(request))
        if coll.expand is not None:
            async with core.db.session() as s:
                shown |= await coll.expand(s, row, request, auth, coll.render, base_url(request))
        return json_response({coll.singular: shown})

    async def update_item(request: Request) -> Response:
        auth = await require_auth(request)
        obj = validation.body(request)[coll.singular]
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
    create, update = body_schemas(coll)
    return [
        route(path, list_items, "GET", query=LIST_QUERY),
        route(path, create_item, "POST", body=create),
        route(path + "/{item_id}", show_item, "GET"),
        route(path + "/{item_id}", update_item, "PATCH", body=update),
        route(path + "/{item_id}", delete_item, "DELETE"),
    ]


# limit/marker as Keystone pages; enabled/is_domain filters are booleans
LIST_QUERY = p.query(
    {
        "limit": p.limit,
        "marker": p.marker,
        "enabled": p.query_bool,
        "is_domain": p.query_bool,
        "name": p.string(0, 255),
    }
)
