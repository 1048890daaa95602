"""The compute API's request schemas, per microversion, as Nova declares them.

Routes name these next to their handlers (`route(..., body=schemas.create_server)`); the
shared parameter types come from `common.params`. Where Nova refuses unknown keys
(`additionalProperties: false`) so do these. Facts from the Compute API reference: server
names are printable text without surrounding whitespace, accessIPv4/v6 are addresses,
config_drive is a boolean in oslo's spellings, scheduler hints name servers by UUID, the
description appears at 2.19, `networks` becomes required at 2.37, keypair listing pages at
2.35, and the server list sorts only by Nova's whitelisted keys.
"""

from __future__ import annotations

from collections.abc import Callable

from ministack.common import params as p
from ministack.common.validation import Versions
from ministack.compute.api import lifecycle_schemas, move_schemas

# --- servers ---------------------------------------------------------------------------------

V = tuple[int, int]


def _network(v: V) -> p.Schema:
    props: p.Schema = {
        "uuid": p.uuid if v >= (2, 37) else {"type": "string"},
        "port": p.nullable(p.uuid),
        "fixed_ip": {"anyOf": [p.ipv4, p.ipv6]},
    }
    # the device tag: 2.32-2.36, lost by a bug at 2.37, restored at 2.42
    if (2, 32) <= v < (2, 37) or v >= (2, 42):
        props["tag"] = p.tag
    return p.obj(props)


def _networks(v: V) -> p.Schema:
    if v >= (2, 37):
        return {"anyOf": [p.array(_network(v)), p.enum("auto", "none")]}
    return p.array(_network(v))


_uuids = {"anyOf": [p.uuid, p.array(p.uuid, max_items=100)]}

scheduler_hints = p.obj(
    {
        "group": {"anyOf": [p.uuid, p.array(p.uuid)]},
        "same_host": _uuids,
        "different_host": _uuids,
        "build_near_host_ip": {"anyOf": [p.ipv4, p.ipv6]},
        "cidr": {"type": "string", "pattern": "^/[0-9a-f.:]+$"},
        "query": {"type": ["string", "object"]},
        "target_cell": p.string(1),
        "different_cell": {"anyOf": [p.string(1), p.array(p.string(1))]},
    },
    additional=True,
)

_device_name = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9._/-]*$"}
_legacy_bdm: p.Schema = {
    "virtual_name": {"type": "string", "maxLength": 255},
    "volume_id": p.uuid,
    "snapshot_id": p.string(1),
    "volume_size": p.integer(1),
    "device_name": _device_name,
    "delete_on_termination": p.boolean,
    "no_device": {},
    "connection_info": {"type": "string", "maxLength": 16777215},
}


def _bdm_v2(v: V) -> p.Schema:
    props: p.Schema = {
        **_legacy_bdm,
        "source_type": p.enum("volume", "image", "snapshot", "blank"),
        "uuid": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[a-zA-Z0-9._-]*$",
        },
        "image_id": p.string(1),
        "destination_type": p.enum("local", "volume"),
        "guest_format": {"type": "string", "maxLength": 255},
        "device_type": {"type": "string", "maxLength": 255},
        "disk_bus": {"type": "string", "maxLength": 255},
        "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
    }
    if v == (2, 32) or v >= (2, 42):
        props["tag"] = p.tag
    if v >= (2, 67):
        props["volume_type"] = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
    return p.obj(props)


_security_group = p.obj({"name": p.name})
_personality = p.array(p.obj({"path": p.string(1), "contents": {"type": "string"}}))
user_data = {"type": "string", "maxLength": 65535, "format": "base64"}
# Nova's parameter_types.hostname (2.90) and fqdn (2.74 host/node, hostname from 2.94)
hostname = {
    "type": "string",
    "pattern": "^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$",
    "minLength": 2,
    "maxLength": 63,
}
fqdn = {"type": "string", "pattern": "^[a-zA-Z0-9-._]*$", "minLength": 1, "maxLength": 255}
# 2.63: up to 50 distinct certificate ids; null (rebuild) resets them
trusted_certs = {
    "type": ["array", "null"],
    "minItems": 1,
    "maxItems": 50,
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1},
}
MAX_TAGS = 50


