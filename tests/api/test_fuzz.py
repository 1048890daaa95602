"""Fuzzing every create, update and action endpoint of every service against one running cloud.

Hypothesis throws generated JSON bodies (random values, and objects shaped like the real
request with hostile values in its fields) and generated query strings at each endpoint as
admin. The promises (PROMISES 12-13): never a 5xx, and after every 4xx no table has a new row
and the image store has no new file. A 2xx is allowed (a random body can be valid); after one
on an endpoint that works asynchronously the test waits for the cloud to settle first.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.api.rows import grown, row_counts, store_files
from tests.cloud import running_cloud

EXAMPLES = 15  # per endpoint: about 600 requests in all, about a minute on a busy machine

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\nb",
    "\u202eevil",
    "../../x",
    "999.1.1.1",
    "zzzz",
    "inf",
    "-1",
    "0",
    "1e999",
    "true",
    "maybe",
    "x" * 300,
    "auto",
    "none",
    "SOFT",
    "HARD",
    "gte:notadate",
    "00000000-0000-4000-8000-000000000000",
    "2026-01-01T00:00:00Z",
]
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)
query_values = st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE))


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: where it is, the shapes of its body (envelope key or None, field
    names), the query parameters it knows, and whether a 2xx starts asynchronous work."""

    service: str
    method: str
    path: str
    shapes: tuple[tuple[str | None, tuple[str, ...]], ...] = ()
    params: tuple[str, ...] = ()
    content_type: str = "application/json"
    settles: bool = False
    patch: bool = False
    version: str = "2.38"
    valid: tuple[Any, ...] = ()  # bodies that succeed; mutants of them probe each field

    @property
    def name(self) -> str:
        return f"{self.service}:{self.method}:{self.path}"


NETWORK_FIELDS = (
    "name",
    "shared",
    "mtu",
    "router:external",
    "provider:network_type",
    "provider:segmentation_id",
    "admin_state_up",
)
SUBNET_FIELDS = (
    "network_id",
    "cidr",
    "ip_version",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "subnetpool_id",
    "prefixlen",
    "use_default_subnetpool",
)
SUBNETPOOL_FIELDS = (
    "name",
    "prefixes",
    "default_prefixlen",
    "min_prefixlen",
    "max_prefixlen",
    "default_quota",
    "shared",
    "is_default",
    "address_scope_id",
)
PORT_FIELDS = (
    "network_id",
    "fixed_ips",
    "mac_address",
    "device_owner",
    "allowed_address_pairs",
    "security_groups",
    "port_security_enabled",
    "binding:host_id",
)
RULE_FIELDS = (
    "security_group_id",
    "direction",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "ethertype",
)
ROUTER_FIELDS = ("name", "external_gateway_info", "routes", "distributed")
FIP_FIELDS = ("floating_network_id", "port_id", "floating_ip_address", "subnet_id")
NETWORK_QUERY = ("fixed_ips", "sort_key", "sort_dir", "limit", "marker", "fields", "tags", "x")
SERVER_FIELDS = (
    "name",
    "imageRef",
    "flavorRef",
    "networks",
    "metadata",
    "accessIPv4",
    "accessIPv6",
    "config_drive",
    "description",
    "min_count",
    "max_count",
    "user_data",
    "key_name",
    "availability_zone",
    "security_groups",
    "colour",
)
ACTIONS = (
    "reboot",
    "os-stop",
    "os-start",
    "pause",
    "lock",
    "unlock",
    "resize",
    "rebuild",
    "createImage",
    "os-getConsoleOutput",
    "os-getVNCConsole",
    "os-getSerialConsole",
    "confirmResize",
    "migrate",
    "os-migrateLive",
    "evacuate",
    "noSuchAction",
)
ACTION_FIELDS = (
    *("type", "flavorRef", "imageRef", "name", "metadata", "length", "adminPass"),
    *("host", "block_migration", "force", "onSharedStorage"),
)
FLAVOR_FIELDS = (
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
    "OS-FLV-EXT-DATA:ephemeral",
)
IMAGE_FIELDS = (
    "name",
    "visibility",
    "disk_format",
    "container_format",
    "min_ram",
    "min_disk",
    "protected",
    "tags",
    "id",
    "status",
    "os_glance_x",
    "custom",
)

