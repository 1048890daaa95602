"""Shared parameter types for request schemas: upstream's patterns and limits, in one place.

Every service's `schemas` module builds its JSON Schemas from these fragments, so an id, a
name or an IP address means the same thing in identity, image, compute and placement. The
fragments are plain JSON Schema (draft 7) dicts; the custom formats they use (`name`, `text`,
`description`, `uuid`, `ipv4`, `ipv6`, `iso8601`, `base64`, `time-filter`, `int:<min>:<max>`
for digit strings in range, `positive-number` for decimal strings > 0) are checked by
`common.validation`.

Upstream facts kept here: Nova's name rule (printable characters only, no leading or trailing
whitespace, at most 255), its flavor id pattern, its boolean spellings, its metadata key
pattern, and limit/marker/sort parameters as the OpenStack APIs read them.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

MAX_NAME = 255
MAX_INT = 2**31 - 1
# Nova's db.MAX_FLOAT-like ceiling for rxtx_factor (a C float's range)
MAX_FLOAT = 3.40282e38

# The spellings Nova's parameter_types.boolean lists (a JSON body's booleans)
NOVA_TRUE_SPELLINGS = ("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
NOVA_FALSE_SPELLINGS = ("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")
# oslo's bool_from_string also takes the one-letter forms (query strings)
TRUE_SPELLINGS = (*NOVA_TRUE_SPELLINGS, "y", "t")
FALSE_SPELLINGS = (*NOVA_FALSE_SPELLINGS, "n", "f")


def to_bool(value: object) -> bool:
    """A value `boolean` accepted, as a bool (oslo's bool_from_string spellings)."""
    return value is True or value in TRUE_SPELLINGS


def nullable(schema: Schema) -> Schema:
    """`schema` or JSON null."""
    return {"anyOf": [{"type": "null"}, schema]}


def obj(
    properties: dict[str, Schema],
    required: tuple[str, ...] = (),
    additional: bool = False,
    **extra: Any,
) -> Schema:
    """An object with these properties; unknown keys refused unless `additional`."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "additionalProperties": additional,
    }
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def envelope(
    key: str, inner: Schema, siblings: dict[str, Schema] | None = None, additional: bool = False
) -> Schema:
    """The OpenStack request envelope: `{key: inner}` (plus optional sibling keys)."""
    return obj({key: inner, **(siblings or {})}, required=(key,), additional=additional)


def string(min_length: int = 0, max_length: int = MAX_NAME, **extra: Any) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, **extra}


def enum(*values: Any) -> Schema:
    return {"enum": list(values)}


# --- names, descriptions, ids ---------------------------------------------------------------

# Printable characters only, no leading/trailing whitespace, 1-255 (Nova's parameter_types.name)
name: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "format": "name"}
# A name where upstream allows surrounding spaces (Keystone, Glance, Placement) but still no
# control or format characters
loose_name: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "format": "text"}
# Free text: printable characters plus tab/newline/CR, up to 255 (Nova's description)
description: Schema = {
    "type": "string",
    "minLength": 0,
    "maxLength": MAX_NAME,
    "format": "description",
}
uuid: Schema = {"type": "string", "format": "uuid"}
# Nova's flavor id: letters, digits, '.', '_', '-' and inner spaces; never '/' (no ../x)
flavor_id: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME,
    "pattern": "^(?! )[a-zA-Z0-9. _-]+(?<! )$",
    "not": {"enum": [".", ".."]},
}
# Nova's flavor create `id`: a string as above, a number (stored as its text) or null (the
# service makes a UUID). A number's text is digits, '-', '.', 'e' or '+': never a path.
flavor_id_or_number: Schema = {
    "anyOf": [{"type": "null"}, {"type": "number"}, flavor_id],
}
# An id the service chose or a client named (Keystone, Glance members): no path characters
resource_id: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": "^[A-Za-z0-9_.:-]+$",
}
# A reference given as an id or a URL ending in one (imageRef, flavorRef)
href_or_id: Schema = {"type": "string", "minLength": 1, "maxLength": 1024, "format": "text"}
tag: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 60,
    "pattern": "^[^,/]*$",
    "format": "text",
}
hostname: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME,
    "pattern": "^[a-zA-Z0-9._:-]+$",
}
ipv4: Schema = {"type": "string", "format": "ipv4"}
ipv6: Schema = {"type": "string", "format": "ipv6"}
iso8601: Schema = {"type": "string", "format": "iso8601"}

# --- booleans and numbers --------------------------------------------------------------------

# Nova's body boolean: JSON true/false or exactly its 20 spellings ("y" and "t" are refused)
boolean: Schema = {"enum": [True, False, *NOVA_TRUE_SPELLINGS, *NOVA_FALSE_SPELLINGS]}
strict_boolean: Schema = {"type": "boolean"}


def integer(minimum: int = 0, maximum: int = MAX_INT) -> Schema:
    """An integer in range, given as a JSON number or a string of digits (as Nova allows)."""
    return {
        "anyOf": [
            {"type": "integer", "minimum": minimum, "maximum": maximum},
            {"type": "string", "pattern": "^-?[0-9]{1,20}$", "format": f"int:{minimum}:{maximum}"},
        ]
    }


def strict_integer(minimum: int = 0, maximum: int = MAX_INT) -> Schema:
    """An integer in range given as a JSON number only."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


positive_int = integer(1)
non_negative_int = integer(0)
# Nova's rxtx_factor: > 0, finite, a number or a decimal string
rxtx_factor: Schema = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_FLOAT},
        {
            "type": "string",
            "pattern": "^[0-9]{1,40}(\\.[0-9]{1,40})?$",
            "format": "positive-number",
        },
    ]
}

# --- collections ------------------------------------------------------------------------------

metadata: Schema = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}


def array(items: Schema, max_items: int | None = None, unique: bool = False) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if max_items is not None:
        schema["maxItems"] = max_items
    if unique:
        schema["uniqueItems"] = True
    return schema


# --- query strings (values arrive as text) ---------------------------------------------------


def query_int(minimum: int = 0, maximum: int = MAX_INT) -> Schema:
    """A query parameter holding an integer in range."""
    return {"type": "string", "pattern": "^-?[0-9]{1,20}$", "format": f"int:{minimum}:{maximum}"}


query_bool: Schema = {"enum": [*TRUE_SPELLINGS, *FALSE_SPELLINGS]}
limit: Schema = query_int(0)
marker: Schema = {"type": "string", "maxLength": MAX_NAME}
sort_dir: Schema = {"enum": ["asc", "desc"]}


def sort_key(*keys: str) -> Schema:
    """A sort_key query parameter limited to these columns."""
    return {"enum": list(keys)}


def many(schema: Schema) -> Schema:
    """A query parameter that may repeat (?tag=a&tag=b): validated as a list of values."""
    return {"type": "array", "items": schema, "x-multi": True}


def query(properties: dict[str, Schema], additional: bool = True) -> Schema:
    """A query-string schema. Unknown parameters pass by default: most OpenStack APIs read
    unknown query parameters as filters or ignore them."""
    return {"type": "object", "properties": properties, "additionalProperties": additional}