def _hostname(v: V) -> p.Schema:
    return fqdn if v >= (2, 94) else hostname


def _server_props(v: V) -> p.Schema:
    props: p.Schema = {
        "name": p.name,
        "imageRef": {"anyOf": [p.href_or_id, p.string(0, 0)]},
        "flavorRef": {"anyOf": [p.href_or_id, {"type": "integer", "minimum": 0}]},
        "adminPass": {"type": "string", "maxLength": 255},
        "metadata": p.metadata,
        "networks": _networks(v),
        "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
        "accessIPv4": p.ipv4,
        "accessIPv6": p.ipv6,
        "availability_zone": {"type": "string", "maxLength": 255, "format": "text"},
        "block_device_mapping": p.array(p.obj(_legacy_bdm)),
        "block_device_mapping_v2": p.array(_bdm_v2(v)),
        "config_drive": {"anyOf": [p.boolean, p.string(0, 0)]},
        "key_name": p.name,
        "min_count": p.positive_int,
        "max_count": p.positive_int,
        "return_reservation_id": p.boolean,
        "security_groups": p.array(_security_group),
        "user_data": user_data,
    }
    if v < (2, 57):
        props["personality"] = _personality
    if v >= (2, 19):
        props["description"] = p.nullable(p.description)
    if v >= (2, 52):
        props["tags"] = p.array(p.tag, max_items=MAX_TAGS)
    if v >= (2, 63):
        props["trusted_image_certificates"] = trusted_certs
    if v >= (2, 74):
        props["host"] = fqdn
        props["hypervisor_hostname"] = fqdn
    if v >= (2, 90):
        props["hostname"] = _hostname(v)
    return props


def _create(v: V) -> p.Schema:
    required = ("name", "flavorRef", "networks") if v >= (2, 37) else ("name", "flavorRef")
    server = p.obj(_server_props(v), required=required)
    return p.envelope(
        "server",
        server,
        {"os:scheduler_hints": scheduler_hints, "OS-SCH-HNT:scheduler_hints": scheduler_hints},
    )


def _by_version(build: Callable[[V], p.Schema], *versions: str) -> Versions:
    """One schema per microversion that changed it, each built by `build(version)`."""
    out: dict[str, p.Schema | None] = {}
    for text in versions:
        major, _, minor = text.partition(".")
        out[text] = build((int(major), int(minor)))
    return Versions(out)


create_server = _by_version(
    _create,
    *("2.1", "2.19", "2.32", "2.33", "2.37", "2.42", "2.52", "2.57", "2.63", "2.67", "2.74"),
    *("2.90", "2.94"),
)


def _update(v: V) -> p.Schema:
    props: p.Schema = {
        "name": p.name,
        "accessIPv4": p.ipv4,
        "accessIPv6": p.ipv6,
        "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
    }
    if v >= (2, 19):
        props["description"] = p.nullable(p.description)
    if v >= (2, 90):
        props["hostname"] = _hostname(v)
    return p.envelope("server", p.obj(props))


update_server = _by_version(_update, "2.1", "2.19", "2.90", "2.94")

# Nova's VALID_SORT_KEYS plus the keys it ignores rather than refuses
SERVER_SORT_KEYS = (
    "access_ip_v4",
    "access_ip_v6",
    "auto_disk_config",
    "availability_zone",
    "config_drive",
    "created_at",
    "display_description",
    "display_name",
    "host",
    "hostname",
    "image_ref",
    "instance_type_id",
    "kernel_id",
    "key_name",
    "launch_index",
    "launched_at",
    "locked_by",
    "node",
    "power_state",
    "progress",
    "project_id",
    "ramdisk_id",
    "root_device_name",
    "task_state",
    "terminated_at",
    "updated_at",
    "user_id",
    "uuid",
    "vm_state",
    "architecture",
    "cell_name",
    "cleaned",
    "default_ephemeral_device",
    "default_swap_device",
    "deleted",
    "deleted_at",
    "disable_terminate",
    "ephemeral_gb",
    "ephemeral_key_uuid",
    "id",
    "key_data",
    "launched_on",
    "locked",
    "memory_mb",
    "os_type",
    "reservation_id",
    "root_gb",
    "shutdown_terminate",
    "user_data",
    "vcpus",
    "vm_mode",
)

