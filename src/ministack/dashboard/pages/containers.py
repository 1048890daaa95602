"""Object storage containers (Swift v1): list, create, delete, and a container's public read
toggle (``X-Container-Read: .r:*,.rlistings`` or removed).

Calls go to the ``object-store`` endpoint of the user's catalog (``/v1/AUTH_<project>``):
``GET ?format=json``, ``PUT /{container}``, ``DELETE /{container}`` (refused while it holds
objects, with Swift's message), ``POST /{container}`` with the read ACL.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, back, field, page

SERVICE = "object-store"
PUBLIC_READ = ".r:*,.rlistings"


def cpath(name: str) -> str:
    """A container's path under the account (names cannot hold a slash)."""
    if not name or "/" in name:
        raise ApiError(400, "A container name is 1-256 characters without a slash.")
    return "/" + quote(name, safe="")


async def list_containers(p: Page) -> Response:
    body = await p.get(SERVICE, "", format="json")
    return p.render("containers.html", containers=body or [])


async def create_container(p: Page) -> Response:
    name = field(await p.form(), "name")
    await p.call(SERVICE, "PUT", cpath(name))
    return p.redirect("/project/containers", ok=f"Container {name} created.")


async def container_action(p: Page) -> Response:
    """delete / public / private on one container."""
    form = await p.form()
    name, action = field(form, "container"), field(form, "do")
    if action == "delete":
        await p.call(SERVICE, "DELETE", cpath(name))
        return p.redirect("/project/containers", ok=f"Container {name} deleted.")
    here = back(p.request, f"/project/containers/{quote(name, safe='')}")
    if action == "public":
        headers = {"X-Container-Read": PUBLIC_READ}
        done = f"Container {name} is public: anyone may read and list it."
    elif action == "private":
        headers = {"X-Remove-Container-Read": "1"}
        done = f"Container {name} is private."
    else:
        raise ApiError(400, f"Unknown action {action!r}.")
    await p.call(SERVICE, "POST", cpath(name), headers=headers)
    return p.redirect(here, ok=done)


ROUTES = [
    page("/project/containers", list_containers),
    page("/project/containers/create", create_container, ["POST"]),
    page("/project/containers/action", container_action, ["POST"]),
]
