"""Container requests: PUT (create or update), HEAD, GET (listing), POST, DELETE.

ACLs (X-Container-Read/-Write) may be set only by the account's operators; quota metadata
(X-Container-Meta-Quota-Bytes/-Count) must be integers.
"""

from __future__ import annotations

from starlette.responses import Response

from ministack.common import errors
from ministack.objectstore import acl
from ministack.objectstore.api import listings, versioning, wire
from ministack.objectstore.api.app import Call
from ministack.objectstore.store import ContainerInfo

QUOTA_KEYS = ("quota-bytes", "quota-count")


def container_headers(info: ContainerInfo) -> dict[str, str]:
    headers = {
        "X-Container-Object-Count": str(info.object_count),
        "X-Container-Bytes-Used": str(info.bytes_used),
        "X-Timestamp": wire.x_timestamp(info.created_at),
        "X-Put-Timestamp": wire.x_timestamp(info.updated_at),
        "Last-Modified": wire.http_date(info.updated_at),
        "X-Storage-Policy": "Policy-0",
        "Accept-Ranges": "bytes",
        **wire.meta_headers(info.meta, "container"),
    }
    if info.read_acl:
        headers["X-Container-Read"] = info.read_acl
    if info.write_acl:
        headers["X-Container-Write"] = info.write_acl
    kind, archive = versioning.mode(info)
    if kind:
        headers["X-Versions-Location" if kind == "stack" else "X-History-Location"] = archive
    return headers


def _changes(call: Call) -> tuple[dict[str, str], dict[str, str]]:
    headers = call.request.headers
    meta = wire.meta_changes(headers, "container")
    meta.update(versioning.changes(dict(headers)))
    for key in QUOTA_KEYS:
        value = meta.get(key)
        if value and not value.isdigit():
            raise errors.BadRequest(f"X-Container-Meta-{key.title()} must be an integer.")
    acls: dict[str, str] = {}
    for kind in ("read", "write"):
        if f"x-remove-container-{kind}" in headers:
            acls[kind] = ""
        if f"x-container-{kind}" in headers:
            value = headers[f"x-container-{kind}"].strip()
            problem = acl.valid(value)
            if problem:
                raise errors.BadRequest(problem)
            acls[kind] = value
    if "x-storage-policy" in headers and headers["x-storage-policy"] not in ("Policy-0", ""):
        raise errors.BadRequest(f"Invalid X-Storage-Policy {headers['x-storage-policy']!r}.")
    return meta, acls


def _name_ok(name: str) -> None:
    if not name:
        raise errors.BadRequest("A container needs a name.")


async def put_container(call: Call) -> Response:
    _name_ok(call.container)
    meta, acls = _changes(call)
    created = await call.deps.records.put_container(call.account, call.container, meta, acls)
    return Response(status_code=201 if created else 202, headers={"Content-Length": "0"})


async def post_container(call: Call) -> Response:
    meta, acls = _changes(call)
    if not await call.deps.records.post_container(call.account, call.container, meta, acls):
        raise errors.NotFound("The container does not exist.")
    return Response(status_code=204, headers={"Content-Length": "0"})


async def _existing(call: Call) -> ContainerInfo:
    info = await call.deps.records.container(call.account, call.container)
    if info is None:
        raise errors.NotFound("The container does not exist.")
    return info


def _visible_headers(call: Call, info: ContainerInfo) -> dict[str, str]:
    headers = container_headers(info)
    if not call.owner:  # ACLs and keys are the operators' business (Swift hides them too)
        for key in ("X-Container-Read", "X-Container-Write"):
            headers.pop(key, None)
        for key in list(headers):
            if key.lower().startswith("x-container-meta-temp-url-key"):
                del headers[key]
    return headers


async def head_container(call: Call) -> Response:
    info = await _existing(call)
    headers = _visible_headers(call, info)
    headers["Content-Length"] = "0"
    return Response(status_code=204, headers=headers, media_type="text/plain; charset=utf-8")


async def get_container(call: Call) -> Response:
    info = await _existing(call)
    q = listings.listing_query(call.request, call.deps.settings.container_listing_limit)
    rows = await call.deps.records.list_objects(info.id, q)
    return listings.render(
        rows,
        listings.listing_format(call.request),
        root="container",
        name=info.name,
        item="object",
        headers=_visible_headers(call, info),
    )


async def delete_container(call: Call) -> Response:
    await call.deps.records.delete_container(call.account, call.container)
    return Response(status_code=204, headers={"Content-Length": "0"})
