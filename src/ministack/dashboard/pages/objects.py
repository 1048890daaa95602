"""Objects of a container (Swift v1): list by pseudo-folder (prefix + ``/`` delimiter), upload
(the browser's file streamed on as it arrives, never held whole), download (streamed back),
delete, and temporary URLs signed here with the account's Temp-URL key (set once if missing).

Calls: ``HEAD /{c}`` (read ACL), ``GET /{c}?format=json&prefix=&delimiter=/``,
``PUT /{c}/{object}``, ``GET /{c}/{object}``, ``DELETE /{c}/{object}``, ``HEAD`` and ``POST``
on the account (``X-Account-Meta-Temp-URL-Key``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.pages.containers import PUBLIC_READ, SERVICE, cpath
from ministack.dashboard.web import Page, field, page

TEMP_URL_SECONDS = 3600
KEY_HEADER = "X-Account-Meta-Temp-URL-Key"


def opath(container: str, name: str) -> str:
    if not name:
        raise ApiError(400, "No object named.")
    return cpath(container) + "/" + quote(name, safe="/")


async def list_objects(p: Page) -> Response:
    container = p.request.path_params["container"]
    prefix = p.request.query_params.get("prefix", "")
    head = await p.cloud.send(p.login, SERVICE, "HEAD", cpath(container))
    body = await p.get(SERVICE, cpath(container), format="json", prefix=prefix, delimiter="/")
    folders = [i["subdir"] for i in body or [] if "subdir" in i]
    objects = [i for i in body or [] if "name" in i]
    crumbs, acc = [], ""
    for part in [x for x in prefix.split("/") if x]:
        acc += part + "/"
        crumbs.append((part, acc))
    return p.render(
        "objects.html",
        container=container,
        prefix=prefix,
        crumbs=crumbs,
        folders=folders,
        objects=objects,
        public=head.headers.get("X-Container-Read", "") == PUBLIC_READ,
    )


async def upload(p: Page) -> Response:
    """Stream the request body into ``PUT /{c}/{object}`` chunk by chunk."""
    container = p.request.path_params["container"]
    name = p.request.query_params.get("name", "")

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in p.request.stream():
            if chunk:
                yield chunk

    headers = {"Content-Type": p.request.headers.get("content-type", "application/octet-stream")}
    length = p.request.headers.get("content-length")
    if length and length.isdigit():
        headers["Content-Length"] = length
    try:
        await p.cloud.send(
            p.login, SERVICE, "PUT", opath(container, name), content=chunks(), headers=headers
        )
    except ApiError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    p.session.say("ok", f"Object {name} uploaded.")
    return JSONResponse({"name": name, "done": True})


async def download(p: Page) -> Response:
    container = p.request.path_params["container"]
    name = p.request.query_params.get("name", "")
    resp = await p.cloud.open(p.login, SERVICE, opath(container, name))
    filename = quote(name.rsplit("/", 1)[-1] or "object", safe="")
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
        "Cache-Control": "no-store",
    }
    if "content-length" in resp.headers:
        headers["Content-Length"] = resp.headers["content-length"]
    return StreamingResponse(
        resp.aiter_raw(),
        media_type=resp.headers.get("content-type", "application/octet-stream"),
        headers=headers,
        background=BackgroundTask(resp.aclose),
    )


async def _temp_url_key(p: Page) -> str:
    head = await p.cloud.send(p.login, SERVICE, "HEAD", "")
    key: str = head.headers.get(KEY_HEADER, "")
    if key:
        return key
    key = secrets.token_hex(24)
    await p.call(SERVICE, "POST", "", headers={KEY_HEADER: key})
    return key


def sign(endpoint: str, container: str, name: str, key: str, expires: int) -> str:
    """A GET temp URL for one object (HMAC-SHA256 over ``GET\\n<expires>\\n<path>``)."""
    path = f"{urlsplit(endpoint).path}/{container}/{name}"
    sig = hmac.new(key.encode(), f"GET\n{expires}\n{path}".encode(), hashlib.sha256).hexdigest()
    return f"{endpoint}{opath(container, name)}?temp_url_sig={sig}&temp_url_expires={expires}"


async def object_action(p: Page) -> Response:
    """delete / temp_url on one object of the container."""
    container = p.request.path_params["container"]
    form = await p.form()
    name, action = field(form, "name"), field(form, "do")
    if action == "delete":
        await p.call(SERVICE, "DELETE", opath(container, name))
        return p.redirect(_back(container, name), ok=f"Object {name} deleted.")
    if action == "temp_url":
        endpoint = p.login.endpoint(SERVICE) or ""
        expires = int(time.time()) + TEMP_URL_SECONDS
        url = sign(endpoint, container, name, await _temp_url_key(p), expires)
        return p.redirect(_back(container, name), ok=f"Temp URL (valid for an hour): {url}")
    raise ApiError(400, f"Unknown action {action!r}.")


def _back(container: str, name: str) -> str:
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    url = f"/project/containers/{quote(container, safe='')}"
    return url + (f"?prefix={quote(folder, safe='')}" if folder else "")


ROUTES = [
    page("/project/containers/{container}", list_objects),
    page("/project/containers/{container}/upload", upload, ["PUT"]),
    page("/project/containers/{container}/download", download),
    page("/project/containers/{container}/action", object_action, ["POST"]),
]
