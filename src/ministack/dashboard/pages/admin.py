"""Admin panels (admin role only; anyone else gets 403): all projects' instances,
hypervisors, compute services, roles and role assignments (granted and revoked in
admin_manage.py, with flavors, projects and users).

Each panel is one table drawn from one or two admin API calls; the APIs check the role again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from ministack.dashboard.pages.instances import server_rows
from ministack.dashboard.web import Page, page


def _table(p: Page, title: str, columns: list[str], rows: list[list[Any]]) -> Response:
    return p.render("table.html", title=title, columns=columns, rows=rows)


async def admin_instances(p: Page) -> Response:
    return p.render("instances.html", **await server_rows(p, all_projects=True))


async def admin_instance_rows(p: Page) -> Response:
    return p.render("instance_rows.html", **await server_rows(p, all_projects=True))


async def hypervisors(p: Page) -> Response:
    body = await p.get("compute", "/os-hypervisors/detail")
    rows = [
        [
            h.get("hypervisor_hostname"),
            h.get("hypervisor_type"),
            h.get("state"),
            h.get("status"),
            f"{h.get('vcpus_used', 0)} / {h.get('vcpus', 0)}",
            f"{h.get('memory_mb_used', 0)} / {h.get('memory_mb', 0)}",
            h.get("running_vms", 0),
        ]
        for h in body.get("hypervisors", [])
    ]
    columns = ["Host", "Type", "State", "Status", "vCPUs used", "RAM used (MB)", "Instances"]
    return _table(p, "Hypervisors", columns, rows)


async def services(p: Page) -> Response:
    body = await p.get("compute", "/os-services")
    rows = [
        [
            s.get("binary"),
            s.get("host"),
            s.get("zone"),
            s.get("status"),
            s.get("state"),
            s.get("updated_at"),
        ]
        for s in body.get("services", [])
    ]
    return _table(
        p, "Compute services", ["Binary", "Host", "Zone", "Status", "State", "Updated"], rows
    )


def _name(ref: dict[str, Any] | None) -> str:
    return str((ref or {}).get("name") or (ref or {}).get("id") or "")


async def roles(p: Page) -> Response:
    roles_body, assignments, users_body, projects_body = await asyncio.gather(
        p.get("identity", "/roles"),
        p.get("identity", "/role_assignments", include_names="1"),
        p.get("identity", "/users"),
        p.get("identity", "/projects"),
    )
    rows: list[list[Any]] = [
        ["role", r.get("name"), r.get("id"), ""] for r in roles_body.get("roles", [])
    ]
    for a in assignments.get("role_assignments", []):
        scope = a.get("scope", {})
        where = (
            f"project {_name(scope.get('project'))}"
            if "project" in scope
            else f"domain {_name(scope.get('domain'))}"
            if "domain" in scope
            else "system"
        )
        who = _name(a.get("user")) or f"group {_name(a.get('group'))}"
        rows.append(["assignment", _name(a.get("role")), who, where])
    return p.render(
        "admin_roles.html",
        title="Roles and role assignments",
        columns=["Kind", "Role", "ID / who", "Scope"],
        rows=rows,
        users=users_body.get("users", []),
        all_projects=projects_body.get("projects", []),
        roles=roles_body.get("roles", []),
    )


ROUTES = [
    page("/admin/instances", admin_instances, need="admin"),
    page("/admin/instances/rows", admin_instance_rows, need="admin"),
    page("/admin/hypervisors", hypervisors, need="admin"),
    page("/admin/services", services, need="admin"),
    page("/admin/roles", roles, need="admin"),
]