# Nova's index_query: filters it reads (values are regular expressions or exact matches, as
# the handler applies them) and the joined-table names it refuses later
_SERVER_FILTERS = (
    *("user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id"),
    *("ramdisk_id", "hostname", "key_name", "power_state", "vm_state", "task_state", "host"),
    *("node", "flavor", "reservation_id", "launched_at", "terminated_at", "availability_zone"),
    *("name", "display_name", "description", "display_description", "locked_by", "uuid"),
    *("root_device_name", "config_drive", "access_ip_v4", "access_ip_v6", "auto_disk_config"),
    *("progress", "all_tenants", "soft_deleted", "status", "ip", "ip6", "created_at"),
    *("block_device_mapping", "services", "metadata", "system_metadata", "info_cache"),
    *("security_groups", "pci_devices"),
)
# the sort keys Nova ignores (rather than refuses) before 2.75; `locked` sorts from 2.73
_IGNORED_SORT_KEYS = SERVER_SORT_KEYS[SERVER_SORT_KEYS.index("architecture") :]


def _list_servers(v: V) -> p.Schema:
    keys: tuple[str, ...] = SERVER_SORT_KEYS
    if v >= (2, 75):
        keys = (*(k for k in keys if k not in _IGNORED_SORT_KEYS), "locked")
    props: p.Schema = {
        **{name: {"type": "string"} for name in _SERVER_FILTERS},
        "sort_key": p.many(p.sort_key(*keys)),
        "sort_dir": p.many(p.sort_dir),
        "limit": p.limit,
        "marker": p.marker,
        "changes-since": p.iso8601,
        "deleted": p.query_bool,
        "tags": p.string(0, 1024),
        "tags-any": p.string(0, 1024),
        "not-tags": p.string(0, 1024),
        "not-tags-any": p.string(0, 1024),
    }
    if v >= (2, 66):
        props["changes-before"] = p.iso8601
    if v >= (2, 73):
        props["locked"] = p.query_bool
    schema = p.query(props, additional=v < (2, 75))
    schema["patternProperties"] = {"^_": {"type": "string"}}
    return schema


list_servers = _by_version(_list_servers, "2.1", "2.66", "2.73", "2.75")

# Nova's server tags (2.26): a full replacement list; the handler enforces the 50-tag limit
replace_tags = p.envelope("tags", p.array(p.tag))

# --- server actions --------------------------------------------------------------------------

# actions whose body Nova does not read: null or any object
_none = {"type": ["null", "object"]}


def _rebuild(v: V) -> p.Schema:
    props: p.Schema = {
        "imageRef": p.href_or_id,
        "name": p.name,
        "metadata": p.metadata,
        "adminPass": {"type": "string", "maxLength": 255},
        "accessIPv4": p.ipv4,
        "accessIPv6": p.ipv6,
        "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
        "preserve_ephemeral": p.boolean,
    }
    if v < (2, 57):
        props["personality"] = _personality
    else:
        props["user_data"] = {**user_data, "type": ["string", "null"]}
    if v >= (2, 19):
        props["description"] = p.nullable(p.description)
    if v >= (2, 54):
        props["key_name"] = p.nullable(p.name)
    if v >= (2, 63):
        props["trusted_image_certificates"] = trusted_certs
    if v >= (2, 90):
        props["hostname"] = _hostname(v)
    return p.obj(props, required=("imageRef",))


def _lock(v: V) -> p.Schema:
    if v < (2, 73):
        return {}
    reason = {"type": "string", "minLength": 1, "maxLength": 255}
    return {**p.obj({"locked_reason": reason}), "type": ["object", "null"]}


