"""Version discovery (`/`, `/v2.0`) and `/v2.0/extensions`: exactly the extensions this
service implements, so clients that probe before using a feature see the truth."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ministack.common import errors
from ministack.common.auth import require_auth
from ministack.common.web import json_response

UPDATED = "2026-01-01T00:00:00-00:00"
# alias -> (name, description); each one is implemented and tested
EXTENSIONS: dict[str, tuple[str, str]] = {
    "agent": ("agent", "The agent management extension."),
    "allowed-address-pairs": ("Allowed Address Pairs", "Provides allowed address pairs"),
    "availability_zone": ("Availability Zone", "The availability zone extension."),
    "network_availability_zone": (
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    "binding": ("Port Binding", "Expose port bindings of a virtual port to external application"),
    "external-net": (
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    "extra_dhcp_opt": ("Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    "extraroute": ("Neutron Extra Route", "Extra routes configuration for L3 router"),
    "ext-gw-mode": (
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on "
        "the external gateway",
    ),
    "filter-validation": (
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    "net-mtu": ("Network MTU", "Provides MTU attribute for a network resource."),
    "net-mtu-writable": (
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    "network-ip-availability": (
        "Network IP Availability",
        "Provides IP availability data for each network and subnet.",
    ),
    "pagination": ("Pagination support", "Extension that indicates that pagination is enabled."),
    "port-security": ("Port Security", "Provides port security"),
    "project-id": (
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    "provider": ("Provider Network", "Expose mapping of virtual networks to physical networks"),
    "quotas": ("Quota management support", "Expose functions for quotas management per project"),
    "quota_details": (
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    "floating-ip-port-forwarding": (
        "Floating IP Port Forwarding",
        "Extension of floating IP that supports port forwarding",
    ),
    "revision-if-match": (
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    "router": (
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and access "
        "to external networks via a NAT gateway.",
    ),
    "security-group": ("security-group", "The security groups extension."),
    "sorting": ("Sorting support", "Extension that indicates that sorting is enabled."),
    "standard-attr-description": (
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    "standard-attr-revisions": (
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    "standard-attr-tag": (
        "Tag support for resources with standard attribute: subnet, router, network, port, "
        "subnetpool, security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    "standard-attr-timestamp": (
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
        "standard attributes.",
    ),
    "subnet_allocation": (
        "Subnet Allocation",
        "Enables allocation of subnets from a subnet pool",
    ),
    "default-subnetpools": (
        "Default Subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    "subnetpool-prefix-ops": (
        "Subnet Pool Prefix Operations",
        "Provides support for adjusting the prefix list of subnet pools",
    ),
    "stateful-security-group": (
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
}
RESOURCES = (
    "network",
    "subnet",
    "subnetpool",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
)


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def versions(request: Request) -> Response:
    link = {"href": f"{_root(request)}/v2.0/", "rel": "self"}
    return json_response({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]})


async def version(request: Request) -> Response:
    root = _root(request)
    resources = [
        {
            "name": name,
            "collection": f"{name}s",
            "links": [{"href": f"{root}/v2.0/{name.replace('_', '-')}s", "rel": "self"}],
        }
        for name in RESOURCES
    ]
    return json_response({"resources": resources})


def _extension(alias: str) -> dict[str, object]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


async def list_extensions(request: Request) -> Response:
    await require_auth(request)
    return json_response({"extensions": [_extension(a) for a in sorted(EXTENSIONS)]})


async def show_extension(request: Request) -> Response:
    await require_auth(request)
    alias = request.path_params["alias"]
    if alias not in EXTENSIONS:
        raise errors.NotFound(f"Extension with alias {alias} does not exist", kind="HTTPNotFound")
    return json_response({"extension": _extension(alias)})


ROUTES: list[BaseRoute] = [
    Route("/", versions, methods=["GET"]),
    Route("/v2.0", version, methods=["GET"]),
    Route("/v2.0/", version, methods=["GET"]),
    Route("/v2.0/extensions", list_extensions, methods=["GET"]),
    Route("/v2.0/extensions/{alias}", show_extension, methods=["GET"]),
]
