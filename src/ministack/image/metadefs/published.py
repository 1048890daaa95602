"""The JSON schemas Glance publishes for metadefs at /v2/schemas/metadefs/*: the same names,
attributes, types and limits as Glance's; the descriptions are ours. The request schemas of
image/api/metadef_schemas.py are built from the same fragments."""

from __future__ import annotations

from typing import Any

from ministack.image.metadefs.models import NAME_LENGTH

TYPES = ["array", "boolean", "integer", "number", "object", "string", None]
_READ_ONLY_TIME = {"type": "string", "readOnly": True, "format": "date-time"}


def _name(description: str) -> dict[str, Any]:
    return {"type": "string", "maxLength": NAME_LENGTH, "description": description}


# One property definition: the subset of JSON Schema metadefs use (Glance's vocabulary).
PROPERTY_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": NAME_LENGTH},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "operators": {"type": "array", "items": {"type": "string"}},
    "type": {"type": "string", "enum": TYPES},
    "required": {"$ref": "#/definitions/stringArray"},
    "minimum": {"type": "number"},
    "maximum": {"type": "number"},
    "maxLength": {"$ref": "#/definitions/positiveInteger"},
    "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "pattern": {"type": "string", "format": "regex"},
    "enum": {"type": "array"},
    "readonly": {"type": "boolean"},
    "default": {},
    "items": {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": TYPES}, "enum": {"type": "array"}},
    },
    "maxItems": {"$ref": "#/definitions/positiveInteger"},
    "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "uniqueItems": {"type": "boolean", "default": False},
    "additionalItems": {"type": "boolean"},
}

DEFINITIONS: dict[str, Any] = {
    "positiveInteger": {"type": "integer", "minimum": 0},
    "positiveIntegerDefault0": {
        "allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]
    },
    "stringArray": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    "property": {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "required": ["title", "type"],
            "properties": PROPERTY_FIELDS,
        },
    },
}


def _schema(
    name: str,
    properties: dict[str, Any],
    required: list[str],
    definitions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "name": name,
        "properties": properties,
        "additionalProperties": False,
        "required": required,
    }
    if definitions is not None:
        schema["definitions"] = definitions
    return schema


def _collection(name: str, item: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            key or name: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


_ASSOCIATION_FIELDS: dict[str, Any] = {
    "name": _name("The resource type, named as in Heat (e.g. OS::Glance::Image)."),
    "prefix": _name("Prefix of the namespace's property names on this resource type."),
    "properties_target": _name("Which metadata of the resource the properties go to."),
    "created_at": {**_READ_ONLY_TIME, "description": "When the association was made"},
    "updated_at": {**_READ_ONLY_TIME, "description": "When the association last changed"},
}

_OBJECT_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": NAME_LENGTH},
    "description": {"type": "string"},
    "required": {"$ref": "#/definitions/stringArray"},
    "properties": {"$ref": "#/definitions/property"},
    "schema": {"type": "string", "readOnly": True},
    "self": {"type": "string", "readOnly": True},
    "created_at": {**_READ_ONLY_TIME, "description": "When the object was created"},
    "updated_at": {**_READ_ONLY_TIME, "description": "When the object last changed"},
}

_TAG_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": NAME_LENGTH},
    "created_at": {**_READ_ONLY_TIME, "description": "When the tag was created"},
    "updated_at": {**_READ_ONLY_TIME, "description": "When the tag last changed"},
}

_NAMESPACE_FIELDS: dict[str, Any] = {
    "namespace": _name("The namespace's unique name, e.g. OS::Compute::Watchdog."),
    "display_name": _name("A name for people to read."),
    "description": {"type": "string", "maxLength": 500, "description": "What it defines."},
    "visibility": {
        "type": "string",
        "enum": ["public", "private"],
        "description": "public: every project reads it; private: its owner only.",
    },
    "protected": {"type": "boolean", "description": "A protected namespace cannot be deleted."},
    "owner": {"type": "string", "maxLength": 255, "description": "The owning project."},
    "created_at": {**_READ_ONLY_TIME, "description": "When the namespace was created"},
    "updated_at": {**_READ_ONLY_TIME, "description": "When the namespace last changed"},
    "schema": {"type": "string", "readOnly": True},
    "self": {"type": "string", "readOnly": True},
    "resource_type_associations": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "prefix": {"type": "string"},
                "properties_target": {"type": "string"},
            },
        },
    },
    "properties": {"$ref": "#/definitions/property"},
    "objects": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "required": {"$ref": "#/definitions/stringArray"},
                "properties": {"$ref": "#/definitions/property"},
            },
        },
    },
    "tags": {
        "type": "array",
        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}

NAMESPACE = _schema("namespace", _NAMESPACE_FIELDS, ["namespace"], DEFINITIONS)
OBJECT = _schema("object", _OBJECT_FIELDS, ["name"], DEFINITIONS)
PROPERTY = _schema(
    "property",
    {k: v for k, v in PROPERTY_FIELDS.items()},
    ["name", "title", "type"],
    DEFINITIONS,
)
TAG = _schema("tag", _TAG_FIELDS, ["name"])
RESOURCE_TYPE = _schema("resource_type_association", _ASSOCIATION_FIELDS, ["name"])

ALL: dict[str, dict[str, Any]] = {
    "namespace": NAMESPACE,
    "namespaces": _collection("namespaces", NAMESPACE),
    "object": OBJECT,
    "objects": _collection("objects", OBJECT),
    "property": PROPERTY,
    "properties": {
        "name": "properties",
        "properties": {
            "properties": {"$ref": "#/definitions/property"},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "definitions": DEFINITIONS,
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    },
    "tag": TAG,
    "tags": _collection("tags", TAG),
    "resource_type": RESOURCE_TYPE,
    "resource_types": _collection("resource_type_associations", RESOURCE_TYPE),
}