# the pre-2.6 console actions (Nova's get_vnc_console, ... schemas)
CONSOLE_ACTIONS: p.Schema = {
    action: p.obj({"type": p.enum(*types)}, required=("type",))
    for action, types in (
        ("os-getVNCConsole", ("novnc", "xvpvnc")),
        ("os-getSPICEConsole", ("spice-html5",)),
        ("os-getRDPConsole", ("rdp-html5",)),
        ("os-getSerialConsole", ("serial",)),
    )
}


def _remote_console(protocols: tuple[str, ...], types: tuple[str, ...]) -> p.Schema:
    inner = p.obj(
        {"protocol": p.enum(*protocols), "type": p.enum(*types)}, required=("protocol", "type")
    )
    return p.envelope("remote_console", inner)


_CONSOLE_PROTOCOLS = ("vnc", "spice", "rdp", "serial")
_CONSOLE_TYPES = ("novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial")
# POST /servers/{id}/remote-consoles: 2.6, and 2.8 adds the mks protocol and webmks type
create_remote_console = Versions(
    {
        "2.1": {"type": "object"},  # no such resource before 2.6: the handler's 404
        "2.6": _remote_console(_CONSOLE_PROTOCOLS, _CONSOLE_TYPES),
        "2.8": _remote_console((*_CONSOLE_PROTOCOLS, "mks"), (*_CONSOLE_TYPES, "webmks")),
    }
)


def _actions(v: V) -> p.Schema:
    actions: p.Schema = {
        **{
            name: _none
            for name in (
                "os-start",
                "os-stop",
                "pause",
                "unpause",
                "suspend",
                "resume",
                "confirmResize",
                "revertResize",
                "unlock",
            )
        },
        "lock": _lock(v),
        "reboot": p.obj(
            {"type": p.enum("HARD", "Hard", "hard", "SOFT", "Soft", "soft")}, required=("type",)
        ),
        "os-getConsoleOutput": p.obj(
            {
                "length": {
                    "anyOf": [{"type": "null"}, {"type": "integer", "minimum": -1}, p.query_int(-1)]
                }
            }
        ),
        "rebuild": _rebuild(v),
        "resize": p.obj(
            {
                "flavorRef": {"anyOf": [p.href_or_id, {"type": "integer", "minimum": 0}]},
                "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
            },
            required=("flavorRef",),
        ),
        "createImage": p.obj({"name": p.name, "metadata": p.metadata}, required=("name",)),
        "os-resetState": p.obj({"state": p.enum("active", "error")}, required=("state",)),
        "migrate": move_schemas.migrate(v),
        "os-migrateLive": move_schemas.migrate_live(v),
        "evacuate": move_schemas.evacuate(v),
        **CONSOLE_ACTIONS,
        **lifecycle_schemas.actions(v),
    }
    # one action per request; an unknown action is the handler's 400 ("no such action")
    return p.obj(actions, additional=True, minProperties=1, maxProperties=1)


server_action = _by_version(
    _actions,
    *("2.1", "2.14", "2.19", "2.25", "2.29", "2.30", "2.54", "2.56", "2.57", "2.63", "2.68"),
    *("2.73", "2.90", "2.94"),
    *lifecycle_schemas.VERSIONS,
)

# --- flavors ---------------------------------------------------------------------------------

_flavor_description = p.nullable({**p.description, "maxLength": 65535})


def _create_flavor(v: V) -> p.Schema:
    props: p.Schema = {
        "name": p.name,
        "id": p.flavor_id_or_number,
        "ram": p.positive_int,
        "vcpus": p.positive_int,
        "disk": p.non_negative_int,
        "OS-FLV-EXT-DATA:ephemeral": p.non_negative_int,
        "swap": {"anyOf": [p.non_negative_int, p.string(0, 0)]},
        "rxtx_factor": p.rxtx_factor,
        "os-flavor-access:is_public": p.boolean,
    }
    if v >= (2, 55):
        props["description"] = _flavor_description
    return p.envelope("flavor", p.obj(props, required=("name", "ram", "vcpus", "disk")))


