"""Validation of image attributes and of JSON-patch documents, with Glance's status codes.

A read-only attribute (id, status, checksum, size, ...) or a reserved ``os_glance_*`` name is
403; a value of the wrong type or outside an enum is 400; replacing or removing a property
that does not exist is 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ministack.common import errors
from ministack.image import constants as c


@dataclass(frozen=True)
class Op:
    """One JSON-patch operation on a top-level attribute."""

    op: str  # add | replace | remove
    name: str
    value: Any = None


def check_name_allowed(name: str) -> None:
    """403 for read-only attributes and reserved names; 400 for an unusable name."""
    if name in c.READ_ONLY:
        raise errors.Forbidden(f"Attribute '{name}' is read-only.")
    if name.startswith(c.RESERVED_PREFIX):
        raise errors.Forbidden(f"Attribute '{name}' is reserved.")
    if not name or len(name) > 255:
        raise errors.BadRequest(f"Invalid property name {name[:40]!r}: 1 to 255 characters.")


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.BadRequest(f"Invalid value for '{name}': {value!r} is not an integer >= 0.")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise errors.BadRequest(f"Invalid value for '{name}': {value!r} is not a boolean.")
    return value


def _enum(name: str, value: Any, allowed: tuple[str, ...], nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if value not in allowed:
        raise errors.BadRequest(
            f"Invalid value for '{name}': {value!r}; allowed: {', '.join(allowed)}."
        )
    return str(value)


def tags_value(value: Any) -> list[str]:
    """A validated list of tags (unique, each 1-255 characters, at most MAX_TAGS)."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise errors.BadRequest("Invalid value for 'tags': a list of strings is required.")
    for tag in value:
        tag_value(tag)
    unique = list(dict.fromkeys(value))
    if len(unique) > c.MAX_TAGS:
        raise errors.PayloadTooLarge(f"An image may have at most {c.MAX_TAGS} tags.")
    return unique


def tag_value(tag: str) -> str:
    if not tag or len(tag) > c.MAX_TAG:
        raise errors.BadRequest(f"Invalid tag {tag[:40]!r}: 1 to {c.MAX_TAG} characters.")
    return tag


def base_value(name: str, value: Any) -> Any:
    """Validate a value for a base attribute; 400 naming it when wrong."""
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > c.MAX_NAME):
            raise errors.BadRequest(
                f"Invalid value for 'name': a string of at most {c.MAX_NAME} characters."
            )
        return value
    if name == "visibility":
        return _enum(name, value, c.VISIBILITIES, nullable=False)
    if name == "disk_format":
        return _enum(name, value, c.DISK_FORMATS)
    if name == "container_format":
        return _enum(name, value, c.CONTAINER_FORMATS)
    if name in ("protected", "os_hidden"):
        return _bool(name, value)
    if name in ("min_disk", "min_ram"):
        return _int(name, value)
    if name == "tags":
        return tags_value(value)
    if name == "owner":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise errors.BadRequest("Invalid value for 'owner': a project id is required.")
        return value
    raise AssertionError(name)


def property_value(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise errors.BadRequest(f"Invalid value for property '{name}': {value!r} is not a string.")
    if len(value) > c.MAX_PROPERTY_VALUE:
        raise errors.BadRequest(
            f"Invalid value for property '{name}': longer than {c.MAX_PROPERTY_VALUE} characters."
        )
    return value


def parse_patch(doc: Any) -> list[Op]:
    """Parse an openstack-images-v2.1-json-patch (or v2.0) document into operations."""
    if not isinstance(doc, list):
        raise errors.BadRequest("A JSON-patch body must be a list of operations.")
    ops: list[Op] = []
    for raw in doc:
        if not isinstance(raw, dict):
            raise errors.BadRequest("Each JSON-patch operation must be an object.")
        if "op" in raw:
            kind, path = raw.get("op"), raw.get("path")
        else:  # v2.0 form: {"replace": "/name", "value": ...}
            keys = [k for k in ("add", "replace", "remove") if k in raw]
            if len(keys) != 1:
                raise errors.BadRequest("A JSON-patch operation needs exactly one of op/add/...")
            kind, path = keys[0], raw[keys[0]]
        if kind not in ("add", "replace", "remove"):
            raise errors.BadRequest(f"Unsupported JSON-patch operation {kind!r}.")
        if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1:
            if isinstance(path, str) and path.startswith("/locations"):
                raise errors.Forbidden("Image locations cannot be changed on this cloud.")
            raise errors.BadRequest(f"Invalid JSON-patch path {path!r}: use /<attribute>.")
        name = path[1:].replace("~1", "/").replace("~0", "~")
        if kind != "remove" and "value" not in raw:
            raise errors.BadRequest(f"JSON-patch operation {kind} {path} needs a value.")
        check_name_allowed(name)
        ops.append(Op(op=kind, name=name, value=raw.get("value")))
    return ops
