"""Request schemas of the Block Storage v3 API, from Cinder's (cinder/api/schemas/*.py):
volume bodies stay open to unknown keys as Cinder's are; actions, snapshots, types, quota sets
and attachments are closed where Cinder closes them."""

from __future__ import annotations

from ministack.common import params as p
from ministack.common.params import Schema

MAX_INT = p.MAX_INT

name: Schema = p.nullable({"type": "string", "maxLength": 255, "format": "text"})
description: Schema = p.nullable({"type": "string", "maxLength": 255, "format": "description"})
# Cinder's volume_size: an integer or a string of digits, at least 1
size: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_INT},
        {"type": "string", "pattern": "^[0-9]{1,10}$", "format": f"int:1:{MAX_INT}"},
    ]
}
metadata: Schema = {
    "type": "object",
    "patternProperties": {
        "^[a-zA-Z0-9-_:. /]{1,255}$": {"type": "string", "maxLength": 255, "format": "text"}
    },
    "additionalProperties": False,
}
nullable_metadata = p.nullable(metadata)
boolean: Schema = p.nullable(p.boolean)
uuid: Schema = p.uuid
nullable_uuid = p.nullable(p.uuid)

create_volume = p.envelope(
    "volume",
    p.obj(
        {
            "name": name,
            "display_name": name,
            "description": description,
            "display_description": description,
            "size": p.nullable(size),
            "availability_zone": p.nullable(p.string(0, 255)),
            "source_volid": nullable_uuid,
            "snapshot_id": nullable_uuid,
            "backup_id": nullable_uuid,
            "volume_type": p.nullable(p.string(0, 255)),
            "metadata": nullable_metadata,
            "imageRef": p.nullable(p.string(0, 255)),
            "image_id": p.nullable(p.string(0, 255)),
            "consistencygroup_id": nullable_uuid,
            "group_id": nullable_uuid,
            "multiattach": boolean,
            "bootable": boolean,
        },
        additional=True,
    ),
    siblings={"OS-SCH-HNT:scheduler_hints": p.nullable({"type": "object"})},
)
update_volume = p.envelope(
    "volume",
    p.obj(
        {
            "name": name,
            "display_name": name,
            "description": description,
            "display_description": description,
            "metadata": nullable_metadata,
        },
        additional=False,
    ),
)
metadata_body = p.envelope("metadata", metadata)
meta_item = p.envelope("meta", {**metadata, "minProperties": 1, "maxProperties": 1})

_sort = {"type": "string", "maxLength": 255}
list_query = p.query(
    {
        "limit": p.query_int(0),
        "marker": p.marker,
        "offset": p.query_int(0),
        "sort": _sort,
        "sort_key": {"type": "string", "maxLength": 255},
        "sort_dir": p.sort_dir,
        "all_tenants": p.query_bool,
        "with_count": p.query_bool,
        "created_at": {"type": "string", "format": "time-filter"},
        "updated_at": {"type": "string", "format": "time-filter"},
    }
)

_extend = p.obj({"new_size": size}, required=("new_size",))
_bootable = p.obj({"bootable": p.boolean}, required=("bootable",))
_readonly = p.obj({"readonly": p.boolean}, required=("readonly",))
_reset = p.obj(
    {
        "status": p.string(1, 255),
        "attach_status": p.nullable(p.string(1, 255)),
        "migration_status": p.nullable(p.string(1, 255)),
    },
    additional=False,
)
_upload = p.obj(
    {
        "image_name": {"type": "string", "minLength": 1, "maxLength": 255, "format": "text"},
        "force": boolean,
        "disk_format": p.nullable(p.string(1, 32)),
        "container_format": p.nullable(p.string(1, 32)),
        "visibility": p.nullable(p.enum("public", "private", "community", "shared")),
        "protected": boolean,
    },
    required=("image_name",),
    additional=False,
)
_image_meta = p.obj({"metadata": metadata}, required=("metadata",))
_unset_image_meta = p.obj({"key": p.string(1, 255)}, required=("key",))
_force_detach = p.obj(
    {"attachment_id": p.nullable(p.uuid), "connector": p.nullable({"type": "object"})}
)
_null_or_obj: Schema = {"anyOf": [{"type": "null"}, {"type": "object"}]}
_reimage = p.obj(
    {"image_id": p.uuid, "reimage_reserved": boolean}, required=("image_id",), additional=False
)

