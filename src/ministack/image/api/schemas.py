"""The image API's request schemas (Glance v2), checked before a handler runs.

Creating an image takes the writable base attributes with Glance's types and enums, and any
other property as a string; read-only and reserved names pass the schema so the core can
answer Glance's 403 for them. Listing takes Glance's filters: `created_at`/`updated_at` as
`[gt|gte|lt|lte|eq|neq:]<ISO 8601>`, sizes as integers, limit/marker and the sort keys Glance
sorts by. (The schemas Glance *publishes* for clients live in image/schemas.py.)
"""

from __future__ import annotations

from ministack.common import params as p
from ministack.image import constants as c
from ministack.image.listing import SORT_KEYS

_base: p.Schema = {
    "id": p.uuid,
    "name": p.nullable(p.string(0, c.MAX_NAME)),
    "visibility": p.enum(*c.VISIBILITIES),
    "protected": p.strict_boolean,
    "os_hidden": p.strict_boolean,
    "container_format": p.enum(None, *c.CONTAINER_FORMATS),
    "disk_format": p.enum(None, *c.DISK_FORMATS),
    "min_disk": p.strict_integer(0),
    "min_ram": p.strict_integer(0),
    "owner": p.nullable(p.string(0, 255)),
    "tags": p.array(p.string(1, c.MAX_TAG)),
}
# read-only attributes pass here: the core answers 403 naming them, as Glance does
_read_only: p.Schema = {name: {} for name in sorted(c.READ_ONLY) if name not in _base}

create_image = {
    "type": "object",
    "properties": {**_base, **_read_only},
    "patternProperties": {f"^{c.RESERVED_PREFIX}": {}},
    "additionalProperties": {"type": "string", "maxLength": c.MAX_PROPERTY_VALUE},
}

_time_filter = {"type": "string", "format": "time-filter"}
list_images = p.query(
    {
        "limit": p.limit,
        "marker": p.marker,
        "sort_key": p.many(p.sort_key(*SORT_KEYS)),
        "sort_dir": p.many(p.sort_dir),
        "sort": {"type": "string", "maxLength": 1024},
        "visibility": p.enum(*c.VISIBILITIES, "all"),
        "member_status": p.enum(*c.MEMBER_STATUSES, "all"),
        "size_min": p.query_int(0, 2**63 - 1),
        "size_max": p.query_int(0, 2**63 - 1),
        "protected": p.query_bool,
        "os_hidden": p.query_bool,
        "created_at": _time_filter,
        "updated_at": _time_filter,
    }
)

# clients send other member attributes back (the CLI sends `member` on update): allowed
create_member = p.obj(
    {"member": p.string(1, 255, format="text")}, required=("member",), additional=True
)
update_member = p.obj({"status": p.enum(*c.MEMBER_STATUSES)}, required=("status",), additional=True)

import_image = p.obj(
    {
        "method": p.obj({"name": p.string(1, 255)}, required=("name",), additional=True),
        "stores": p.array(p.string(1, 255)),
        "all_stores": p.strict_boolean,
        "all_stores_must_succeed": p.strict_boolean,
    },
    required=("method",),
)
