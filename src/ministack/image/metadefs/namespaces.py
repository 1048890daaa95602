"""Namespaces and resource-type associations: list, create (with contents), show, update,
delete. Every write is admin-only (403 otherwise); a namespace the caller cannot see is 404;
a second namespace of the same name or a second association is 409."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database, utcnow
from ministack.image.metadefs import access, views
from ministack.image.metadefs.models import (
    MetadefAssociation,
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)

SORT_KEYS = ("created_at", "updated_at", "namespace", "display_name")


async def associations(
    s: AsyncSession, namespace_ids: list[int]
) -> dict[int, list[tuple[MetadefAssociation, MetadefResourceType]]]:
    found: dict[int, list[tuple[MetadefAssociation, MetadefResourceType]]] = {
        i: [] for i in namespace_ids
    }
    if not namespace_ids:
        return found
    rows = await s.execute(
        select(MetadefAssociation, MetadefResourceType)
        .join(MetadefResourceType, MetadefResourceType.id == MetadefAssociation.resource_type_id)
        .where(MetadefAssociation.namespace_id.in_(namespace_ids))
        .order_by(MetadefResourceType.name)
    )
    for assoc, rtype in rows.tuples():
        found[assoc.namespace_id].append((assoc, rtype))
    return found


async def list_namespaces(db: Database, auth: Auth, query: dict[str, Any]) -> dict[str, Any]:
    """GET /v2/metadefs/namespaces with Glance's filters, sort and limit/marker paging."""
    access.enforce_read(auth, "get_metadef_namespaces")
    limit = int(query.get("limit", 25))
    key, direction = query.get("sort_key", "created_at"), query.get("sort_dir", "desc")
    async with db.session() as s:
        stmt = select(MetadefNamespace)
        if "visibility" in query:
            stmt = stmt.where(MetadefNamespace.visibility == query["visibility"])
        wanted = [t for t in query.get("resource_types", "").split(",") if t]
        if wanted:
            stmt = stmt.where(
                MetadefNamespace.id.in_(
                    select(MetadefAssociation.namespace_id)
                    .join(MetadefResourceType)
                    .where(MetadefResourceType.name.in_(wanted))
                )
            )
        column = getattr(MetadefNamespace, key)
        order = column.desc() if direction == "desc" else column.asc()
        rows = [
            ns
            for ns in (await s.execute(stmt.order_by(order, MetadefNamespace.id))).scalars()
            if access.visible(auth, ns)
        ]
        if "marker" in query:
            names = [ns.namespace for ns in rows]
            if query["marker"] not in names:
                raise errors.NotFound(
                    f"Metadata definition namespace={query['marker']} was not found."
                )
            rows = rows[names.index(query["marker"]) + 1 :]
        page = rows[:limit]
        assocs = await associations(s, [ns.id for ns in page])
    listed = []
    for ns in page:
        body = views.namespace_view(ns)
        if assocs[ns.id]:
            body["resource_type_associations"] = [
                views.association_view(a, r) for a, r in assocs[ns.id]
            ]
        listed.append(body)
    result: dict[str, Any] = {
        "namespaces": listed,
        "first": "/v2/metadefs/namespaces",
        "schema": "/v2/schemas/metadefs/namespaces",
    }
    if page and len(page) == limit:
        result["next"] = f"/v2/metadefs/namespaces?marker={page[-1].namespace}&limit={limit}"
    return result


async def _resource_type(s: AsyncSession, name: str, create: bool) -> MetadefResourceType:
    rtype = (
        await s.execute(select(MetadefResourceType).where(MetadefResourceType.name == name))
    ).scalar_one_or_none()
    if rtype is None:
        if not create:
            raise errors.NotFound(f"Metadata definition resource-type={name} was not found.")
        rtype = MetadefResourceType(name=name, protected=False)
        s.add(rtype)
        await s.flush()
    return rtype


async def add_association(
    s: AsyncSession, ns: MetadefNamespace, body: dict[str, Any], protected: bool = False
) -> tuple[MetadefAssociation, MetadefResourceType]:
    rtype = await _resource_type(s, body["name"], create=True)
    rtype.protected = rtype.protected or protected
    if await s.get(MetadefAssociation, (ns.id, rtype.id)) is not None:
        raise errors.Conflict(
            f"The resource type {rtype.name} is already associated with namespace {ns.namespace}."
        )
    assoc = MetadefAssociation(
        namespace_id=ns.id,
        resource_type_id=rtype.id,
        prefix=body.get("prefix"),
        properties_target=body.get("properties_target"),
    )
    s.add(assoc)
    await s.flush()
    return assoc, rtype


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise errors.Conflict(f"Duplicate {what} {name!r} in the request.")
        seen.add(name)


async def add_contents(s: AsyncSession, ns: MetadefNamespace, body: dict[str, Any]) -> None:
    """The objects, properties and tags given in a namespace's create body."""
    objects = body.get("objects") or []
    tags = body.get("tags") or []
    _unique([o["name"] for o in objects], "object")
    _unique([t["name"] for t in tags], "tag")
    for obj in objects:
        s.add(
            MetadefObject(
                namespace_id=ns.id,
                name=obj["name"],
                description=obj.get("description"),
                required=obj.get("required"),
                properties=obj.get("properties") or {},
            )
        )
    for name, definition in (body.get("properties") or {}).items():
        definition = {k: v for k, v in definition.items() if k != "name"}
        s.add(MetadefProperty(namespace_id=ns.id, name=name, definition=definition))
    for tag in tags:
        s.add(MetadefTag(namespace_id=ns.id, name=tag["name"]))
    await s.flush()


