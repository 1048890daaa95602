"""Instances: the table (polled by htmx while states change), launch, actions, detail.

Every call goes to the compute API as the user: ``GET /servers/detail`` with the table's
filters and marker, ``POST /servers`` to launch, ``POST /servers/{id}/action`` for actions,
``GET /servers/{id}/os-instance-actions[/{request_id}]`` for the timeline.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, back, console_csp, field, page

# status -> actions offered (names of SIMPLE_ACTIONS or the forms below)
OFFERED: dict[str, tuple[str, ...]] = {
    "ACTIVE": ("stop", "reboot", "hard_reboot", "pause", "suspend"),
    "SHUTOFF": ("start",),
    "PAUSED": ("unpause",),
    "SUSPENDED": ("resume",),
    "VERIFY_RESIZE": ("confirm_resize", "revert_resize"),
    "ERROR": ("hard_reboot",),
}
SIMPLE_ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "start": ("Start", {"os-start": None}),
    "stop": ("Stop", {"os-stop": None}),
    "reboot": ("Reboot", {"reboot": {"type": "SOFT"}}),
    "hard_reboot": ("Hard reboot", {"reboot": {"type": "HARD"}}),
    "pause": ("Pause", {"pause": None}),
    "unpause": ("Unpause", {"unpause": None}),
    "suspend": ("Suspend", {"suspend": None}),
    "resume": ("Resume", {"resume": None}),
    "confirm_resize": ("Confirm resize", {"confirmResize": None}),
    "revert_resize": ("Revert resize", {"revertResize": None}),
}
# the few offered in each table row (the detail page offers all of OFFERED)
IN_ROW = {"stop", "start", "reboot", "unpause", "resume", "confirm_resize", "revert_resize"}
# statuses in which a server keeps changing by itself: the table polls fast then
MOVING = {"BUILD", "REBOOT", "HARD_REBOOT", "RESIZE", "REBUILD", "MIGRATING", "REVERT_RESIZE"}
FAST_POLL, SLOW_POLL = "2s", "15s"
MAX_LIMIT = 1000


def _limit(p: Page) -> int:
    raw = p.request.query_params.get("limit", "")
    size = p.dash.settings.dashboard.page_size
    return max(1, min(MAX_LIMIT, int(raw))) if raw.isdigit() else size


def row_view(server: dict[str, Any], flavors: dict[str, str]) -> dict[str, Any]:
    """What the table shows of one server."""
    addresses = [
        a.get("addr", "")
        for net in (server.get("addresses") or {}).values()
        for a in net
        if isinstance(a, dict)
    ]
    flavor_id = str((server.get("flavor") or {}).get("id", ""))
    status = str(server.get("status", ""))
    offered = OFFERED.get(status, ())
    return {
        "id": server["id"],
        "url": quote(str(server["id"]), safe=""),
        "name": server.get("name", ""),
        "status": status,
        "task_state": server.get("OS-EXT-STS:task_state") or "",
        "power_state": server.get("OS-EXT-STS:power_state"),
        "flavor": flavors.get(flavor_id, flavor_id),
        "addresses": ", ".join(addresses),
        "zone": server.get("OS-EXT-AZ:availability_zone", ""),
        "created": server.get("created", ""),
        "project_id": server.get("tenant_id", ""),
        "actions": [(a, SIMPLE_ACTIONS[a][0]) for a in offered],
        "row_actions": [(a, SIMPLE_ACTIONS[a][0]) for a in offered if a in IN_ROW],
        "moving": bool(server.get("OS-EXT-STS:task_state")) or status in MOVING,
    }


async def flavor_names(p: Page) -> dict[str, str]:
    body = await p.get("compute", "/flavors/detail")
    return {str(f["id"]): str(f["name"]) for f in body.get("flavors", [])}


async def server_rows(p: Page, all_projects: bool = False) -> dict[str, Any]:
    """One page of the table: rows, filters, the next page's marker, the poll interval."""
    q = p.request.query_params
    limit = _limit(p)
    filters = {"name": q.get("name", ""), "status": q.get("status", "").upper()}
    servers_body, flavors = await asyncio.gather(
        p.get(
            "compute",
            "/servers/detail",
            limit=limit,
            marker=q.get("marker", ""),
            all_tenants="1" if all_projects else "",
            **filters,
        ),
        flavor_names(p),
    )
    rows = [row_view(s, flavors) for s in servers_body.get("servers", [])]
    return {
        "rows": rows,
        "filters": filters,
        "limit": limit,
        "marker": q.get("marker", ""),
        "next_marker": rows[-1]["id"] if len(rows) == limit else "",
        "poll": FAST_POLL if any(r["moving"] for r in rows) else SLOW_POLL,
        "query": str(q),
        "all_projects": all_projects,
        "base_url": "/admin/instances" if all_projects else "/project/instances",
    }


async def list_instances(p: Page) -> Response:
    return p.render("instances.html", **await server_rows(p))


async def instance_rows(p: Page) -> Response:
    """The table body alone: what htmx swaps in on each poll."""
    return p.render("instance_rows.html", **await server_rows(p))