VOLUME_FIELDS = (
    "size",
    "name",
    "description",
    "volume_type",
    "imageRef",
    "snapshot_id",
    "source_volid",
    "metadata",
    "availability_zone",
    "multiattach",
)
VOLUME_ACTIONS = (
    "os-extend",
    "os-set_bootable",
    "os-update_readonly_flag",
    "os-reset_status",
    "os-set_image_metadata",
    "os-unset_image_metadata",
    "os-reserve",
    "os-unreserve",
    "os-noSuchAction",
)
VOLUME_ACTION_FIELDS = ("new_size", "bootable", "readonly", "status", "metadata", "key")
LISTING_PARAMS = (
    "prefix",
    "delimiter",
    "marker",
    "end_marker",
    "limit",
    "reverse",
    "format",
    "path",
)

ENDPOINTS = [
    # compute
    Endpoint(
        "compute",
        "POST",
        "/v2.1/servers",
        (("server", SERVER_FIELDS),),
        ("sort_key", "limit"),
        settles=True,
        valid=(
            {
                "server": {
                    "name": "fz",
                    "imageRef": "{public_image}",
                    "flavorRef": "{flavor}",
                    "networks": "none",
                }
            },
        ),
    ),
    Endpoint(
        "compute",
        "PUT",
        "/v2.1/servers/{server}",
        (("server", ("name", "description", "accessIPv4", "accessIPv6", "x")),),
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/servers/{server}/action",
        tuple((a, ACTION_FIELDS) for a in ACTIONS),
        settles=True,
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/servers/{server}/migrations/1/action",
        (("force_complete", ()),),
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/servers/{server}/remote-consoles",
        (("remote_console", ("protocol", "type")),),
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/servers/{server}/os-volume_attachments",
        (("volumeAttachment", ("volumeId", "device", "tag", "delete_on_termination")),),
        settles=True,
    ),
    Endpoint(
        "compute",
        "PUT",
        "/v2.1/servers/{server}/os-volume_attachments/{volume}",
        (("volumeAttachment", ("volumeId", "delete_on_termination", "device")),),
    ),
    Endpoint("compute", "POST", "/v2.1/servers/{server}/metadata", (("metadata", ("k", "")),)),
    Endpoint("compute", "PUT", "/v2.1/servers/{server}/metadata/k", (("meta", ("k", "j")),)),
    Endpoint("compute", "POST", "/v2.1/flavors", (("flavor", FLAVOR_FIELDS),)),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/flavors/{flavor}/action",
        (("addTenantAccess", ("tenant",)), ("removeTenantAccess", ("tenant",))),
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/flavors/{flavor}/os-extra_specs",
        (("extra_specs", ("hw:cpu_policy", "a/b")),),
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/flavors/{flavor}/os-extra_specs",
        (("extra_specs", ("hw:cpu_policy", "hw:numa_nodes", "trait:CUSTOM_X", "resources:VCPU")),),
        version="2.86",
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/images/{image}/metadata",
        (("metadata", ("k", "")),),
        version="2.35",
    ),
    Endpoint(
        "compute",
        "PUT",
        "/v2.1/images/{image}/metadata/k",
        (("meta", ("k", "j")),),
        version="2.35",
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/os-keypairs",
        (("keypair", ("name", "public_key", "type", "user_id")),),
    ),
    Endpoint(
        "compute", "POST", "/v2.1/os-server-groups", (("server_group", ("name", "policies")),)
    ),
    Endpoint(
        "compute", "POST", "/v2.1/os-aggregates", (("aggregate", ("name", "availability_zone")),)
    ),
    Endpoint(
        "compute",
        "PUT",
        "/v2.1/os-aggregates/{aggregate}",
        (("aggregate", ("name", "availability_zone")),),
    ),
    Endpoint(
        "compute",
        "POST",
        "/v2.1/os-aggregates/{aggregate}/action",
        (("add_host", ("host",)), ("set_metadata", ("metadata",))),
    ),
    Endpoint(
        "compute",
        "PUT",
        "/v2.1/os-quota-sets/{project}",
        (("quota_set", ("instances", "cores", "ram", "bogus", "force")),),
    ),
    Endpoint(
        "compute",
        "PUT",
        "/v2.1/os-services/disable",
        ((None, ("host", "binary", "disabled_reason")),),
    ),
    Endpoint("compute", "POST", "/v2.1/os-server-external-events", (("events", ()),)),
    Endpoint(
        "compute",
        "GET",
        "/v2.1/servers/detail",
        (),
        ("sort_key", "sort_dir", "limit", "marker", "changes-since", "status", "name"),
    ),
    Endpoint("compute", "GET", "/v2.1/os-keypairs", (), ("limit", "marker", "user_id")),
    Endpoint("compute", "GET", "/v2.1/os-server-groups", (), ("limit", "offset", "all_projects")),
    Endpoint("compute", "GET", "/v2.1/flavors/detail", (), ("sort_key", "minRam", "is_public")),
    # image
    Endpoint("image", "POST", "/v2/images", ((None, IMAGE_FIELDS),)),
    Endpoint(
        "image",
        "PATCH",
        "/v2/images/{image}",
        patch=True,
        content_type="application/openstack-images-v2.1-json-patch",
    ),
    Endpoint("image", "POST", "/v2/images/{image}/members", ((None, ("member", "status")),)),
    Endpoint(
        "image", "PUT", "/v2/images/{image}/members/{project}", ((None, ("status", "member")),)
    ),
    Endpoint("image", "POST", "/v2/images/{image}/import", ((None, ("method", "stores")),)),
    Endpoint(
        "image",
        "GET",
        "/v2/images",
        (),
        (
            "limit",
            "marker",
            "sort_key",
            "sort_dir",
            "created_at",
            "size_min",
            "visibility",
            "protected",
        ),
    ),
    Endpoint(
        "image",
        "POST",
        "/v2/metadefs/namespaces",
        ((None, ("namespace", "visibility", "protected", "properties", "objects", "tags")),),
    ),
    Endpoint(
        "image",
        "GET",
        "/v2/metadefs/namespaces",
        (),
        ("limit", "marker", "sort_key", "sort_dir", "visibility", "resource_types"),
    ),
    Endpoint(
        "image",
        "POST",
        "/v2/metadefs/namespaces/{metadef}/properties",
        ((None, ("name", "title", "type", "enum", "minimum", "items")),),
    ),
    Endpoint(
        "image",
        "POST",
        "/v2/metadefs/namespaces/{metadef}/objects",
        ((None, ("name", "description", "required", "properties")),),
    ),
    Endpoint("image", "POST", "/v2/metadefs/namespaces/{metadef}/tags", ((None, ("tags",)),)),
    Endpoint(
        "image",
        "POST",
        "/v2/metadefs/namespaces/{metadef}/resource_types",
        ((None, ("name", "prefix", "properties_target")),),
    ),
    # identity
    Endpoint("identity", "POST", "/v3/auth/tokens", (("auth", ("identity", "scope")),)),
    Endpoint(
        "identity",
        "POST",
        "/v3/projects",
        (("project", ("name", "domain_id", "enabled", "tags", "parent_id")),),
    ),
    Endpoint(
        "identity",
        "PATCH",
        "/v3/projects/{project}",
        (("project", ("name", "enabled", "description", "domain_id")),),
    ),
    Endpoint(
        "identity",
        "POST",
        "/v3/users",
        (("user", ("name", "password", "enabled", "domain_id", "default_project_id")),),
    ),
    Endpoint(
        "identity",
        "PATCH",
        "/v3/users/{user}",
        (("user", ("name", "enabled", "default_project_id")),),
    ),
    Endpoint(
        "identity",
        "POST",
        "/v3/users/{user}/password",
        (("user", ("password", "original_password")),),
    ),
    Endpoint(
        "identity",
        "POST",
        "/v3/users/{admin}/application_credentials",
        (("application_credential", ("name", "secret", "roles", "expires_at")),),
    ),
    Endpoint("identity", "POST", "/v3/groups", (("group", ("name", "domain_id")),)),
    Endpoint("identity", "POST", "/v3/roles", (("role", ("name",)),)),
    Endpoint("identity", "POST", "/v3/domains", (("domain", ("name", "enabled")),)),
    Endpoint("identity", "POST", "/v3/regions", (("region", ("id", "parent_region_id")),)),
    Endpoint("identity", "POST", "/v3/services", (("service", ("type", "name", "enabled")),)),
    Endpoint(
        "identity",
        "POST",
        "/v3/endpoints",
        (("endpoint", ("service_id", "interface", "url", "region_id")),),
    ),
    Endpoint(
        "identity",
        "POST",
        "/v3/OS-TRUST/trusts",
        (
            (
                "trust",
                (
                    "trustor_user_id",
                    "trustee_user_id",
                    "impersonation",
                    "project_id",
                    "roles",
                    "expires_at",
                    "remaining_uses",
                    "allow_redelegation",
                    "redelegation_count",
                ),
            ),
        ),
        valid=(
            {
                "trust": {
                    "trustor_user_id": "{admin}",
                    "trustee_user_id": "{user}",
                    "impersonation": False,
                    "project_id": "{admin_project}",
                    "roles": [{"name": "member"}],
                }
            },
        ),
    ),
    Endpoint(
        "identity",
        "POST",
        "/v3/OS-EP-FILTER/endpoint_groups",
        (("endpoint_group", ("name", "filters", "description")),),
        valid=({"endpoint_group": {"name": "fz", "filters": {"interface": "public"}}},),
    ),
    Endpoint(
        "identity",
        "PUT",
        "/v3/domains/default/config",
        (("config", ("identity", "ldap")),),
        valid=({"config": {"ldap": {"url": "ldap://fz.example"}}},),
    ),
    Endpoint("identity", "GET", "/v3/projects", (), ("limit", "marker", "enabled", "name")),
    Endpoint("identity", "GET", "/v3/users", (), ("name", "enabled", "domain_id", "limit")),
    Endpoint(
        "identity",
        "GET",
        "/v3/role_assignments",
        (),
        ("effective", "include_names", "user.id", "scope.project.id", "role.id"),
    ),
    Endpoint(
        "compute",
        "GET",
        "/v2.1/os-hypervisors/detail",
        (),
        ("limit", "marker", "hypervisor_hostname_pattern", "with_servers"),
    ),
    Endpoint("compute", "GET", "/v2.1/os-services", (), ("host", "binary")),
    Endpoint("compute", "GET", "/v2.1/limits", (), ("tenant_id", "reserved")),
    Endpoint(
        "compute",
        "GET",
        "/v2.1/servers/{server}/os-instance-actions",
        (),
        ("limit", "marker", "changes-since", "changes-before"),
    ),
    Endpoint("compute", "GET", "/v2.1/os-availability-zone/detail", (), ("x",)),
    Endpoint("image", "GET", "/v2/images/{image}/members", (), ("x",)),
    # network
    Endpoint("network", "POST", "/v2.0/networks", (("network", NETWORK_FIELDS),)),
    Endpoint("network", "PUT", "/v2.0/networks/{network}", (("network", NETWORK_FIELDS),)),
    Endpoint("network", "POST", "/v2.0/subnets", (("subnet", SUBNET_FIELDS),)),
    Endpoint("network", "PUT", "/v2.0/subnets/{subnet}", (("subnet", SUBNET_FIELDS),)),
    Endpoint("network", "POST", "/v2.0/subnetpools", (("subnetpool", SUBNETPOOL_FIELDS),)),
    Endpoint("network", "POST", "/v2.0/ports", (("port", PORT_FIELDS),)),
    Endpoint("network", "PUT", "/v2.0/ports/{port}", (("port", PORT_FIELDS),)),
    Endpoint("network", "PUT", "/v2.0/networks/{network}/tags", ((None, ("tags",)),)),
    Endpoint(
        "network", "POST", "/v2.0/security-groups", (("security_group", ("name", "stateful")),)
    ),
    Endpoint(
        "network", "POST", "/v2.0/security-group-rules", (("security_group_rule", RULE_FIELDS),)
    ),
    Endpoint("network", "POST", "/v2.0/routers", (("router", ROUTER_FIELDS),)),
    Endpoint(
        "network",
        "PUT",
        "/v2.0/routers/{router}/add_router_interface",
        ((None, ("subnet_id", "port_id")),),
    ),
    Endpoint("network", "POST", "/v2.0/floatingips", (("floatingip", FIP_FIELDS),)),
    Endpoint("network", "PUT", "/v2.0/quotas/{project}", (("quota", ("network", "port")),)),
    Endpoint("network", "GET", "/v2.0/ports", (), NETWORK_QUERY),
    Endpoint("network", "GET", "/v2.0/security-groups", (), NETWORK_QUERY),
    # object storage: listings with every parameter, and an upload (a manifest when the query
    # says multipart-manifest=put) of generated JSON
    Endpoint("object", "GET", "/v1/AUTH_{admin_project}/fuzz", (), LISTING_PARAMS),
    Endpoint("object", "GET", "/v1/AUTH_{admin_project}", (), LISTING_PARAMS),
    Endpoint(
        "object",
        "PUT",
        "/v1/AUTH_{admin_project}/fuzz/manifest",
        (),
        ("multipart-manifest", "format"),
    ),
    # placement
    Endpoint("placement", "GET", "/resource_providers", (), ("name", "uuid", "member_of")),
    Endpoint("placement", "GET", "/usages", (), ("project_id", "user_id")),
    # volume
    Endpoint(
        "volume",
        "POST",
        "/v3/{admin_project}/volumes",
        (("volume", VOLUME_FIELDS),),
        settles=True,
        version="3.71",
        valid=({"volume": {"size": 1, "name": "fz", "metadata": {"k": "v"}}},),
    ),
    Endpoint(
        "volume",
        "PUT",
        "/v3/{admin_project}/volumes/{volume}",
        (("volume", ("name", "description", "metadata", "size")),),
        version="3.71",
        valid=({"volume": {"name": "fz2"}},),
    ),
    Endpoint(
        "volume",
        "POST",
        "/v3/{admin_project}/volumes/{volume}/action",
        tuple((a, VOLUME_ACTION_FIELDS) for a in VOLUME_ACTIONS),
        settles=True,
        version="3.71",
        valid=(
            {"os-set_bootable": {"bootable": True}},
            {"os-update_readonly_flag": {"readonly": False}},
            {"os-set_image_metadata": {"metadata": {"k": "v"}}},
        ),
    ),
    Endpoint(
        "volume",
        "POST",
        "/v3/{admin_project}/snapshots",
        (("snapshot", ("volume_id", "name", "force", "metadata")),),
        settles=True,
        version="3.71",
    ),
    Endpoint(
        "volume",
        "POST",
        "/v3/{admin_project}/types",
        (("volume_type", ("name", "description", "extra_specs", "is_public")),),
        version="3.71",
        valid=({"volume_type": {"name": "fz", "extra_specs": {"k": "v"}}},),
    ),
    Endpoint(
        "volume",
        "PUT",
        "/v3/{admin_project}/os-quota-sets/{project}",
        (("quota_set", ("volumes", "gigabytes", "snapshots", "bogus")),),
        version="3.71",
        valid=({"quota_set": {"volumes": 5}},),
    ),
    Endpoint(
        "volume",
        "POST",
        "/v3/{admin_project}/attachments",
        (("attachment", ("volume_uuid", "instance_uuid", "connector", "mode")),),
        version="3.71",
    ),
    Endpoint(
        "volume",
        "POST",
        "/v3/{admin_project}/volume-transfers",
        (("transfer", ("volume_id", "name", "no_snapshots")),),
        version="3.71",
    ),
    Endpoint(
        "volume",
        "GET",
        "/v3/{admin_project}/volumes/detail",
        (),
        (
            "limit",
            "marker",
            "sort",
            "sort_key",
            "sort_dir",
            "name",
            "status",
            "metadata",
            "all_tenants",
            "with_count",
            "created_at",
        ),
        version="3.71",
    ),
]


