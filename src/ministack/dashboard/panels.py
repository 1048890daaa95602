"""The dashboard's navigation: which panels a user sees, by catalog and role.

A panel appears when its service is in the user's catalog (and, for admin panels, when the
user has the admin role). Networking and object storage add their panels here as they are
written (e.g. ``Panel("Networks", "/project/networks", "network")``); the page layout (a side
navigation of sections) does not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from ministack.dashboard.cloud import Login


@dataclass(frozen=True)
class Panel:
    title: str
    url: str
    service: str
    section: str = "Project"
    admin: bool = False


PANELS: tuple[Panel, ...] = (
    Panel("Overview", "/project/", "identity"),
    Panel("Instances", "/project/instances", "compute"),
    Panel("Images", "/project/images", "image"),
    Panel("Key pairs", "/project/key_pairs", "compute"),
    Panel("Volumes", "/project/volumes", "volumev3"),
    Panel("Volume snapshots", "/project/snapshots", "volumev3"),
    Panel("Volume transfers", "/project/volume_transfers", "volumev3"),
    Panel("Network topology", "/project/network_topology", "network", "Network"),
    Panel("Networks", "/project/networks", "network", "Network"),
    Panel("Routers", "/project/routers", "network", "Network"),
    Panel("Floating IPs", "/project/floating_ips", "network", "Network"),
    Panel("Security groups", "/project/security_groups", "network", "Network"),
    Panel("Containers", "/project/containers", "object-store", "Object storage"),
    Panel("API access", "/project/api_access", "identity"),
    Panel("Instances", "/admin/instances", "compute", "Admin", admin=True),
    Panel("Hypervisors", "/admin/hypervisors", "compute", "Admin", admin=True),
    Panel("Compute services", "/admin/services", "compute", "Admin", admin=True),
    Panel("Flavors", "/admin/flavors", "compute", "Admin", admin=True),
    Panel("Projects", "/admin/projects", "identity", "Admin", admin=True),
    Panel("Users", "/admin/users", "identity", "Admin", admin=True),
    Panel("Roles", "/admin/roles", "identity", "Admin", admin=True),
    Panel("Groups", "/admin/groups", "identity", "Admin", admin=True),
    Panel("Images", "/admin/images", "image", "Admin", admin=True),
    Panel("Networks", "/admin/networks", "network", "Admin", admin=True),
    Panel("Quotas", "/admin/quotas", "identity", "Admin", admin=True),
    Panel("Doctor", "/admin/doctor", "identity", "Admin", admin=True),
)


def panels_for(login: Login | None) -> dict[str, list[Panel]]:
    """The panels this login may see, grouped by section in display order."""
    out: dict[str, list[Panel]] = {}
    if login is None:
        return out
    for panel in PANELS:
        if panel.admin and not login.is_admin:
            continue
        if login.has(panel.service):
            out.setdefault(panel.section, []).append(panel)
    return out
