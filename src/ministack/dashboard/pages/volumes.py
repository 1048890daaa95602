"""Volumes (block storage v3): list (polled while a volume changes), create, extend, delete.

Calls go to the ``volumev3`` endpoint of the user's catalog (its URL names the project):
``GET /volumes/detail``, ``POST /volumes``, ``POST /volumes/{id}/action`` (os-extend),
``DELETE /volumes/{id}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page

SERVICE = "volumev3"
# statuses a volume leaves by itself: the table polls fast while one is shown
MOVING = {"creating", "extending", "deleting", "attaching", "detaching", "downloading"}
FAST_POLL, SLOW_POLL = "2s", "15s"


def _size(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, "The size must be a whole number of GB, at least 1.")
    return int(text)


def row_view(volume: dict[str, Any]) -> dict[str, Any]:
    status = str(volume.get("status", ""))
    return {
        "id": volume["id"],
        "url": quote(str(volume["id"]), safe=""),
        "name": volume.get("name") or "",
        "size": volume.get("size", ""),
        "status": status,
        "type": volume.get("volume_type") or "",
        "zone": volume.get("availability_zone") or "",
        "attached": ", ".join(
            str(a.get("server_id", "")) for a in volume.get("attachments") or [] if a
        ),
        "moving": status in MOVING,
    }


async def _rows(p: Page) -> dict[str, Any]:
    q = p.request.query_params
    limit = p.dash.settings.dashboard.page_size
    body = await p.get(SERVICE, "/volumes/detail", limit=limit, marker=q.get("marker", ""))
    rows = [row_view(v) for v in body.get("volumes", [])]
    return {
        "rows": rows,
        "next_marker": rows[-1]["id"] if len(rows) == limit else "",
        "poll": FAST_POLL if any(r["moving"] for r in rows) else SLOW_POLL,
        "query": str(q),
    }


async def list_volumes(p: Page) -> Response:
    return p.render("volumes.html", **await _rows(p))


async def volume_rows(p: Page) -> Response:
    return p.render("volume_rows.html", **await _rows(p))


async def create_volume(p: Page) -> Response:
    form = await p.form()
    volume = {
        "name": field(form, "name"),
        "size": _size(field(form, "size")),
        "description": field(form, "description"),
    }
    await p.call(SERVICE, "POST", "/volumes", json={"volume": volume})
    return p.redirect("/project/volumes", ok=f"Creating volume {volume['name']}.")


async def volume_action(p: Page) -> Response:
    """Extend or delete one volume (the row's form names the action and the volume)."""
    form = await p.form()
    action, _, vid = field(form, "do").partition(" ")
    if not vid:
        raise ApiError(400, "No volume named.")
    path = f"/volumes/{quote(vid, safe='')}"
    if action == "delete":
        await p.call(SERVICE, "DELETE", path)
        done = "Deleting the volume."
    elif action == "extend":
        size = _size(field(form, f"size-{vid}"))
        await p.call(SERVICE, "POST", path + "/action", json={"os-extend": {"new_size": size}})
        done = f"Extending the volume to {size} GB."
    else:
        raise ApiError(400, f"Unknown action {action!r}.")
    return p.redirect("/project/volumes", ok=done)


ROUTES = [
    page("/project/volumes", list_volumes),
    page("/project/volumes/rows", volume_rows),
    page("/project/volumes/create", create_volume, ["POST"]),
    page("/project/volumes/action", volume_action, ["POST"]),
]
