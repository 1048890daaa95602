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

from ministack.common import params as p
from ministack.common.validation import Versions

# --- servers ---------------------------------------------------------------------------------

_network = p.obj(
    {
        "uuid": p.uuid,
        "port": p.nullable(p.uuid),
        "fixed_ip": {"anyOf": [p.ipv4, p.ipv6]},
        "tag": p.tag,
    }
)
_networks_list = p.array(_network)
_networks_any = {"anyOf": [_networks_list, p.enum("auto", "none")]}
_uuids = {"anyOf": [p.uuid, p.array(p.uuid, max_items=100)]}

scheduler_hints = p.obj(
    {
        "group": p.uuid,
        "same_host": _uuids,
        "different_host": _uuids,
        "build_near_host_ip": p.ipv4,
        "cidr": {"type": "string", "pattern": "^/[0-9a-f.:]+$"},
        "query": {"type": ["string", "object"]},
        "target_cell": p.string(1),
        "different_cell": {"anyOf": [p.string(1), p.array(p.string(1))]},
    },
    additional=True,
)

_block_device = {"type": "object"}
_security_group = p.obj({"name": p.string(1)})
_personality = p.array(p.obj({"path": p.string(1), "contents": {"type": "string"}}))
user_data = {"type": "string", "maxLength": 65535, "format": "base64"}


def _server_props(description: bool) -> p.Schema:
    props: p.Schema = {
        "name": p.name,
        "imageRef": {"anyOf": [p.href_or_id, p.string(0, 0)]},
        "flavorRef": {"anyOf": [p.href_or_id, {"type": "integer", "minimum": 0}]},
        "adminPass": {"type": "string", "maxLength": 255},
        "metadata": p.metadata,
        "networks": _networks_any,
        "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
        "accessIPv4": p.ipv4,
        "accessIPv6": p.ipv6,
        "personality": _personality,
        "availability_zone": {"type": "string", "maxLength": 255, "format": "text"},
        "block_device_mapping": p.array(_block_device),
        "block_device_mapping_v2": p.array(_block_device),
        "config_drive": {"anyOf": [p.boolean, p.string(0, 0)]},
        "key_name": p.name,
        "min_count": p.positive_int,
        "max_count": p.positive_int,
        "return_reservation_id": p.boolean,
        "security_groups": p.array(_security_group),
        "user_data": user_data,
    }
    if description:
        props["description"] = p.nullable(p.description)
    return props


def _create(description: bool, networks_required: bool) -> p.Schema:
    required = ("name", "flavorRef", "networks") if networks_required else ("name", "flavorRef")
    server = p.obj(_server_props(description), required=required)
    return p.envelope(
        "server",
        server,
        {"os:scheduler_hints": scheduler_hints, "OS-SCH-HNT:scheduler_hints": scheduler_hints},
    )


create_server = Versions(
    {
        "2.1": _create(description=False, networks_required=False),
        "2.19": _create(description=True, networks_required=False),
        "2.37": _create(description=True, networks_required=True),
    }
)


def _update(description: bool) -> p.Schema:
    props: p.Schema = {
        "name": p.name,
        "accessIPv4": p.ipv4,
        "accessIPv6": p.ipv6,
        "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
    }
    if description:
        props["description"] = p.nullable(p.description)
    return p.envelope("server", p.obj(props))


update_server = Versions({"2.1": _update(False), "2.19": _update(True)})

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

list_servers = p.query(
    {
        "sort_key": p.many(p.sort_key(*SERVER_SORT_KEYS)),
        "sort_dir": p.many(p.sort_dir),
        "limit": p.limit,
        "marker": p.marker,
        "changes-since": p.iso8601,
        "changes-before": p.iso8601,
        "deleted": p.query_bool,
        "locked": p.query_bool,
        "tags": p.string(0, 1024),
        "tags-any": p.string(0, 1024),
        "not-tags": p.string(0, 1024),
        "not-tags-any": p.string(0, 1024),
    }
)

# Nova's server tags (2.26): a full replacement list; the handler enforces the 50-tag limit
replace_tags = p.envelope("tags", p.array(p.tag))

# --- server actions --------------------------------------------------------------------------

# actions whose body Nova does not read: null or any object
_none = {"type": ["null", "object"]}
_rebuild_props: p.Schema = {
    "imageRef": p.href_or_id,
    "name": p.name,
    "metadata": p.metadata,
    "adminPass": {"type": "string", "maxLength": 255},
    "accessIPv4": p.ipv4,
    "accessIPv6": p.ipv6,
    "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
    "personality": _personality,
    "preserve_ephemeral": p.strict_boolean,
}


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


