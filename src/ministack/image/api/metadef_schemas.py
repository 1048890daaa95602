"""Request schemas of the metadefs API (Glance's rules): names up to 80 characters, the
published property vocabulary, visibility public/private, and the list filters. Read-only
attributes (self, schema, created_at, updated_at) in a body are refused, as Glance does."""

from __future__ import annotations

from typing import Any

from ministack.common import params as p
from ministack.image.metadefs.models import NAME_LENGTH
from ministack.image.metadefs.published import DEFINITIONS, PROPERTY_FIELDS

_name = {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH, "pattern": "^[^/]+$"}
_text = {"type": "string", "maxLength": 65535}
# a pattern is stored, not compiled here: no "regex" format check
_fields = {**PROPERTY_FIELDS, "pattern": {"type": "string"}}
_property_def: p.Schema = {
    "type": "object",
    "required": ["title", "type"],
    "properties": _fields,
    "additionalProperties": False,
}
_properties: p.Schema = {
    "type": "object",
    "propertyNames": _name,
    "additionalProperties": _property_def,
}


def _with_definitions(schema: p.Schema) -> p.Schema:
    return {**schema, "definitions": DEFINITIONS}


_object_fields: dict[str, Any] = {
    "name": _name,
    "description": _text,
    "required": p.array({"type": "string"}),
    "properties": _properties,
}
metadef_object = _with_definitions(p.obj(_object_fields, required=("name",)))
metadef_property = _with_definitions(
    {
        **_property_def,
        "properties": {**_fields, "name": _name},
        "required": ["name", "title", "type"],
    }
)
metadef_tag = p.obj({"name": _name}, required=("name",))
metadef_tags = p.obj({"tags": p.array(metadef_tag)}, required=("tags",))
association = p.obj(
    {
        "name": _name,
        "prefix": p.string(0, NAME_LENGTH),
        "properties_target": p.string(0, NAME_LENGTH),
    },
    required=("name",),
)
_namespace_fields: dict[str, Any] = {
    "namespace": _name,
    "display_name": p.string(0, NAME_LENGTH),
    "description": p.string(0, 500),
    "visibility": p.enum("public", "private"),
    "protected": p.strict_boolean,
    "owner": p.string(0, 255),
}
create_namespace = _with_definitions(
    p.obj(
        {
            **_namespace_fields,
            "resource_type_associations": p.array(association),
            "properties": _properties,
            "objects": p.array(p.obj(_object_fields, required=("name",))),
            "tags": p.array(metadef_tag),
        },
        required=("namespace",),
    )
)
# PUT sends back what GET returned: the nested lists are accepted and ignored, as in Glance
update_namespace = _with_definitions(
    p.obj(
        {
            **_namespace_fields,
            "resource_type_associations": {"type": "array"},
            "properties": {"type": "object"},
            "objects": {"type": "array"},
            "tags": {"type": "array"},
        },
        required=("namespace",),
    )
)
list_namespaces = p.query(
    {
        "limit": p.query_int(1, 1000),
        "marker": p.marker,
        "sort_key": p.sort_key("created_at", "updated_at", "namespace", "display_name"),
        "sort_dir": p.sort_dir,
        "visibility": p.enum("public", "private"),
        "resource_types": {"type": "string", "maxLength": 4096},
    }
)
show_with_prefix = p.query({"resource_type": p.string(1, NAME_LENGTH)})