create_flavor = _by_version(_create_flavor, "2.1", "2.55")
# 2.55: the description is the one field an update changes
update_flavor = Versions(
    {
        "2.55": p.envelope(
            "flavor", p.obj({"description": _flavor_description}, required=("description",))
        )
    }
)
_tenant = p.obj(
    {"tenant": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9-_]*$"}},
    required=("tenant",),
)
flavor_action = p.obj(
    {"addTenantAccess": _tenant, "removeTenantAccess": _tenant},
    minProperties=1,
    maxProperties=1,
)
_spec_value = {"type": ["string", "number"], "maxLength": 255}
_specs = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": _spec_value},
    "additionalProperties": False,
    "minProperties": 1,
}
create_extra_specs = p.envelope("extra_specs", _specs)
update_extra_spec = {**_specs, "maxProperties": 1}
list_flavors = p.query(
    {
        "sort_key": p.sort_key(
            "created_at",
            "description",
            "disabled",
            "ephemeral_gb",
            "flavorid",
            "id",
            "is_public",
            "memory_mb",
            "name",
            "root_gb",
            "rxtx_factor",
            "swap",
            "updated_at",
            "vcpu_weight",
            "vcpus",
            "ram",
        ),
        "sort_dir": p.sort_dir,
        "limit": p.limit,
        "marker": p.marker,
        "minRam": p.query_int(0),
        "minDisk": p.query_int(0),
        "is_public": {"type": "string", "maxLength": 16},
    }
)

# --- keypairs --------------------------------------------------------------------------------

_keypair_name = {**p.name, "pattern": "^[a-zA-Z0-9 _-]+$"}
# 2.92: '@' and '.' allowed too, and the public key is required (no generated keys)
_keypair_name_292 = {**p.name, "pattern": "^[a-zA-Z0-9 @._-]+$"}
_keypair_base: p.Schema = {"name": _keypair_name, "public_key": {"type": "string"}}
_keypair_210: p.Schema = {**_keypair_base, "type": p.enum("ssh", "x509"), "user_id": p.string(1)}
create_keypair = Versions(
    {
        "2.1": p.envelope("keypair", p.obj(_keypair_base, required=("name",))),
        "2.2": p.envelope(
            "keypair",
            p.obj({**_keypair_base, "type": p.enum("ssh", "x509")}, required=("name",)),
        ),
        "2.10": p.envelope("keypair", p.obj(_keypair_210, required=("name",))),
        "2.92": p.envelope(
            "keypair",
            p.obj({**_keypair_210, "name": _keypair_name_292}, required=("name", "public_key")),
        ),
    }
)
_keypair_page: p.Schema = {"user_id": p.string(1), "limit": p.limit, "marker": p.marker}
list_keypairs = Versions(
    {
        "2.1": p.query({}),
        "2.10": p.query({"user_id": p.string(1)}),
        "2.35": p.query(_keypair_page),
        "2.75": p.query(_keypair_page, additional=False),
    }
)
keypair_query = Versions(
    {
        "2.1": p.query({}),
        "2.10": p.query({"user_id": p.string(1)}),
        "2.75": p.query({"user_id": p.string(1)}, additional=False),
    }
)

# --- server metadata -------------------------------------------------------------------------

set_metadata = p.envelope("metadata", p.metadata)
set_meta_item = p.envelope("meta", {**p.metadata, "minProperties": 1, "maxProperties": 1})

# --- server groups ---------------------------------------------------------------------------

_group_name = p.name


def _group(policies: tuple[str, ...]) -> p.Schema:
    inner = p.obj(
        {
            "name": _group_name,
            "policies": {**p.array(p.enum(*policies)), "minItems": 1, "maxItems": 1},
        },
        required=("name", "policies"),
    )
    return p.envelope("server_group", inner)