def _actions(description: bool) -> p.Schema:
    rebuild = dict(_rebuild_props)
    if description:
        rebuild["description"] = p.nullable(p.description)
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
        "lock": _none,
        "reboot": p.obj({"type": p.enum("HARD", "SOFT", "hard", "soft")}, required=("type",)),
        "os-getConsoleOutput": p.obj(
            {"length": {"anyOf": [_none, {"type": "integer", "minimum": -1}, p.query_int(-1)]}}
        ),
        "rebuild": p.obj(rebuild, required=("imageRef",)),
        "resize": p.obj(
            {
                "flavorRef": {"anyOf": [p.href_or_id, {"type": "integer", "minimum": 0}]},
                "OS-DCF:diskConfig": p.enum("AUTO", "MANUAL"),
            },
            required=("flavorRef",),
        ),
        "createImage": p.obj({"name": p.name, "metadata": p.metadata}, required=("name",)),
        "os-resetState": p.obj({"state": p.enum("active", "error")}, required=("state",)),
        **CONSOLE_ACTIONS,
    }
    # one action per request; an unknown action is the handler's 400 ("no such action")
    return p.obj(actions, additional=True, minProperties=1, maxProperties=1)


server_action = Versions({"2.1": _actions(False), "2.19": _actions(True)})

# --- flavors ---------------------------------------------------------------------------------

create_flavor = p.envelope(
    "flavor",
    p.obj(
        {
            "name": p.name,
            "id": p.flavor_id_or_number,
            "ram": p.positive_int,
            "vcpus": p.positive_int,
            "disk": p.non_negative_int,
            "OS-FLV-EXT-DATA:ephemeral": p.non_negative_int,
            "swap": {"anyOf": [p.non_negative_int, p.string(0, 0)]},
            "rxtx_factor": p.rxtx_factor,
            "os-flavor-access:is_public": p.boolean,
        },
        required=("name", "ram", "vcpus", "disk"),
    ),
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

_keypair_name = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9 _-]+$"}
_keypair_base: p.Schema = {"name": _keypair_name, "public_key": {"type": "string"}}
create_keypair = Versions(
    {
        "2.1": p.envelope("keypair", p.obj(_keypair_base, required=("name",))),
        "2.2": p.envelope(
            "keypair",
            p.obj({**_keypair_base, "type": p.enum("ssh", "x509")}, required=("name",)),
        ),
        "2.10": p.envelope(
            "keypair",
            p.obj(
                {**_keypair_base, "type": p.enum("ssh", "x509"), "user_id": p.string(1)},
                required=("name",),
            ),
        ),
    }
)
list_keypairs = Versions(
    {
        "2.1": p.query({}),
        "2.10": p.query({"user_id": p.string(1)}),
        "2.35": p.query({"user_id": p.string(1), "limit": p.limit, "marker": p.marker}),
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


create_server_group = Versions(
    {
        "2.1": _group(("affinity", "anti-affinity")),
        "2.15": _group(("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")),
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


# Nova's quota class update before 2.50: the quotas and the network ones
update_quota_class_set = p.envelope(
    "quota_class_set", p.obj({key: _quota_value for key in _QUOTAS + _LEGACY_QUOTAS})
)
update_quota_set = Versions(
    {"2.1": _quota_set(_QUOTAS + _LEGACY_QUOTAS), "2.36": _quota_set(_QUOTAS)}
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

list_migrations = p.query(
    {
        "status": p.string(0, 255),
        "host": p.string(0, 255),
        "source_compute": p.string(0, 255),
        "instance_uuid": p.string(0, 36),
        "migration_type": p.string(0, 32),
    }
)

# --- services and external events (admin and service users) ----------------------------------

_service: p.Schema = {"host": p.hostname, "binary": p.string(1, 255, format="text")}
enable_service = p.obj(_service, required=("host", "binary"))
disable_log_reason = p.obj(
    {**_service, "disabled_reason": p.string(1, 255, format="text")}, required=("host", "binary")
)
# the force-down route exists from 2.11 on (404 below, from the handler)
force_down = Versions(
    {
        "2.11": p.obj(
            {**_service, "forced_down": p.strict_boolean},
            required=("host", "binary", "forced_down"),
        )
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
_event = p.obj(
    {
        "name": p.enum(*EVENT_NAMES),
        "server_uuid": p.uuid,
        "status": p.enum("failed", "completed", "in-progress"),
        "tag": p.string(0, 255, format="text"),
    },
    required=("name", "server_uuid"),
)
create_events = p.envelope("events", {**p.array(_event), "minItems": 1})

list_server_groups = p.query(
    {"all_projects": p.string(0, 255), "limit": p.query_int(1), "offset": p.query_int(0)}
)