# Bodies that succeed, by "METHOD path"; their mutants (one field replaced, dropped or an
# unknown one added) reach past the schema into the handlers. {names} are filled in per cloud.
VALID: dict[str, tuple[Any, ...]] = {
    "POST /v2.1/servers/{server}/action": (
        {"reboot": {"type": "SOFT"}},
        {"createImage": {"name": "fz-snap", "metadata": {"k": "v"}}},
        {"os-getConsoleOutput": {"length": 5}},
        {"lock": None},
        {"unlock": None},
    ),
    "PUT /v2.1/servers/{server}": ({"server": {"name": "fz", "accessIPv4": "192.0.2.1"}},),
    "POST /v2.1/servers/{server}/metadata": ({"metadata": {"k": "v"}},),
    "POST /v2.1/flavors": ({"flavor": {"name": "fz", "ram": 64, "vcpus": 1, "disk": 1}},),
    "POST /v2.1/flavors/{flavor}/os-extra_specs": ({"extra_specs": {"hw:cpu_policy": "shared"}},),
    "POST /v2.1/os-keypairs": ({"keypair": {"name": "fz"}},),
    "POST /v2.1/os-server-groups": ({"server_group": {"name": "fz", "policies": ["affinity"]}},),
    "POST /v2.1/os-aggregates": ({"aggregate": {"name": "fz", "availability_zone": "fz"}},),
    "PUT /v2.1/os-aggregates/{aggregate}": ({"aggregate": {"name": "fz2"}},),
    "POST /v2.1/os-aggregates/{aggregate}/action": ({"set_metadata": {"metadata": {"k": "v"}}},),
    "PUT /v2.1/os-quota-sets/{project}": ({"quota_set": {"instances": 5, "cores": 4}},),
    "POST /v2/images": ({"name": "fz", "disk_format": "raw", "container_format": "bare"},),
    "POST /v2/images/{image}/members": ({"member": "{admin_project}"},),
    "POST /v2/metadefs/namespaces": (
        {"namespace": "FZ::made", "properties": {"p": {"title": "P", "type": "string"}}},
    ),
    "POST /v2/metadefs/namespaces/{metadef}/properties": (
        {"name": "fz", "title": "Fz", "type": "string", "enum": ["a"]},
    ),
    "POST /v2/metadefs/namespaces/{metadef}/objects": (
        {"name": "fz", "properties": {"a": {"title": "A", "type": "integer"}}},
    ),
    "POST /v2/metadefs/namespaces/{metadef}/tags": ({"tags": [{"name": "fz"}]},),
    "POST /v2/metadefs/namespaces/{metadef}/resource_types": (
        {"name": "OS::Nova::Flavor", "prefix": "fz:"},
    ),
    "PUT /v2/images/{image}/members/{project}": ({"status": "accepted"},),
    "POST /v3/projects": ({"project": {"name": "fz", "tags": ["a"]}},),
    "PATCH /v3/projects/{project}": ({"project": {"description": "d"}},),
    "POST /v3/users": ({"user": {"name": "fz", "password": "pw"}},),
    "PATCH /v3/users/{user}": ({"user": {"enabled": True}},),
    "POST /v3/groups": ({"group": {"name": "fz"}},),
    "POST /v3/roles": ({"role": {"name": "fz"}},),
    "POST /v3/regions": ({"region": {"id": "fz"}},),
    "POST /v3/services": ({"service": {"type": "fz", "name": "fz"}},),
    "POST /v2.0/networks": ({"network": {"name": "fz"}},),
    "PUT /v2.0/networks/{network}": ({"network": {"name": "fz", "mtu": 1400}},),
    "POST /v2.0/subnets": (
        {"subnet": {"network_id": "{network}", "cidr": "10.99.1.0/24", "ip_version": 4}},
    ),
    "PUT /v2.0/subnets/{subnet}": ({"subnet": {"dns_nameservers": ["10.99.0.53"]}},),
    "POST /v2.0/subnetpools": (
        {"subnetpool": {"name": "fz", "prefixes": ["10.98.0.0/16"], "default_prefixlen": 24}},
    ),
    "POST /v2.0/ports": (
        {"port": {"network_id": "{network}", "fixed_ips": [{"subnet_id": "{subnet}"}]}},
    ),
    "PUT /v2.0/ports/{port}": ({"port": {"name": "fz", "allowed_address_pairs": []}},),
    "PUT /v2.0/networks/{network}/tags": ({"tags": ["a", "b"]},),
    "POST /v2.0/security-group-rules": (
        {
            "security_group_rule": {
                "security_group_id": "{secgroup}",
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 80,
                "port_range_max": 80,
            }
        },
    ),
    "POST /v2.0/routers": ({"router": {"name": "fz"}},),
    "PUT /v2.0/routers/{router}/add_router_interface": ({"subnet_id": "{subnet}"},),
    "POST /v2.0/floatingips": ({"floatingip": {"floating_network_id": "{external}"}},),
    "PUT /v2.0/quotas/{project}": ({"quota": {"network": 50}},),
}
DROP = object()