_ALL_POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")
create_server_group = Versions(
    {
        "2.1": _group(("affinity", "anti-affinity")),
        "2.15": _group(_ALL_POLICIES),
        # 2.64: one `policy` (required) and optional `rules` instead of `policies`
        "2.64": p.envelope(
            "server_group",
            p.obj(
                {
                    "name": _group_name,
                    "policy": p.enum(*_ALL_POLICIES),
                    "rules": p.obj({"max_server_per_host": p.positive_int}),
                },
                required=("name", "policy"),
            ),
        ),
    }
)

# --- aggregates ------------------------------------------------------------------------------

_zone = p.nullable(p.name)
create_aggregate = p.envelope(
    "aggregate", p.obj({"name": p.name, "availability_zone": _zone}, required=("name",))
)
update_aggregate = p.envelope(
    "aggregate", p.obj({"name": p.name, "availability_zone": _zone}, minProperties=1)
)
_host = p.obj({"host": p.hostname}, required=("host",))
_agg_metadata = p.obj(
    {
        "metadata": {
            "type": "object",
            "patternProperties": {
                "^[a-zA-Z0-9-_:. ]{1,255}$": p.nullable({"type": "string", "maxLength": 255})
            },
            "additionalProperties": False,
        }
    },
    required=("metadata",),
)
aggregate_action = p.obj(
    {"add_host": _host, "remove_host": _host, "set_metadata": _agg_metadata},
    minProperties=1,
    maxProperties=1,
)

# --- quota sets ------------------------------------------------------------------------------

_QUOTAS = (
    "instances",
    "cores",
    "ram",
    "key_pairs",
    "metadata_items",
    "server_groups",
    "server_group_members",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
)
_LEGACY_QUOTAS = ("floating_ips", "fixed_ips", "security_groups", "security_group_rules")
_quota_value = p.integer(-1)


def _quota_set(keys: tuple[str, ...]) -> p.Schema:
    props = {key: _quota_value for key in keys}
    return p.envelope("quota_set", p.obj({**props, "force": p.boolean}))


_INJECTION = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
_QUOTAS_257 = tuple(q for q in _QUOTAS if q not in _INJECTION)


def _quota_class(keys: tuple[str, ...]) -> p.Schema:
    return p.envelope("quota_class_set", p.obj({key: _quota_value for key in keys}))


# Nova's quota class update: the quotas and the network ones before 2.50, then without the
# network ones, then (2.57) without the file-injection ones
update_quota_class_set = Versions(
    {
        "2.1": _quota_class(_QUOTAS + _LEGACY_QUOTAS),
        "2.50": _quota_class(_QUOTAS),
        "2.57": _quota_class(_QUOTAS_257),
    }
)
update_quota_set = Versions(
    {
        "2.1": _quota_set(_QUOTAS + _LEGACY_QUOTAS),
        "2.36": _quota_set(_QUOTAS),
        "2.57": _quota_set(_QUOTAS_257),
    }
)

# --- usage (os-simple-tenant-usage) ----------------------------------------------------------

_when = p.string(0, 64)
_usage_2_1 = {"start": _when, "end": _when}
list_usages = Versions(
    {
        "2.1": p.query({**_usage_2_1, "detailed": p.string(0, 16)}),
        "2.40": p.query(
            {**_usage_2_1, "detailed": p.string(0, 16), "limit": p.limit, "marker": p.marker}
        ),
    }
)
show_usage = Versions(
    {
        "2.1": p.query(_usage_2_1),
        "2.40": p.query({**_usage_2_1, "limit": p.limit, "marker": p.marker}),
    }
)

# --- hosts (os-hosts) ------------------------------------------------------------------------

list_hosts = p.query({"zone": p.string(0, 255)})

# --- migrations (os-migrations) --------------------------------------------------------------

