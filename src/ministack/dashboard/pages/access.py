"""API access: the token's catalog, and an openrc / clouds.yaml for the current user and project.

Neither file holds a password or a token: openrc asks for the password when sourced, and
clouds.yaml leaves it for the user to add (or for a secure.yaml).
"""

from __future__ import annotations

import shlex

import yaml
from starlette.responses import Response

from ministack.dashboard.web import Page, page


def _attachment(text: str, filename: str, media_type: str) -> Response:
    return Response(
        text,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def show_access(p: Page) -> Response:
    rows = [
        (entry.get("type", ""), entry.get("name", ""), ep.get("interface", ""), ep.get("url", ""))
        for entry in p.login.catalog
        for ep in entry.get("endpoints", [])
        if ep.get("interface") == "public"
    ]
    return p.render("access.html", rows=sorted(rows))


def _identity(p: Page) -> str:
    return p.login.endpoint("identity") or p.dash.settings.identity_url


async def openrc(p: Page) -> Response:
    login = p.login
    values = {
        "OS_AUTH_URL": _identity(p),
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": login.user_name,
        "OS_USER_DOMAIN_ID": login.domain_id,
        "OS_PROJECT_ID": login.project_id,
        "OS_PROJECT_NAME": login.project_name,
        "OS_REGION_NAME": p.dash.settings.default.region,
        "OS_INTERFACE": "public",
    }
    lines = ["#!/usr/bin/env bash", "# source this file; it asks for your password"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in values.items()]
    lines += [
        'read -r -s -p "Password for $OS_USERNAME in project $OS_PROJECT_NAME: " OS_PASSWORD',
        "echo",
        "export OS_PASSWORD",
    ]
    name = f"{login.project_name or 'project'}-openrc.sh"
    return _attachment("\n".join(lines) + "\n", name, "application/x-sh")


async def clouds_yaml(p: Page) -> Response:
    login = p.login
    cloud = {
        "auth": {
            "auth_url": _identity(p),
            "username": login.user_name,
            "user_domain_id": login.domain_id,
            "project_id": login.project_id,
            "project_name": login.project_name,
        },
        "region_name": p.dash.settings.default.region,
        "interface": "public",
        "identity_api_version": 3,
    }
    text = "# add your password under auth (or in secure.yaml)\n" + yaml.safe_dump(
        {"clouds": {"ministack": cloud}}, sort_keys=False
    )
    return _attachment(text, "clouds.yaml", "application/x-yaml")


ROUTES = [
    page("/project/api_access", show_access),
    page("/project/api_access/openrc", openrc),
    page("/project/api_access/clouds.yaml", clouds_yaml),
]
