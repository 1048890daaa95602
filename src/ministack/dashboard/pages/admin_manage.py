"""Admin panels that change things (admin role only): flavors, projects and users made and
deleted, projects enabled and disabled, roles granted and revoked.

Each is one list plus one form, drawn by ``admin_manage.html``; the POST names what to do in
its ``do`` field. Calls, as the admin: ``/flavors`` (compute), ``/projects``, ``/users``,
``/projects/{p}/users/{u}/roles/{r}`` (identity). The APIs check the role and the input
again; their messages are shown when they refuse.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"
    required: bool = True
    options: tuple[tuple[str, str], ...] | None = None


def _one(value: str) -> str:
    return quote(value, safe="")


def _count(form: FormData, name: str, label: str) -> int:
    text = field(form, name)
    if not text.isdigit():
        raise ApiError(400, f"{label} must be a whole number.")
    return int(text)


def _render(p: Page, title: str, action: str, **values: Any) -> Response:
    return p.render("admin_manage.html", title=title, action=action, **values)


async def flavors(p: Page) -> Response:
    body = await p.get("compute", "/flavors/detail", is_public="None")
    rows = [
        {
            "id": f["id"],
            "label": f.get("name"),
            "cells": [
                f.get("name"),
                f["id"],
                f.get("vcpus"),
                f.get("ram"),
                f.get("disk"),
                "yes" if f.get("os-flavor-access:is_public", True) else "no",
            ],
        }
        for f in body.get("flavors", [])
    ]
    fields = [
        Field("name", "Name"),
        Field("vcpus", "vCPUs", "number"),
        Field("ram", "RAM (MB)", "number"),
        Field("disk", "Disk (GB)", "number"),
        Field("is_public", "Public", "checkbox", required=False),
    ]
    return _render(
        p,
        "Flavors",
        "/admin/flavors",
        columns=["Name", "ID", "vCPUs", "RAM (MB)", "Disk (GB)", "Public"],
        rows=rows,
        row_actions=[("delete", "Delete", True)],
        fields=fields,
        create_title="Create a flavor",
        submit_value="create",
        submit_label="Create flavor",
    )


async def change_flavors(p: Page) -> Response:
    form = await p.form()
    if field(form, "do") == "delete":
        await p.call("compute", "DELETE", f"/flavors/{_one(field(form, 'id'))}")
        return p.redirect("/admin/flavors", ok="Flavor deleted.")
    flavor = {
        "name": field(form, "name"),
        "vcpus": _count(form, "vcpus", "vCPUs"),
        "ram": _count(form, "ram", "RAM"),
        "disk": _count(form, "disk", "Disk"),
        "os-flavor-access:is_public": field(form, "is_public") == "on",
    }
    made = await p.call("compute", "POST", "/flavors", json={"flavor": flavor})
    return p.redirect("/admin/flavors", ok=f"Flavor {made['flavor']['name']} created.")


async def projects(p: Page) -> Response:
    body = await p.get("identity", "/projects")
    rows = [
        {
            "id": x["id"],
            "label": x.get("name"),
            "cells": [
                x.get("name"),
                x["id"],
                x.get("domain_id"),
                "yes" if x.get("enabled") else "no",
            ],
        }
        for x in body.get("projects", [])
    ]
    return _render(
        p,
        "Projects",
        "/admin/projects",
        columns=["Name", "ID", "Domain", "Enabled"],
        rows=rows,
        row_actions=[("toggle", "Enable/disable", False), ("delete", "Delete", True)],
        fields=[Field("name", "Name"), Field("description", "Description", required=False)],
        create_title="Create a project",
        submit_value="create",
        submit_label="Create project",
    )


async def change_projects(p: Page) -> Response:
    form = await p.form()
    do, pid = field(form, "do"), _one(field(form, "id"))
    if do == "delete":
        await p.call("identity", "DELETE", f"/projects/{pid}")
        return p.redirect("/admin/projects", ok="Project deleted.")
    if do == "toggle":
        found = (await p.get("identity", f"/projects/{pid}"))["project"]
        change = {"project": {"enabled": not found.get("enabled", True)}}
        await p.call("identity", "PATCH", f"/projects/{pid}", json=change)
        state = "disabled" if found.get("enabled", True) else "enabled"
        return p.redirect("/admin/projects", ok=f"Project {found.get('name')} {state}.")
    project = {
        "name": field(form, "name"),
        "description": field(form, "description"),
        "domain_id": p.login.domain_id or "default",
    }
    made = await p.call("identity", "POST", "/projects", json={"project": project})
    return p.redirect("/admin/projects", ok=f"Project {made['project']['name']} created.")


async def users(p: Page) -> Response:
    body, projects_body = await asyncio.gather(
        p.get("identity", "/users"), p.get("identity", "/projects")
    )
    rows = [
        {
            "id": x["id"],
            "label": x.get("name"),
            "cells": [
                x.get("name"),
                x["id"],
                x.get("domain_id"),
                x.get("default_project_id") or "",
                "yes" if x.get("enabled") else "no",
            ],
        }
        for x in body.get("users", [])
    ]
    listed = projects_body.get("projects", [])
    choices = (("", "none"), *((x["id"], x.get("name") or x["id"]) for x in listed))
    return _render(
        p,
        "Users",
        "/admin/users",
        columns=["Name", "ID", "Domain", "Default project", "Enabled"],
        rows=rows,
        row_actions=[("delete", "Delete", True)],
        fields=[
            Field("name", "Name"),
            Field("password", "Password", "password"),
            Field("email", "Email", "email", required=False),
            Field("default_project_id", "Default project", options=choices),
        ],
        create_title="Create a user",
        submit_value="create",
        submit_label="Create user",
    )


async def change_users(p: Page) -> Response:
    form = await p.form()
    if field(form, "do") == "delete":
        await p.call("identity", "DELETE", f"/users/{_one(field(form, 'id'))}")
        return p.redirect("/admin/users", ok="User deleted.")
    user: dict[str, Any] = {
        "name": field(form, "name"),
        "password": field(form, "password"),
        "domain_id": p.login.domain_id or "default",
    }
    if field(form, "email"):
        user["email"] = field(form, "email")
    if field(form, "default_project_id"):
        user["default_project_id"] = field(form, "default_project_id")
    made = await p.call("identity", "POST", "/users", json={"user": user})
    return p.redirect("/admin/users", ok=f"User {made['user']['name']} created.")


async def change_roles(p: Page) -> Response:
    """Grant or revoke a role of a user on a project (PUT/DELETE
    /projects/{p}/users/{u}/roles/{r})."""
    form = await p.form()
    do = field(form, "do")
    if do not in ("grant", "revoke"):
        raise ApiError(400, f"Unknown change {do!r}.")
    parts = [_one(field(form, k)) for k in ("project_id", "user_id", "role_id")]
    if not all(parts):
        raise ApiError(400, "Choose a user, a project and a role.")
    path = "/projects/{}/users/{}/roles/{}".format(*parts)
    await p.call("identity", "PUT" if do == "grant" else "DELETE", path)
    return p.redirect("/admin/roles", ok="Role granted." if do == "grant" else "Role revoked.")


ROUTES = [
    page("/admin/flavors", flavors, need="admin"),
    page("/admin/flavors", change_flavors, ["POST"], need="admin"),
    page("/admin/projects", projects, need="admin"),
    page("/admin/projects", change_projects, ["POST"], need="admin"),
    page("/admin/users", users, need="admin"),
    page("/admin/users", change_users, ["POST"], need="admin"),
    page("/admin/roles", change_roles, ["POST"], need="admin"),
]