async def create_namespace(db: Database, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v2/metadefs/namespaces: 201 with what was created; 409 when the name is taken."""
    access.enforce_write(auth, "add_metadef_namespace")
    try:
        async with db.writer() as s:
            ns = MetadefNamespace(
                namespace=body["namespace"],
                display_name=body.get("display_name"),
                description=body.get("description"),
                visibility=body.get("visibility", "private"),
                protected=body.get("protected", False),
                owner=body.get("owner", auth.project_id),
            )
            s.add(ns)
            await s.flush()
            for assoc in body.get("resource_type_associations") or []:
                await add_association(s, ns, assoc)
            await add_contents(s, ns, body)
    except IntegrityError:
        raise errors.Conflict(
            f"A metadata definition namespace named {body['namespace']} already exists."
        ) from None
    return await show_namespace(db, auth, body["namespace"], None)


async def show_namespace(
    db: Database, auth: Auth, name: str, resource_type: str | None
) -> dict[str, Any]:
    """GET one namespace with its associations, properties, objects and tags. With
    `resource_type`, property names carry that association's prefix."""
    access.enforce_read(auth, "get_metadef_namespace")
    async with db.session() as s:
        ns = await access.find_namespace(s, auth, name)
        body = views.namespace_view(ns)
        assocs = (await associations(s, [ns.id]))[ns.id]
        if assocs:
            body["resource_type_associations"] = [views.association_view(a, r) for a, r in assocs]
        prefix = next((a.prefix or "" for a, r in assocs if r.name == resource_type), "")
        props = (
            await s.execute(
                select(MetadefProperty)
                .where(MetadefProperty.namespace_id == ns.id)
                .order_by(MetadefProperty.name)
            )
        ).scalars()
        properties = {prefix + p.name: p.definition for p in props}
        if properties:
            body["properties"] = properties
        objects = (
            await s.execute(
                select(MetadefObject)
                .where(MetadefObject.namespace_id == ns.id)
                .order_by(MetadefObject.name)
            )
        ).scalars()
        listed = [views.object_view(ns.namespace, o) for o in objects]
        if listed:
            body["objects"] = listed
        tags = (
            await s.execute(
                select(MetadefTag).where(MetadefTag.namespace_id == ns.id).order_by(MetadefTag.name)
            )
        ).scalars()
        names = [{"name": t.name} for t in tags]
        if names:
            body["tags"] = names
    return body


async def update_namespace(
    db: Database, auth: Auth, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    """PUT: replace the namespace's attributes (it may be renamed); 409 on a taken name."""
    try:
        async with db.writer() as s:
            ns = await access.find_namespace(s, auth, name)
            access.enforce_write(auth, "modify_metadef_namespace")
            ns.namespace = body["namespace"]
            ns.display_name = body.get("display_name")
            ns.description = body.get("description")
            ns.visibility = body.get("visibility", ns.visibility)
            ns.protected = body.get("protected", ns.protected)
            ns.owner = body.get("owner", ns.owner)
            ns.updated_at = utcnow()
            await s.flush()
            view = views.namespace_view(ns)
    except IntegrityError:
        raise errors.Conflict(
            f"A metadata definition namespace named {body['namespace']} already exists."
        ) from None
    return view


async def delete_namespace(db: Database, auth: Auth, name: str) -> None:
    """DELETE: the namespace and everything in it; 403 when protected."""
    async with db.writer() as s:
        ns = await access.find_namespace(s, auth, name)
        access.enforce_write(auth, "delete_metadef_namespace")
        if ns.protected:
            raise errors.Forbidden(
                f"Namespace {name} is protected and cannot be deleted; set protected to false "
                "first."
            )
        for model in (MetadefObject, MetadefProperty, MetadefTag, MetadefAssociation):
            await s.execute(delete(model).where(model.namespace_id == ns.id))
        await s.delete(ns)


async def list_resource_types(db: Database, auth: Auth) -> dict[str, Any]:
    access.enforce_read(auth, "list_metadef_resource_types")
    async with db.session() as s:
        rows = (
            await s.execute(select(MetadefResourceType).order_by(MetadefResourceType.name))
        ).scalars()
        return {"resource_types": [views.resource_type_view(r) for r in rows]}


async def list_associations(db: Database, auth: Auth, name: str) -> dict[str, Any]:
    access.enforce_read(auth, "list_metadef_resource_types")
    async with db.session() as s:
        ns = await access.find_namespace(s, auth, name)
        assocs = (await associations(s, [ns.id]))[ns.id]
    return {"resource_type_associations": [views.association_view(a, r) for a, r in assocs]}


async def create_association(
    db: Database, auth: Auth, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    async with db.writer() as s:
        ns = await access.find_namespace(s, auth, name)
        access.enforce_write(auth, "add_metadef_resource_type_association")
        assoc, rtype = await add_association(s, ns, body)
        return views.association_view(assoc, rtype)


async def delete_association(db: Database, auth: Auth, name: str, resource_type: str) -> None:
    async with db.writer() as s:
        ns = await access.find_namespace(s, auth, name)
        access.enforce_write(auth, "remove_metadef_resource_type_association")
        rtype = await _resource_type(s, resource_type, create=False)
        assoc = await s.get(MetadefAssociation, (ns.id, rtype.id))
        if assoc is None:
            raise errors.NotFound(
                f"The resource type {resource_type} is not associated with namespace {name}."
            )
        access.refuse_if_protected(ns, "A resource type association")
        await s.delete(assoc)