async def server_action(p: Page) -> Response:
    """One action on one server: from the detail page's forms (server in the path, `action`
    field) or from a table row's button (`do` = "<action> <server id>")."""
    form = await p.form()
    if "server_id" in p.request.path_params:
        sid, action = p.request.path_params["server_id"], field(form, "action")
    else:
        action, _, sid = field(form, "do").partition(" ")
    if not sid:
        raise ApiError(400, "No server named.")
    sid = quote(sid, safe="")
    path = f"/servers/{sid}/action"
    if action == "delete":
        await p.call("compute", "DELETE", f"/servers/{sid}")
        done = "Deleting the instance."
    elif action in SIMPLE_ACTIONS:
        label, body = SIMPLE_ACTIONS[action]
        await p.call("compute", "POST", path, json=body)
        done = f"{label}: requested."
    elif action == "resize":
        body = {"resize": {"flavorRef": field(form, "flavor")}}
        await p.call("compute", "POST", path, json=body)
        done = "Resize requested; confirm or revert it when the instance is VERIFY_RESIZE."
    elif action == "rebuild":
        await p.call("compute", "POST", path, json={"rebuild": {"imageRef": field(form, "image")}})
        done = "Rebuild requested."
    elif action == "snapshot":
        body = {"createImage": {"name": field(form, "snapshot_name")}}
        await p.call("compute", "POST", path, json=body)
        done = "Snapshot requested; it appears under Images."
    else:
        raise ApiError(400, f"Unknown action {action!r}.")
    return p.redirect(back(p.request, "/project/instances"), ok=done)


async def instance_detail(p: Page) -> Response:
    sid = p.request.path_params["server_id"]
    server_body, flavors, actions_body = await asyncio.gather(
        p.get("compute", f"/servers/{sid}"),
        p.get("compute", "/flavors/detail"),
        p.get("compute", f"/servers/{sid}/os-instance-actions"),
    )
    server = server_body["server"]
    flavor_list = flavors.get("flavors", [])
    timeline = await _timeline(p, sid, actions_body.get("instanceActions", []))
    images = await p.get("image", "/v2/images", limit=1000, status="active")
    return p.render(
        "instance.html",
        server=server,
        row=row_view(server, {str(f["id"]): f["name"] for f in flavor_list}),
        fault=server.get("fault"),
        timeline=timeline,
        flavors=flavor_list,
        images=images.get("images", []),
        image_id=(server.get("image") or {}).get("id", "")
        if isinstance(server.get("image"), dict)
        else "",
    )


async def _timeline(p: Page, sid: str, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request on the server, newest first, with its events when the API shows them."""
    shown = actions[:20]
    details = await asyncio.gather(
        *(p.get("compute", f"/servers/{sid}/os-instance-actions/{a['request_id']}") for a in shown),
        return_exceptions=True,
    )
    out = []
    for action, detail in zip(shown, details, strict=True):
        events: list[dict[str, Any]] = []
        if isinstance(detail, dict):
            events = detail.get("instanceAction", {}).get("events", []) or []
        out.append({**action, "events": events})
    return out


async def instance_state(p: Page) -> Response:
    """The detail page's state line alone, polled by htmx."""
    sid = p.request.path_params["server_id"]
    server = (await p.get("compute", f"/servers/{sid}"))["server"]
    return p.render("instance_state.html", row=row_view(server, {}), fault=server.get("fault"))


async def console_log(p: Page) -> Response:
    sid = p.request.path_params["server_id"]
    body = await p.call(
        "compute", "POST", f"/servers/{sid}/action", json={"os-getConsoleOutput": {"length": 200}}
    )
    server = (await p.get("compute", f"/servers/{sid}"))["server"]
    return p.render("console_log.html", server=server, output=(body or {}).get("output", ""))


async def console(p: Page) -> Response:
    """Ask the compute API for a web console URL (remote-consoles, microversion 2.6)."""
    sid = p.request.path_params["server_id"]
    body = await p.call(
        "compute",
        "POST",
        f"/servers/{sid}/remote-consoles",
        json={"remote_console": {"protocol": "vnc", "type": "novnc"}},
        headers={"OpenStack-API-Version": "compute 2.6"},
    )
    url = str(((body or {}).get("remote_console") or {}).get("url", ""))
    if not url.startswith(("http://", "https://")):
        raise ApiError(502, "The compute API gave no usable console address.")
    server = (await p.get("compute", f"/servers/{sid}"))["server"]
    return p.render("console.html", server=server, url=url)


async def serial_console(p: Page) -> Response:
    """The guest's serial console in xterm.js: the compute API gives a websocket URL
    (remote-consoles, protocol serial) that the page's script opens straight to the proxy."""
    sid = p.request.path_params["server_id"]
    body = await p.call(
        "compute",
        "POST",
        f"/servers/{sid}/remote-consoles",
        json={"remote_console": {"protocol": "serial", "type": "serial"}},
        headers={"OpenStack-API-Version": "compute 2.6"},
    )
    url = str(((body or {}).get("remote_console") or {}).get("url", ""))
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ApiError(502, "The compute API gave no usable serial console address.")
    server = (await p.get("compute", f"/servers/{sid}"))["server"]
    csp = console_csp(f"{parts.scheme}://{parts.netloc}")
    return p.render("serial.html", headers={"Content-Security-Policy": csp}, server=server, url=url)


ROUTES = [
    page("/project/instances", list_instances),
    page("/project/instances/rows", instance_rows),
    page("/project/instances/action", server_action, ["POST"]),
    page("/project/instances/{server_id}", instance_detail),
    page("/project/instances/{server_id}/state", instance_state),
    page("/project/instances/{server_id}/action", server_action, ["POST"]),
    page("/project/instances/{server_id}/console_log", console_log),
    page("/project/instances/{server_id}/console", console, ["POST"]),
    page("/project/instances/{server_id}/serial", serial_console, ["POST"]),
]
