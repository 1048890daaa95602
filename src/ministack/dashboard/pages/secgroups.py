"""Security groups and rules (networking v2.0): list groups, create, a group's page with its
rules (add, delete), delete a group.

Calls: ``GET/POST /v2.0/security-groups``, ``GET/DELETE /v2.0/security-groups/{id}``,
``POST /v2.0/security-group-rules``, ``DELETE /v2.0/security-group-rules/{id}``.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.pages.networks import SERVICE, one
from ministack.dashboard.web import Page, field, page

GROUPS = "/v2.0/security-groups"


async def list_groups(p: Page) -> Response:
    body = await p.get(SERVICE, GROUPS, project_id=p.login.project_id)
    groups = sorted(body.get("security_groups", []), key=lambda g: str(g.get("name", "")))
    return p.render("secgroups.html", groups=groups)


async def create_group(p: Page) -> Response:
    form = await p.form()
    group = {"name": field(form, "name"), "description": field(form, "description")}
    body = await p.call(SERVICE, "POST", GROUPS, json={"security_group": group})
    gid = body["security_group"]["id"]
    return p.redirect(f"/project/security_groups/{one(gid)}", ok=f"Group {group['name']} created.")


async def group_detail(p: Page) -> Response:
    gid = p.request.path_params["group_id"]
    body = await p.get(SERVICE, f"{GROUPS}/{one(gid)}")
    return p.render("secgroup.html", group=body["security_group"])


def _rule(gid: str, form: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "security_group_id": gid,
        "direction": field(form, "direction") or "ingress",
        "ethertype": field(form, "ethertype") or "IPv4",
    }
    if field(form, "protocol"):
        rule["protocol"] = field(form, "protocol")
    for key in ("port_range_min", "port_range_max"):
        text = field(form, key)
        if text:
            if not text.isdigit():
                raise ApiError(400, "A port must be a whole number.")
            rule[key] = int(text)
    if field(form, "remote_ip_prefix"):
        rule["remote_ip_prefix"] = field(form, "remote_ip_prefix")
    return rule


async def group_action(p: Page) -> Response:
    """add_rule / delete_rule <id> / delete on one group."""
    gid = p.request.path_params["group_id"]
    form = await p.form()
    action, _, rid = field(form, "do").partition(" ")
    here = f"/project/security_groups/{one(gid)}"
    if action == "delete":
        await p.call(SERVICE, "DELETE", f"{GROUPS}/{one(gid)}")
        return p.redirect("/project/security_groups", ok="Security group deleted.")
    if action == "add_rule":
        rule = _rule(gid, form)
        await p.call(
            SERVICE, "POST", "/v2.0/security-group-rules", json={"security_group_rule": rule}
        )
        return p.redirect(here, ok="Rule added.")
    if action == "delete_rule" and rid:
        await p.call(SERVICE, "DELETE", f"/v2.0/security-group-rules/{one(rid)}")
        return p.redirect(here, ok="Rule deleted.")
    raise ApiError(400, f"Unknown action {action!r}.")


ROUTES = [
    page("/project/security_groups", list_groups),
    page("/project/security_groups/create", create_group, ["POST"]),
    page("/project/security_groups/{group_id}", group_detail),
    page("/project/security_groups/{group_id}/action", group_action, ["POST"]),
]
