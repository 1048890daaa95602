"""Object versioning (Swift's versioned_writes, the X-Versions-Location / X-History-Location
API): the object handlers call these around a PUT and a DELETE.

A container names an archive container in the same account. Before a PUT replaces an object,
the current version is copied to ``<archive>/<3-hex name length><name>/<X-Timestamp>``
(the data is copied, the object's row then moves on as usual). A DELETE in stack mode
(X-Versions-Location) restores the newest archived version and removes it from the archive
(plain delete when there is none); in history mode (X-History-Location) it archives the
current version, adds a zero-byte delete marker and deletes the object. The archive container
must exist and be writable by the caller, else 412 and nothing changes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from ministack.common import errors
from ministack.objectstore.api import wire
from ministack.objectstore.api.app import Call, acl_allows
from ministack.objectstore.listing import ListQuery
from ministack.objectstore.store import ContainerInfo, NewObject, ObjectInfo

STACK = "sys:versions-location"
HISTORY = "sys:history-location"
DELETE_MARKER = "application/x-deleted;swift_versions_deleted=1"


def prefix(name: str) -> str:
    return f"{len(name.encode()):03x}{name}/"


def archive_name(name: str, at: float) -> str:
    return f"{prefix(name)}{wire.x_timestamp(at)}"


def mode(container: ContainerInfo) -> tuple[str, str]:
    """('stack' | 'history' | '', archive container name)."""
    if container.meta.get(STACK):
        return "stack", container.meta[STACK]
    if container.meta.get(HISTORY):
        return "history", container.meta[HISTORY]
    return "", ""


def changes(headers: dict[str, str]) -> dict[str, str]:
    """The container metadata a PUT/POST sets for versioning ('' removes); 400/412 when bad."""
    out: dict[str, str] = {}
    given = {}
    for key, header in ((STACK, "x-versions-location"), (HISTORY, "x-history-location")):
        if f"x-remove-{header[2:]}" in headers:
            out[key] = ""
        if header in headers:
            value = headers[header].strip()
            if "/" in value:
                raise wire.PreconditionFailed("Container name cannot contain slashes")
            out[key] = value
            if value:
                given[key] = value
    if len(given) > 1:
        raise errors.BadRequest(
            "Only one of X-Versions-Location or X-History-Location may be specified"
        )
    for key in given:  # setting one mode turns the other off, as Swift does
        out[HISTORY if key == STACK else STACK] = ""
    return out


async def _archive(call: Call, name: str) -> ContainerInfo:
    """The archive container, writable by the caller; 412 otherwise."""
    archive = await call.deps.records.container_cached(call.account, name)
    if archive is None:
        raise wire.PreconditionFailed("The versions container does not exist.")
    if not call.owner and not await acl_allows(call, method="PUT", container=name):
        raise wire.PreconditionFailed("The versions container is not writable.")
    return archive


async def _copy_to(call: Call, target: ContainerInfo, name: str, info: ObjectInfo) -> None:
    """Store a copy of `info`'s data as `name` in `target`; on error leaves nothing behind."""
    location = await call.deps.backend.copy(info.location)
    new = NewObject(
        info.size,
        info.etag,
        info.content_type,
        dict(info.meta),
        location,
        info.stored_size,
        info.sha256,
        info.delete_at,
        info.kind,
    )
    try:
        replaced = await call.deps.records.commit_object(target, name, new)
    except BaseException:
        await call.deps.backend.delete(location)
        raise
    if replaced is not None:
        await call.deps.backend.delete(replaced)


async def before_put(call: Call, container: ContainerInfo, name: str) -> None:
    """Archive the version a PUT is about to replace (no-op without versioning)."""
    kind, archive_container = mode(container)
    if not kind:
        return
    current = await call.deps.records.object(container.id, name)
    if current is None:
        return
    archive = await _archive(call, archive_container)
    await _copy_to(call, archive, archive_name(name, current.last_modified), current)


async def delete(call: Call, container: ContainerInfo) -> bool:
    """Carry out a DELETE of a versioned object; False when the container is not versioned
    (the caller deletes as usual). 404 when there is nothing to delete or restore."""
    kind, archive_container = mode(container)
    if not kind:
        return False
    archive = await _archive(call, archive_container)
    records = call.deps.records
    current = await records.object(container.id, call.obj)
    if kind == "history":
        if current is None:
            raise errors.NotFound("The object does not exist.")
        await _copy_to(call, archive, archive_name(call.obj, current.last_modified), current)
        await _marker(call, archive)
        await _delete_current(call, container)
        return True
    query = ListQuery(prefix=prefix(call.obj), limit=1, reverse=True)
    newest = await records.list_objects(archive.id, query)
    if not newest:
        if current is None:
            raise errors.NotFound("The object does not exist.")
        await _delete_current(call, container)
        return True
    previous = await records.object(archive.id, newest[0].name)
    if previous is None or previous.content_type == DELETE_MARKER:
        await _delete_current(call, container, missing_ok=True)
    else:
        await _copy_to(call, container, call.obj, previous)
    gone = await records.delete_object(archive.id, newest[0].name)
    if gone is not None:
        await call.deps.backend.delete(gone.location)
    return True


async def _marker(call: Call, archive: ContainerInfo) -> None:
    stored = await call.deps.backend.write(_nothing(), 0)
    marker = NewObject(0, stored.md5, DELETE_MARKER, {}, stored.location, 0, stored.sha256)
    try:
        await call.deps.records.commit_object(archive, archive_name(call.obj, time.time()), marker)
    except BaseException:
        await call.deps.backend.delete(stored.location)
        raise


async def _nothing() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk


async def _delete_current(call: Call, container: ContainerInfo, missing_ok: bool = False) -> None:
    gone = await call.deps.records.delete_object(container.id, call.obj)
    if gone is None:
        if missing_ok:
            return
        raise errors.NotFound("The object does not exist.")
    await call.deps.backend.delete(gone.location)