def _mutate(valid: Any, key: str, value: Any) -> Any:
    """`valid` with one field of its (enveloped) object replaced, or dropped for DROP."""
    body = json.loads(json.dumps(valid))
    envelope = (
        next(iter(body)) if len(body) == 1 and isinstance(next(iter(body.values())), dict) else None
    )
    target = body[envelope] if envelope is not None else body
    if value is DROP:
        target.pop(key, None)
    else:
        target[key] = value
    return body


def mutants(valid: Any) -> st.SearchStrategy[Any]:
    envelope = next(iter(valid)) if len(valid) == 1 else None
    inner = valid[envelope] if envelope is not None and isinstance(valid[envelope], dict) else valid
    keys = st.sampled_from([*inner, "unknownField"])
    values = st.one_of(json_values, st.just(DROP))
    return st.builds(lambda k, v: _mutate(valid, k, v), keys, values)


def bodies(endpoint: Endpoint) -> st.SearchStrategy[Any]:
    """Random JSON, or the request's own shape with hostile values in its fields."""
    if endpoint.patch:
        op = st.fixed_dictionaries(
            {
                "op": st.sampled_from(["add", "replace", "remove", "move", "x"]),
                "path": st.sampled_from(
                    [
                        "/name",
                        "/visibility",
                        "/min_ram",
                        "/tags",
                        "/x",
                        "/id",
                        "/status",
                        "name",
                        "",
                        "/locations",
                    ]
                ),
            },
            optional={"value": json_values},
        )
        return st.one_of(json_values, st.lists(op, max_size=3))
    shaped = []
    for envelope, names in endpoint.shapes:
        inner = st.fixed_dictionaries({}, optional={n: json_values for n in names})
        shaped.append(inner if envelope is None else st.fixed_dictionaries({envelope: inner}))
    good = VALID.get(f"{endpoint.method} {endpoint.path}", ()) + endpoint.valid
    near = [mutants(v) for v in good]
    if not shaped and not near:
        return st.none()
    return st.one_of(json_values, *shaped, *near, st.sampled_from(good) if good else st.nothing())


