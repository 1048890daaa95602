"""What a namespace holds: objects, properties and tags. Reads follow the namespace's
visibility; writes are admin-only; a name taken in the namespace is 409; deleting from a
protected namespace is 403."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database, utcnow
from ministack.image.metadefs import access, namespaces, views
from ministack.image.metadefs.models import (
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefTag,
)

MODELS: dict[str, type[MetadefObject] | type[MetadefProperty] | type[MetadefTag]] = {
    "object": MetadefObject,
    "property": MetadefProperty,
    "tag": MetadefTag,
}


async def _find(s: AsyncSession, ns: MetadefNamespace, kind: str, name: str) -> Any:
    model = MODELS[kind]
    row = (
        await s.execute(select(model).where(model.namespace_id == ns.id, model.name == name))
    ).scalar_one_or_none()
    if row is None:
        raise errors.NotFound(
            f"Metadata definition {kind} {name} was not found in namespace {ns.namespace}."
        )
    return row


async def _all(s: AsyncSession, ns: MetadefNamespace, kind: str) -> list[Any]:
    model = MODELS[kind]
    rows = await s.execute(
        select(model).where(model.namespace_id == ns.id).order_by(model.created_at, model.id)
    )
    return list(rows.scalars())


def _taken(kind: str, name: str, ns: str) -> errors.Conflict:
    return errors.Conflict(f"A metadata definition {kind} named {name} exists in namespace {ns}.")


def render(kind: str, namespace: str, row: Any) -> dict[str, Any]:
    if kind == "object":
        return views.object_view(namespace, row)
    if kind == "property":
        return views.property_view(row.name, row.definition)
    return views.tag_view(row)


def _apply(kind: str, row: Any, body: dict[str, Any]) -> None:
    """Set a row's attributes from a create or full-update body."""
    row.name = body["name"]
    if kind == "object":
        row.description = body.get("description")
        row.required = body.get("required")
        row.properties = body.get("properties") or {}
    elif kind == "property":
        row.definition = {k: v for k, v in body.items() if k != "name"}


# -- one kind, generic ----------------------------------------------------------------------


async def list_items(db: Database, auth: Auth, namespace: str, kind: str) -> dict[str, Any]:
    """The objects (list), properties (map by name) or tags (list) of a namespace."""
    access.enforce_read(auth, f"get_metadef_{kind}s")
    async with db.session() as s:
        ns = await access.find_namespace(s, auth, namespace)
        rows = await _all(s, ns, kind)
    if kind == "property":
        return {"properties": {r.name: r.definition for r in rows}}
    if kind == "object":
        return {
            "objects": [render(kind, namespace, r) for r in rows],
            "schema": "v2/schemas/metadefs/objects",  # Glance's, without the leading slash
        }
    return {"tags": [render(kind, namespace, r) for r in rows]}


async def create_item(
    db: Database, auth: Auth, namespace: str, kind: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST one object, property or tag: 201 view; 409 when the name is taken."""
    try:
        async with db.writer() as s:
            ns = await access.find_namespace(s, auth, namespace)
            access.enforce_write(auth, f"add_metadef_{kind}")
            row = MODELS[kind](namespace_id=ns.id)
            _apply(kind, row, body)
            s.add(row)
            await s.flush()
            return render(kind, namespace, row)
    except IntegrityError:
        raise _taken(kind, body["name"], namespace) from None


async def show_item(
    db: Database, auth: Auth, namespace: str, kind: str, name: str, resource_type: str | None
) -> dict[str, Any]:
    """GET one; a property may be named with a resource type's prefix (`?resource_type=`)."""
    access.enforce_read(auth, f"get_metadef_{kind}")
    async with db.session() as s:
        ns = await access.find_namespace(s, auth, namespace)
        lookup = name
        if resource_type and kind == "property":
            lookup = await _strip_prefix(s, ns, resource_type, name)
        row = await _find(s, ns, kind, lookup)
        body = render(kind, namespace, row)
    if lookup != name:
        body["name"] = name
    return body


async def _strip_prefix(
    s: AsyncSession, ns: MetadefNamespace, resource_type: str, name: str
) -> str:
    for assoc, rtype in (await namespaces.associations(s, [ns.id]))[ns.id]:
        if rtype.name == resource_type:
            prefix = assoc.prefix or ""
            if not name.startswith(prefix):
                raise errors.NotFound(
                    f"Property {name} does not have the prefix {prefix!r} of resource type "
                    f"{resource_type}."
                )
            return name[len(prefix) :]
    raise errors.NotFound(
        f"Resource type {resource_type} is not associated with namespace {ns.namespace}."
    )


async def update_item(
    db: Database, auth: Auth, namespace: str, kind: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    """PUT: replace it (renaming is allowed); 409 when the new name is taken."""
    try:
        async with db.writer() as s:
            ns = await access.find_namespace(s, auth, namespace)
            access.enforce_write(auth, f"modify_metadef_{kind}")
            row = await _find(s, ns, kind, name)
            _apply(kind, row, body)
            row.updated_at = utcnow()
            await s.flush()
            return render(kind, namespace, row)
    except IntegrityError:
        raise _taken(kind, body["name"], namespace) from None


async def delete_item(db: Database, auth: Auth, namespace: str, kind: str, name: str) -> None:
    async with db.writer() as s:
        ns = await access.find_namespace(s, auth, namespace)
        access.enforce_write(auth, f"delete_metadef_{kind}")
        row = await _find(s, ns, kind, name)
        access.refuse_if_protected(ns, f"A {kind}")
        await s.delete(row)


async def delete_all(db: Database, auth: Auth, namespace: str, kind: str) -> None:
    """DELETE /namespaces/{ns}/objects|properties|tags: everything of that kind."""
    async with db.writer() as s:
        ns = await access.find_namespace(s, auth, namespace)
        access.enforce_write(auth, f"delete_metadef_{kind}")
        access.refuse_if_protected(ns, f"The {kind}s")
        model = MODELS[kind]
        await s.execute(delete(model).where(model.namespace_id == ns.id))


async def create_tags(
    db: Database, auth: Auth, namespace: str, names: list[str], append: bool
) -> dict[str, Any]:
    """POST /tags: these tags replace the namespace's (or join them with X-Openstack-Append);
    409 on a duplicate."""
    if len(set(names)) != len(names):
        raise errors.Conflict("The request names the same tag more than once.")
    try:
        async with db.writer() as s:
            ns = await access.find_namespace(s, auth, namespace)
            access.enforce_write(auth, "add_metadef_tags")
            if not append:
                await s.execute(delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))
            for name in names:
                s.add(MetadefTag(namespace_id=ns.id, name=name))
            await s.flush()
    except IntegrityError:
        raise errors.Conflict(f"A tag of the request already exists in {namespace}.") from None
    return {"tags": [{"name": n} for n in names]}