VOLUME_ACTIONS: dict[str, Schema] = {
    "os-extend": _extend,
    "os-set_bootable": _bootable,
    "os-update_readonly_flag": _readonly,
    "os-force_delete": _null_or_obj,
    "os-reset_status": _reset,
    "os-volume_upload_image": _upload,
    "os-set_image_metadata": _image_meta,
    "os-unset_image_metadata": _unset_image_meta,
    "os-show_image_metadata": _null_or_obj,
    "os-force_detach": _force_detach,
    "os-reserve": _null_or_obj,
    "os-unreserve": _null_or_obj,
    "os-reimage": _reimage,
}
volume_action: Schema = {
    "type": "object",
    "oneOf": [p.obj({k: v}, required=(k,)) for k, v in VOLUME_ACTIONS.items()],
}

create_snapshot = p.envelope(
    "snapshot",
    p.obj(
        {
            "name": name,
            "display_name": name,
            "description": description,
            "display_description": description,
            "volume_id": p.uuid,
            "force": boolean,
            "metadata": nullable_metadata,
        },
        required=("volume_id",),
        additional=False,
    ),
)
update_snapshot = p.envelope(
    "snapshot",
    p.obj(
        {
            "name": name,
            "display_name": name,
            "description": description,
            "display_description": description,
        },
        additional=False,
    ),
)
_snap_reset = p.obj({"status": p.string(1, 255)}, required=("status",), additional=False)
SNAPSHOT_ACTIONS: dict[str, Schema] = {
    "os-force_delete": _null_or_obj,
    "os-reset_status": _snap_reset,
}
snapshot_action: Schema = {
    "type": "object",
    "oneOf": [p.obj({k: v}, required=(k,)) for k, v in SNAPSHOT_ACTIONS.items()],
}

_spec_key = "^[a-zA-Z0-9-_:. /]{1,255}$"
extra_specs: Schema = {
    "type": "object",
    "patternProperties": {_spec_key: {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
create_type = p.envelope(
    "volume_type",
    p.obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 255, "format": "text"},
            "description": description,
            "extra_specs": extra_specs,
            "os-volume-type-access:is_public": p.boolean,
        },
        required=("name",),
    ),
)
update_type = p.envelope(
    "volume_type",
    p.obj(
        {
            "name": p.nullable(
                {"type": "string", "minLength": 1, "maxLength": 255, "format": "text"}
            ),
            "description": description,
            "is_public": p.boolean,
        }
    ),
)
extra_specs_body = p.envelope("extra_specs", extra_specs)
_project = p.obj({"project": p.string(1, 255)}, required=("project",))
type_action: Schema = {
    "type": "object",
    "oneOf": [
        p.obj({"addProjectAccess": _project}, required=("addProjectAccess",)),
        p.obj({"removeProjectAccess": _project}, required=("removeProjectAccess",)),
    ],
}

_connector: Schema = p.nullable({"type": "object"})
create_attachment = p.envelope(
    "attachment",
    p.obj(
        {
            "instance_uuid": p.nullable(p.uuid),
            "connector": _connector,
            "volume_uuid": p.uuid,
            "mode": p.enum("rw", "ro"),
        },
        required=("volume_uuid",),
    ),
)
update_attachment = p.envelope(
    "attachment", p.obj({"connector": {"type": "object"}}, required=("connector",))
)
attachment_action = p.obj({"os-complete": {"type": "null"}}, required=("os-complete",))

create_transfer = p.envelope(
    "transfer",
    p.obj(
        {"volume_id": p.uuid, "name": name, "no_snapshots": p.boolean},
        required=("volume_id",),
    ),
)
accept_transfer = p.envelope(
    "accept", p.obj({"auth_key": p.string(1, 255)}, required=("auth_key",))
)

_quota_value = p.integer(-1)
update_quota = p.envelope(
    "quota_set",
    {
        "type": "object",
        "patternProperties": {"^[a-zA-Z0-9_.-]{1,255}$": _quota_value},
        "additionalProperties": False,
    },
)
quota_query = p.query({"usage": p.query_bool})
update_service = {"type": "object"}