def queries(endpoint: Endpoint) -> st.SearchStrategy[dict[str, str]]:
    names = st.sampled_from((*endpoint.params, "zz", "limit", "sort_key"))
    return st.dictionaries(names, query_values, max_size=4)


@dataclass
class FuzzCloud:
    compute: Compute
    ids: dict[str, str]
    http: httpx.Client

    @property
    def token(self) -> str:
        token: str = self.compute.conn.auth_token
        return token

    def url(self, endpoint: Endpoint) -> str:
        path = endpoint.path
        for key, value in self.ids.items():
            path = path.replace("{" + key + "}", value)
        return self.compute.cloud.url(endpoint.service) + path


def _wait_active(compute: Compute, server_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        server = compute.conn.compute.get_server(server_id)
        if server.status == "ACTIVE":
            return
        time.sleep(0.2)
    raise AssertionError(f"server {server_id} never became ACTIVE")


@pytest.fixture(scope="module")
def fuzz_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzCloud]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with running_cloud(
        tmp, services=(*SERVICES, "volume", "network", "object"), extra_env=FAKE_ENV
    ) as cloud:
        compute = prepare(cloud)
        conn = compute.conn
        server = conn.compute.create_server(
            name="fuzz-target",
            image_id=compute.image_id,
            flavor_id=compute.flavor_id,
            networks="none",
        )
        _wait_active(compute, server.id)
        project = conn.identity.create_project(name=f"fuzz-{uuid.uuid4().hex[:6]}")
        user = conn.identity.create_user(name=f"fuzz-{uuid.uuid4().hex[:6]}", password="pw")
        image = conn.image.create_image(name="fuzz-shared", visibility="shared")
        conn.image.add_member(image.id, member=project.id)
        aggregate = conn.compute.create_aggregate(name="fuzz-agg")
        conn.image.create_metadef_namespace(namespace="FZ::target", visibility="public")
        volume = conn.block_storage.create_volume(size=1, name="fuzz-volume")
        ids = {
            **_network_targets(cloud.url("network"), conn.auth_token),
            "server": server.id,
            "flavor": compute.flavor_id,
            "project": project.id,
            "user": user.id,
            "admin": conn.current_user_id,
            "image": image.id,
            "aggregate": str(aggregate.id),
            "metadef": "FZ::target",
            "public_image": compute.image_id,
            "admin_project": conn.current_project_id,
            "volume": volume.id,
        }
        with httpx.Client(timeout=60) as http:
            container = f"{cloud.url('object')}/v1/AUTH_{conn.current_project_id}/fuzz"
            headers = {"X-Auth-Token": conn.auth_token}
            assert http.put(container, headers=headers).status_code == 201
            assert http.put(f"{container}/seg", content=b"x", headers=headers).status_code == 201
            yield FuzzCloud(compute=compute, ids=ids, http=http)


