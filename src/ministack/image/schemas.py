"""The JSON schemas Glance publishes at /v2/schemas/*; glanceclient builds its models from them."""

from __future__ import annotations

from typing import Any

from ministack.image import constants as c

_STR_OR_NULL = {"type": ["null", "string"]}
_TIME = {"type": "string", "readOnly": True}


def _image_properties() -> dict[str, Any]:
    return {
        "id": {
            "type": "string",
            "readOnly": True,
            "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
            "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
            "description": "An identifier for the image",
        },
        "name": {
            "type": ["null", "string"],
            "maxLength": c.MAX_NAME,
            "description": "Descriptive name for the image",
        },
        "status": {
            "type": "string",
            "readOnly": True,
            "enum": list(c.STATUSES),
            "description": "Status of the image",
        },
        "visibility": {
            "type": "string",
            "enum": list(c.VISIBILITIES),
            "description": "Scope of image accessibility",
        },
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {
            "type": "boolean",
            "description": "If true, image will not appear in default image list",
        },
        "checksum": {
            **_STR_OR_NULL,
            "readOnly": True,
            "maxLength": 32,
            "description": "md5 hash of image contents.",
        },
        "os_hash_algo": {
            **_STR_OR_NULL,
            "readOnly": True,
            "maxLength": 64,
            "description": "Algorithm to calculate the os_hash_value",
        },
        "os_hash_value": {
            **_STR_OR_NULL,
            "readOnly": True,
            "maxLength": 128,
            "description": "Hexdigest of the image contents",
        },
        "owner": {**_STR_OR_NULL, "maxLength": 255, "description": "Owner of the image"},
        "size": {
            "type": ["null", "integer"],
            "readOnly": True,
            "description": "Size of image file in bytes",
        },
        "virtual_size": {
            "type": ["null", "integer"],
            "readOnly": True,
            "description": "Virtual size of image in bytes",
        },
        "container_format": {
            "type": ["null", "string"],
            "enum": [None, *c.CONTAINER_FORMATS],
            "description": "Format of the container",
        },
        "disk_format": {
            "type": ["null", "string"],
            "enum": [None, *c.DISK_FORMATS],
            "description": "Format of the disk",
        },
        "created_at": {**_TIME, "description": "Date and time of image registration"},
        "updated_at": {**_TIME, "description": "Date and time of the last image modification"},
        "tags": {
            "type": "array",
            "items": {"type": "string", "maxLength": c.MAX_TAG},
            "description": "List of strings related to the image",
        },
        "direct_url": {
            "type": "string",
            "readOnly": True,
            "description": "URL to access the image file kept in external store",
        },
        "min_ram": {
            "type": "integer",
            "description": "Amount of ram (in MB) required to boot image.",
        },
        "min_disk": {
            "type": "integer",
            "description": "Amount of disk space (in GB) required to boot image.",
        },
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "stores": {
            "type": "string",
            "readOnly": True,
            "description": "Store in which image data resides.",
        },
        "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
        "locations": {
            "type": "array",
            "items": {"type": "object"},
            "description": "A set of URLs to access the image file kept in external store",
        },
    }


IMAGE: dict[str, Any] = {
    "name": "image",
    "properties": _image_properties(),
    "additionalProperties": {"type": "string"},
    "links": [
        {"rel": "self", "href": "{self}"},
        {"rel": "enclosure", "href": "{file}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

IMAGES: dict[str, Any] = {
    "name": "images",
    "properties": {
        "images": {"type": "array", "items": IMAGE},
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [
        {"rel": "first", "href": "{first}"},
        {"rel": "next", "href": "{next}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

MEMBER: dict[str, Any] = {
    "name": "member",
    "properties": {
        "created_at": {"type": "string", "description": "Date and time of image member creation"},
        "image_id": {"type": "string", "description": "An identifier for the image"},
        "member_id": {"type": "string", "description": "An identifier for the image member"},
        "status": {
            "type": "string",
            "enum": list(c.MEMBER_STATUSES),
            "description": "The status of this image member",
        },
        "updated_at": {
            "type": "string",
            "description": "Date and time of last modification of image member",
        },
        "schema": {"type": "string", "readOnly": True},
    },
}

MEMBERS: dict[str, Any] = {
    "name": "members",
    "properties": {
        "members": {"type": "array", "items": MEMBER},
        "schema": {"type": "string"},
    },
    "links": [{"rel": "describedby", "href": "{schema}"}],
}

_TASK_FIELDS: dict[str, Any] = {
    "id": {"type": "string", "description": "An identifier for the task"},
    "type": {
        "type": "string",
        "enum": ["import", "api_image_import"],
        "description": "What kind of work the task does",
    },
    "status": {
        "type": "string",
        "enum": ["pending", "processing", "success", "failure"],
        "description": "Where the task is in its life",
    },
    "input": {"type": ["null", "object"], "description": "What the task was asked to do"},
    "result": {"type": ["null", "object"], "description": "What the task produced"},
    "owner": {"type": "string", "description": "The project the task belongs to"},
    "message": {"type": "string", "description": "Why the task failed, if it did"},
    "image_id": {"type": "string", "description": "The image the task works on"},
    "request_id": {"type": "string", "description": "The request that started the task"},
    "user_id": {"type": "string", "description": "The user that started the task"},
    "expires_at": {
        "type": ["null", "string"],
        "description": "When the finished task's record may be removed",
    },
    "created_at": {"type": "string", "description": "When the task was created"},
    "updated_at": {"type": "string", "description": "When the task last changed"},
    "self": {"type": "string"},
    "schema": {"type": "string"},
}

TASK: dict[str, Any] = {"name": "task", "properties": _TASK_FIELDS}
TASKS: dict[str, Any] = {
    "name": "tasks",
    "properties": {
        "tasks": {
            "type": "array",
            "items": {
                "name": "task",
                "properties": {
                    k: v for k, v in _TASK_FIELDS.items() if k not in ("input", "result", "message")
                },
            },
        },
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [
        {"rel": "first", "href": "{first}"},
        {"rel": "next", "href": "{next}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

ALL: dict[str, dict[str, Any]] = {
    "task": TASK,
    "tasks": TASKS,
    "image": IMAGE,
    "images": IMAGES,
    "member": MEMBER,
    "members": MEMBERS,
}
