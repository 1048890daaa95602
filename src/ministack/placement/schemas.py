"""The placement API's request schemas. Placement refuses query parameters it does not know
(`additionalProperties: false`), unlike the older APIs; its HTTP surface here is reads and
allocation deletes, so the schemas are query strings."""

from __future__ import annotations

from ministack.common import params as p

_text = {"type": "string", "maxLength": 1024, "format": "text"}
list_resource_providers = p.query(
    {
        "name": p.string(1, 200, format="text"),
        "uuid": p.uuid,
        "member_of": _text,
        "resources": _text,
        "in_tree": p.uuid,
        "required": _text,
    },
    additional=False,
)
usages = p.query(
    {"project_id": p.string(1, 255, format="text"), "user_id": p.string(1, 255, format="text")},
    additional=False,
)
usages["required"] = ["project_id"]
