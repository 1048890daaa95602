"""Volume snapshots (block storage v3): list, create from a volume, create a volume from a
snapshot, delete.

Calls: ``GET /snapshots/detail``, ``POST /snapshots`` (volume_id), ``POST /volumes``
(snapshot_id, size), ``DELETE /snapshots/{id}``; the API's message is shown when it refuses
(e.g. a snapshot of an attached volume).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.pages.volumes import SERVICE
from ministack.dashboard.web import Page, field, page


async def list_snapshots(p: Page) -> Response:
    body = await p.get(SERVICE, "/snapshots/detail")
    snapshots = sorted(body.get("snapshots", []), key=lambda s: str(s.get("name") or ""))
    moving = any(s.get("status") in ("creating", "deleting") for s in snapshots)
    return p.render("snapshots.html", snapshots=snapshots, moving=moving)


async def create_snapshot(p: Page) -> Response:
    form = await p.form()
    volume_id = field(form, "volume_id")
    name = field(form, "snapshot_name") or f"snapshot of {volume_id[:8]}"
    snap = {"volume_id": volume_id, "name": name}
    await p.call(SERVICE, "POST", "/snapshots", json={"snapshot": snap})
    return p.redirect("/project/snapshots", ok=f"Creating snapshot {name}.")


async def snapshot_action(p: Page) -> Response:
    """volume (a new volume from the snapshot) / delete."""
    form = await p.form()
    action, _, sid = field(form, "do").partition(" ")
    if not sid:
        raise ApiError(400, "No snapshot named.")
    if action == "delete":
        await p.call(SERVICE, "DELETE", f"/snapshots/{quote(sid, safe='')}")
        return p.redirect("/project/snapshots", ok="Deleting the snapshot.")
    if action == "volume":
        snap = (await p.get(SERVICE, f"/snapshots/{quote(sid, safe='')}"))["snapshot"]
        name = field(form, f"name-{sid}") or f"from {snap.get('name') or sid[:8]}"
        volume = {"name": name, "snapshot_id": sid, "size": snap.get("size", 1)}
        await p.call(SERVICE, "POST", "/volumes", json={"volume": volume})
        return p.redirect("/project/volumes", ok=f"Creating volume {name} from the snapshot.")
    raise ApiError(400, f"Unknown action {action!r}.")


ROUTES = [
    page("/project/snapshots", list_snapshots),
    page("/project/snapshots/create", create_snapshot, ["POST"]),
    page("/project/snapshots/action", snapshot_action, ["POST"]),
]
