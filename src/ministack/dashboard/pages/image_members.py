"""Image sharing (image API v2 members): the owner shares an image with other projects, and
a project an image was shared with accepts or rejects it.

Calls, as the user: ``GET/POST /v2/images/{id}/members``, ``DELETE
/v2/images/{id}/members/{project}`` (the owner), ``PUT /v2/images/{id}/members/{project}``
with a status (the consumer), and ``GET /v2/images?member_status=pending&visibility=shared``
for the offers waiting on this project. The image service decides who may do what.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page

STATUSES = ("accepted", "rejected", "pending")


def _one(value: str) -> str:
    return quote(value, safe="")


async def members(p: Page) -> Response:
    image_id = p.request.path_params["image_id"]
    image = await p.get("image", f"/v2/images/{_one(image_id)}")
    body = await p.get("image", f"/v2/images/{_one(image_id)}/members")
    return p.render("image_members.html", image=image, members=body.get("members", []))


async def _project_id(p: Page, given: str) -> str:
    """A project named by id, or by name when this user may look names up (admins)."""
    if not given:
        raise ApiError(400, "Name the project to share the image with.")
    if p.login.is_admin:
        found = (await p.get("identity", "/projects", name=given)).get("projects", [])
        if len(found) == 1:
            return str(found[0]["id"])
    return given


async def change_members(p: Page) -> Response:
    image_id = _one(p.request.path_params["image_id"])
    form = await p.form()
    do = field(form, "do")
    if do == "add":
        project = await _project_id(p, field(form, "project"))
        await p.call("image", "POST", f"/v2/images/{image_id}/members", json={"member": project})
        done = f"Image shared with project {project}; it appears there once accepted."
    elif do == "remove":
        member = _one(field(form, "member"))
        await p.call("image", "DELETE", f"/v2/images/{image_id}/members/{member}")
        done = "The project no longer shares this image."
    else:
        raise ApiError(400, f"Unknown change {do!r}.")
    return p.redirect(f"/project/images/{image_id}/members", ok=done)


async def answer(p: Page) -> Response:
    """The consumer's answer to a share: accepted, rejected or back to pending."""
    image_id = _one(p.request.path_params["image_id"])
    form = await p.form()
    status = field(form, "status")
    if status not in STATUSES:
        raise ApiError(400, f"A share is answered with one of {', '.join(STATUSES)}.")
    path = f"/v2/images/{image_id}/members/{_one(p.login.project_id)}"
    await p.call("image", "PUT", path, json={"status": status})
    return p.redirect("/project/images", ok=f"Image share {status}.")


ROUTES = [
    page("/project/images/{image_id}/members", members),
    page("/project/images/{image_id}/members", change_members, ["POST"]),
    page("/project/images/{image_id}/answer", answer, ["POST"]),
]
