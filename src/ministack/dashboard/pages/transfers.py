"""Volume transfers (block storage v3): offer a volume to another project (its id and key are
shown once, to hand over), list and cancel offers, accept one with its id and key.

Calls: ``POST /volume-transfers`` (volume_id), ``GET /volume-transfers/detail``,
``DELETE /volume-transfers/{id}``, ``POST /volume-transfers/{id}/accept`` (auth_key).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.pages.volumes import SERVICE
from ministack.dashboard.web import Page, field, page

BASE = "/volume-transfers"


async def list_transfers(p: Page) -> Response:
    body = await p.get(SERVICE, BASE + "/detail")
    return p.render("transfers.html", transfers=body.get("transfers", []), created=None)


async def create_transfer(p: Page) -> Response:
    """Offer a volume; the answer page shows the key (the API shows it only now)."""
    form = await p.form()
    volume_id = field(form, "volume_id")
    body = await p.call(SERVICE, "POST", BASE, json={"transfer": {"volume_id": volume_id}})
    listed = await p.get(SERVICE, BASE + "/detail")
    return p.render(
        "transfers.html", transfers=listed.get("transfers", []), created=body["transfer"]
    )


async def accept_transfer(p: Page) -> Response:
    form = await p.form()
    tid, key = field(form, "transfer_id"), field(form, "auth_key")
    if not tid or not key:
        raise ApiError(400, "Give the transfer's id and its key.")
    await p.call(
        SERVICE, "POST", f"{BASE}/{quote(tid, safe='')}/accept", json={"accept": {"auth_key": key}}
    )
    return p.redirect("/project/volumes", ok="Transfer accepted: the volume is in this project.")


async def cancel_transfer(p: Page) -> Response:
    tid = field(await p.form(), "transfer_id")
    await p.call(SERVICE, "DELETE", f"{BASE}/{quote(tid, safe='')}")
    return p.redirect("/project/volume_transfers", ok="Transfer cancelled.")


ROUTES = [
    page("/project/volume_transfers", list_transfers),
    page("/project/volume_transfers/create", create_transfer, ["POST"]),
    page("/project/volume_transfers/accept", accept_transfer, ["POST"]),
    page("/project/volume_transfers/cancel", cancel_transfer, ["POST"]),
]
