"""The extension list (Nova's /extensions): the v2 extensions whose behaviour this API
serves, each under its Nova name and alias, sorted by alias. Clients of the v2 era read it
to discover features; v2.1 clients use microversions instead. The descriptions are ours."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors
from ministack.common.web import json_response
from ministack.compute.api.common import caller, route

NAMESPACE = "http://docs.openstack.org/compute/ext/fake_xml"
UPDATED = "2014-12-03T00:00:00Z"

# (alias, name, description)
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("OS-DCF", "DiskConfig", "The disk configuration mode of a server."),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone", "A server's availability zone."),
    ("OS-EXT-IPS", "ExtendedIps", "The type of each server address."),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "The MAC address of each server address."),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "Host and instance attributes."),
    ("OS-EXT-STS", "ExtendedStatus", "vm_state, task_state and power_state."),
    ("OS-FLV-DISABLED", "FlavorDisabled", "Whether a flavor is disabled."),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "A flavor's ephemeral disk size."),
    ("OS-SCH-HNT", "SchedulerHints", "Scheduler hints on server create."),
    ("OS-SRV-USG", "ServerUsage", "When a server was launched and terminated."),
    ("os-admin-actions", "AdminActions", "Resetting a server's state."),
    ("os-aggregates", "Aggregates", "Host aggregates."),
    ("os-availability-zone", "AvailabilityZone", "Availability zones."),
    ("os-config-drive", "ConfigDrive", "Config drives."),
    ("os-console-auth-tokens", "ConsoleAuthTokens", "Where a console token leads (admin)."),
    ("os-console-output", "ConsoleOutput", "A server's console log."),
    ("os-create-server-ext", "Createserverext", "Extended server create."),
    ("os-extended-quotas", "ExtendedQuotas", "Deleting a project's quotas."),
    ("os-extended-services", "ExtendedServices", "Disabling services with a reason."),
    ("os-extended-services-delete", "ExtendedServicesDelete", "Deleting services."),
    ("os-flavor-access", "FlavorAccess", "Private flavors and project access."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "Flavor extra specs."),
    ("os-flavor-manage", "FlavorManage", "Creating and deleting flavors."),
    ("os-flavor-swap", "FlavorSwap", "A flavor's swap size."),
    ("os-hosts", "Hosts", "Hosts and their resources."),
    ("os-hypervisor-status", "HypervisorStatus", "A hypervisor's state and status."),
    ("os-hypervisors", "Hypervisors", "Hypervisors."),
    ("os-instance-actions", "InstanceActions", "The actions taken on a server."),
    ("os-instance_usage_audit_log", "OSInstanceUsageAuditLog", "Usage audit logs."),
    ("os-keypairs", "Keypairs", "SSH key pairs."),
    ("os-lock-server", "Lock", "Locking a server."),
    ("os-migrations", "Migrations", "The moves of servers between hosts."),
    ("os-multiple-create", "MultipleCreate", "Creating several servers at once."),
    ("os-pause-server", "PauseServer", "Pausing a server."),
    ("os-quota-class-sets", "QuotaClasses", "Quota classes."),
    ("os-quota-sets", "Quotas", "Project quotas."),
    ("os-remote-consoles", "Consoles", "Web consoles of a server (noVNC, serial)."),
    ("os-server-diagnostics", "ServerDiagnostics", "A server's hypervisor statistics."),
    ("os-server-external-events", "ServerExternalEvents", "Events from other services."),
    ("os-server-group-quotas", "ServerGroupQuotas", "Server group quotas."),
    ("os-server-groups", "ServerGroups", "Server groups."),
    ("os-server-list-multi-status", "ServerListMultiStatus", "Listing by several statuses."),
    ("os-server-sort-keys", "ServerSortKeys", "Sorting the server list."),
    ("os-server-start-stop", "ServerStartStop", "Starting and stopping servers."),
    ("os-services", "Services", "Compute services."),
    ("os-simple-tenant-usage", "SimpleTenantUsage", "Usage per project."),
    ("os-suspend-server", "SuspendServer", "Suspending a server."),
    ("os-used-limits", "UsedLimits", "What a project uses of its limits."),
    ("os-user-data", "UserData", "User data on server create."),
)


def _render(alias: str, name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "alias": alias,
        "description": description,
        "namespace": NAMESPACE,
        "updated": UPDATED,
        "links": [],
    }


async def list_extensions(request: Request) -> Response:
    await caller(request, "os_compute_api:extensions")
    return json_response({"extensions": [_render(*e) for e in sorted(EXTENSIONS)]})


async def show_extension(request: Request) -> Response:
    await caller(request, "os_compute_api:extensions")
    alias = request.path_params["alias"]
    for ext in EXTENSIONS:
        if ext[0] == alias:
            return json_response({"extension": _render(*ext)})
    raise errors.NotFound("The resource could not be found.")


ROUTES: list[BaseRoute] = [
    route("/v2.1/extensions", list_extensions, "GET"),
    route("/v2.1/extensions/{alias}", show_extension, "GET"),
]