def _network_targets(url: str, token: str) -> dict[str, str]:
    """A network with a subnet and a port, a security group, a router and an external
    network with a subnet, for the network endpoints' paths and valid bodies."""
    with httpx.Client(base_url=url, headers={"X-Auth-Token": token}, timeout=60) as c:

        def made(path: str, key: str, body: dict[str, Any]) -> str:
            resp = c.post(path, json={key: body})
            assert resp.status_code == 201, resp.text
            return str(resp.json()[key]["id"])

        network = made("/v2.0/networks", "network", {"name": "fz-net"})
        subnet = made(
            "/v2.0/subnets",
            "subnet",
            {"network_id": network, "cidr": "10.98.0.0/24", "ip_version": 4},
        )
        external = made(
            "/v2.0/networks",
            "network",
            {"name": "fz-ext", "router:external": True, "provider:network_type": "local"},
        )
        made(
            "/v2.0/subnets",
            "subnet",
            {"network_id": external, "cidr": "172.30.0.0/24", "ip_version": 4},
        )
        return {
            "network": network,
            "subnet": subnet,
            "external": external,
            "port": made("/v2.0/ports", "port", {"network_id": network}),
            "secgroup": made("/v2.0/security-groups", "security_group", {"name": "fz"}),
            "router": made("/v2.0/routers", "router", {"name": "fz"}),
        }


