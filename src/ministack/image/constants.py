"""The image service's names and limits, in one place (Glance's values unless noted)."""

from __future__ import annotations

from typing import Final

DISK_FORMATS: Final = (
    "ami",
    "ari",
    "aki",
    "vhd",
    "vhdx",
    "vmdk",
    "raw",
    "qcow2",
    "vdi",
    "iso",
    "ploop",
)
CONTAINER_FORMATS: Final = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES: Final = ("public", "private", "shared", "community")
MEMBER_STATUSES: Final = ("pending", "accepted", "rejected")

# Statuses (Glance's): queued -> saving -> active; uploading/importing for glance-direct.
QUEUED, SAVING, ACTIVE, KILLED = "queued", "saving", "active", "killed"
DEACTIVATED, DELETED = "deactivated", "deleted"
UPLOADING, IMPORTING = "uploading", "importing"
STATUSES: Final = (QUEUED, SAVING, ACTIVE, KILLED, DEACTIVATED, DELETED, UPLOADING, IMPORTING)
# The transitional ones, with owner, timeout and restart rule: image/states.py.

# Attributes the server owns: a create or PATCH naming one is 403 (Glance).
READ_ONLY: Final = frozenset(
    {
        "id",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "stores",
        "deleted",
        "deleted_at",
    }
)
# Base (schema) attributes a user may set.
BASE_WRITABLE: Final = frozenset(
    {
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "tags",
        "owner",
    }
)
RESERVED_PREFIX: Final = "os_glance"

MAX_NAME: Final = 255
MAX_PROPERTY_VALUE: Final = 65535
MAX_TAG: Final = 255
MAX_TAGS: Final = 128
MAX_PROPERTIES: Final = 128
MAX_MEMBERS: Final = 128
DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 1000
HASH_ALGO: Final = "sha512"
IMPORT_METHODS: Final = ("glance-direct", "web-download")
COPY_IMAGE: Final = "copy-image"  # offered when more than one store is enabled
# JSON bodies (not image data) stay under the common limit.
MAX_JSON_BODY: Final = 114688