_migration_filters: p.Schema = {
    "status": p.string(0, 255),
    "host": p.string(0, 255),
    "source_compute": p.string(0, 255),
    "instance_uuid": p.string(0, 36),
    "migration_type": p.string(0, 32),
    "hidden": p.string(0, 16),
}
_migration_paging: p.Schema = {**_migration_filters, "limit": p.limit, "marker": p.marker}
list_migrations = Versions(
    {
        "2.1": p.query(_migration_filters),
        "2.59": p.query({**_migration_paging, "changes-since": p.iso8601}, additional=False),
        "2.66": p.query(
            {**_migration_paging, "changes-since": p.iso8601, "changes-before": p.iso8601},
            additional=False,
        ),
        "2.80": p.query(
            {
                **_migration_paging,
                "changes-since": p.iso8601,
                "changes-before": p.iso8601,
                "user_id": p.string(0, 255),
                "project_id": p.string(0, 255),
            },
            additional=False,
        ),
    }
)

# --- services and external events (admin and service users) ----------------------------------

_service: p.Schema = {"host": p.hostname, "binary": p.string(1, 255, format="text")}
# the action routes (PUT /os-services/enable ...) until 2.53; from 2.53 the handler refuses
# their names as service uuids
enable_service = Versions({"2.1": p.obj(_service, required=("host", "binary")), "2.53": None})
disable_log_reason = Versions(
    {
        "2.1": p.obj(
            {**_service, "disabled_reason": p.string(1, 255, format="text")},
            required=("host", "binary"),
        ),
        "2.53": None,
    }
)
update_service = Versions(
    {
        "2.53": p.obj(
            {
                "status": p.enum("enabled", "disabled"),
                "disabled_reason": p.string(1, 255),
                "forced_down": p.boolean,
            }
        )
    }
)
# the force-down route exists from 2.11 on (404 below, from the handler)
force_down = Versions(
    {
        "2.11": p.obj(
            {**_service, "forced_down": p.strict_boolean},
            required=("host", "binary", "forced_down"),
        ),
        "2.53": None,
    }
)
EVENT_NAMES = (
    "network-changed",
    "network-vif-plugged",
    "network-vif-unplugged",
    "network-vif-deleted",
    "volume-extended",
    "power-update",
    "accelerator-request-bound",
    "volume-reimaged",
)
# the microversion each later event name arrived at (Nova's external events)
_EVENT_SINCE = {
    "volume-extended": (2, 51),
    "power-update": (2, 76),
    "accelerator-request-bound": (2, 82),
    "volume-reimaged": (2, 93),
}


def _events(v: V) -> p.Schema:
    names = [n for n in EVENT_NAMES if v >= _EVENT_SINCE.get(n, (2, 1))]
    event = p.obj(
        {
            "name": p.enum(*names),
            "server_uuid": p.uuid,
            "status": p.enum("failed", "completed", "in-progress"),
            "tag": p.string(0, 255, format="text"),
        },
        required=("name", "server_uuid"),
    )
    return p.envelope("events", {**p.array(event), "minItems": 1})


create_events = _by_version(_events, "2.1", "2.51", "2.76", "2.82", "2.93")

list_server_groups = p.query(
    {"all_projects": p.string(0, 255), "limit": p.query_int(1), "offset": p.query_int(0)}
)

# --- hypervisors -----------------------------------------------------------------------------

list_hypervisors = Versions(
    {
        "2.1": p.query({}),
        "2.33": p.query({"limit": p.limit, "marker": p.marker}),
        "2.53": p.query(
            {
                "limit": p.limit,
                "marker": p.marker,
                "hypervisor_hostname_pattern": fqdn,
                "with_servers": p.query_bool,
            },
            additional=False,
        ),
    }
)
show_hypervisor = Versions(
    {"2.1": p.query({}), "2.53": p.query({"with_servers": p.query_bool}, additional=False)}
)

# --- instance actions and migrations (paging from 2.58 / 2.59) -------------------------------

_changes: p.Schema = {"changes-since": p.iso8601}
_changes_266: p.Schema = {**_changes, "changes-before": p.iso8601}
list_instance_actions = Versions(
    {
        "2.1": p.query({}),
        "2.58": p.query({"limit": p.limit, "marker": p.marker, **_changes}, additional=False),
        "2.66": p.query({"limit": p.limit, "marker": p.marker, **_changes_266}, additional=False),
    }
)
