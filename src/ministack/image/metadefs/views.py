"""Wire views of metadefs, as Glance renders them: unset attributes are left out."""

from __future__ import annotations

from typing import Any

from ministack.image.metadefs.models import (
    MetadefAssociation,
    MetadefNamespace,
    MetadefObject,
    MetadefResourceType,
    MetadefTag,
)
from ministack.image.views import timestamp

SCHEMA = "/v2/schemas/metadefs"


def _times(row: Any) -> dict[str, str]:
    return {"created_at": timestamp(row.created_at), "updated_at": timestamp(row.updated_at)}


def namespace_view(ns: MetadefNamespace) -> dict[str, Any]:
    body: dict[str, Any] = {"namespace": ns.namespace}
    if ns.display_name is not None:
        body["display_name"] = ns.display_name
    if ns.description is not None:
        body["description"] = ns.description
    body.update(
        visibility=ns.visibility,
        protected=ns.protected,
        owner=ns.owner,
        **_times(ns),
        schema=f"{SCHEMA}/namespace",
        self=f"/v2/metadefs/namespaces/{ns.namespace}",
    )
    return body


def object_view(namespace: str, obj: MetadefObject) -> dict[str, Any]:
    body: dict[str, Any] = {"name": obj.name}
    if obj.description is not None:
        body["description"] = obj.description
    if obj.required:
        body["required"] = obj.required
    body["properties"] = obj.properties or {}
    body.update(
        **_times(obj),
        schema=f"{SCHEMA}/object",
        self=f"/v2/metadefs/namespaces/{namespace}/objects/{obj.name}",
    )
    return body


def property_view(name: str, definition: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **definition}


def tag_view(tag: MetadefTag) -> dict[str, Any]:
    return {"name": tag.name, **_times(tag)}


def association_view(assoc: MetadefAssociation, rtype: MetadefResourceType) -> dict[str, Any]:
    body: dict[str, Any] = {"name": rtype.name}
    if assoc.prefix is not None:
        body["prefix"] = assoc.prefix
    if assoc.properties_target is not None:
        body["properties_target"] = assoc.properties_target
    body.update(_times(assoc))
    return body


def resource_type_view(rtype: MetadefResourceType) -> dict[str, Any]:
    return {"name": rtype.name, **_times(rtype)}