def _settle(fuzz: FuzzCloud) -> None:
    """Wait until rows and store files stop changing (asynchronous work after a 2xx)."""
    cloud = fuzz.compute.cloud
    deadline = time.monotonic() + 60
    last = (row_counts(cloud), store_files(cloud))
    while time.monotonic() < deadline:
        servers = fuzz.compute.api("GET", "/servers/detail?all_tenants=1").json()["servers"]
        busy = [s for s in servers if s["OS-EXT-STS:task_state"] or s["status"] == "BUILD"]
        time.sleep(0.3)
        now = (row_counts(cloud), store_files(cloud))
        if now == last and not busy:
            return
        last = now
    raise AssertionError("the cloud did not settle within 60 s after a 2xx")


def _send(fuzz: FuzzCloud, endpoint: Endpoint, body: Any, query: dict[str, str]) -> httpx.Response:
    headers = {
        "X-Auth-Token": fuzz.token,
        "OpenStack-API-Version": f"{'volume' if endpoint.service == 'volume' else 'compute'} "
        f"{endpoint.version}",
        "Content-Type": endpoint.content_type,
    }
    content = None
    if endpoint.method != "GET":
        text = json.dumps(body)
        for key, value in fuzz.ids.items():  # fill in the cloud's ids in the valid bodies
            text = text.replace("{" + key + "}", value)
        content = text.encode()
    return fuzz.http.request(
        endpoint.method, fuzz.url(endpoint), params=query, content=content, headers=headers
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_fuzz_never_500_and_4xx_leaves_nothing(fuzz_cloud: FuzzCloud, endpoint: Endpoint) -> None:
    cloud = fuzz_cloud.compute.cloud

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=bodies(endpoint), query=queries(endpoint))
    def probe(body: Any, query: dict[str, str]) -> None:
        rows, files = row_counts(cloud), store_files(cloud)
        resp = _send(fuzz_cloud, endpoint, body, query)
        assert resp.status_code < 500, (body, query, resp.text)
        if 400 <= resp.status_code < 500:
            assert grown(rows, row_counts(cloud)) == {}, (body, query, resp.text)
            assert store_files(cloud) - files == set(), (body, query, resp.text)
        elif endpoint.settles:
            _settle(fuzz_cloud)

    probe()
