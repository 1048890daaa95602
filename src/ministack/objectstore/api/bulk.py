"""Bulk operations (Swift's bulk middleware): ``?bulk-delete`` (POST or DELETE, a newline list
of URL-encoded ``container/object`` or ``container`` names) and ``?extract-archive=tar|tar.gz|
tar.bz2`` (PUT a tar; each file becomes an object, containers made as needed).

Each item runs as its own request of the same caller through the ordinary handlers (so
versioning and quotas apply), and the summary is answered 200 in the format the Accept header
picks (text/plain, application/json, application/xml): ``Number Deleted`` / ``Number Not
Found`` or ``Number Files Created``, ``Response Status``, ``Response Body`` and ``Errors``
([name, status] of each item that failed). Only the account's operators may run them.
"""

from __future__ import annotations

import asyncio
import http
import mimetypes
import tarfile
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any
from urllib.parse import quote, unquote
from xml.sax import saxutils

import orjson
from starlette.responses import Response

from ministack.common import errors
from ministack.objectstore.api import containers, objects
from ministack.objectstore.api.app import Call
from ministack.objectstore.store import MAX_CONTAINER_NAME, MAX_OBJECT_NAME, NewObject

MAX_DELETES = 10000
MAX_FAILED = 1000
MAX_PATH = MAX_CONTAINER_NAME + MAX_OBJECT_NAME + 2
READ = 1 << 20
FORMATS = {"tar": "r|", "tar.gz": "r|gz", "tar.bz2": "r|bz2"}


def _status(code: int) -> str:
    return f"{code} {http.HTTPStatus(code).phrase}"


def _format(call: Call) -> str:
    accept = call.request.headers.get("accept", "")
    for kind in ("application/json", "application/xml", "text/xml"):
        if kind in accept:
            return kind
    return "text/plain"


def render(kind: str, data: dict[str, Any], failed: list[list[str]], root: str) -> Response:
    """Swift's summary body in the asked format (keys sorted, as Swift writes them)."""
    if kind == "application/json":
        body = orjson.dumps({**data, "Errors": failed})
    elif kind.endswith("/xml"):
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<{root}>\n"]
        for key in sorted(data):
            tag = key.replace(" ", "_").lower()
            out.append(f"<{tag}>{saxutils.escape(str(data[key]))}</{tag}>\n")
        out.append("<errors>\n")
        for name, status in failed:
            out.append(
                f"<object><name>{saxutils.escape(name)}</name>"
                f"<status>{saxutils.escape(status)}</status></object>\n"
            )
        out.append(f"</errors>\n</{root}>\n")
        body = "".join(out).encode()
    else:
        lines = [f"{key}: {data[key]}\n" for key in sorted(data)]
        lines.append("Errors:\n")
        lines += [f"{name}, {status}\n" for name, status in failed]
        body = "".join(lines).encode()
    return Response(body, status_code=200, media_type=kind)


def _owner(call: Call) -> None:
    if not call.owner:
        raise errors.Forbidden("Bulk operations are for the account's operators.")


async def _names(call: Call) -> list[str] | None:
    """The names to delete; None when there are more than MAX_DELETES."""
    data = b""
    async for chunk in objects.body_chunks(call):
        data += chunk
        if len(data) > MAX_DELETES * (MAX_PATH * 3 + 2):
            return None
    lines = [unquote(line.strip()) for line in data.decode("utf-8", "replace").splitlines()]
    names = [line.lstrip("/") for line in lines if line.strip("/")]
    return None if len(names) > MAX_DELETES else names


def _sub(call: Call, container: str, obj: str) -> Call:
    return Call(call.request, call.deps, call.account, container, obj, call.auth, call.owner)


async def bulk_delete(call: Call) -> Response:
    _owner(call)
    kind = _format(call)
    data: dict[str, Any] = {
        "Number Deleted": 0,
        "Number Not Found": 0,
        "Response Body": "",
        "Response Status": _status(200),
    }
    failed: list[list[str]] = []
    names = await _names(call)
    if names is None:
        data["Response Status"] = _status(413)
        data["Response Body"] = f"Maximum Bulk Deletes: {MAX_DELETES} per request"
        return render(kind, data, failed, "delete")
    for name in names:
        container, _, obj = name.partition("/")
        try:
            if len(container.encode()) > MAX_CONTAINER_NAME or len(obj.encode()) > MAX_OBJECT_NAME:
                raise errors.BadRequest("name too long")
            sub = _sub(call, container, obj)
            await (objects.delete_object(sub) if obj else containers.delete_container(sub))
            data["Number Deleted"] += 1
        except errors.NotFound:
            data["Number Not Found"] += 1
        except errors.ApiError as exc:
            failed.append([quote(name), _status(exc.status)])
            if len(failed) >= MAX_FAILED:
                data["Response Body"] = "Max delete failures exceeded"
                break
    if failed:
        data["Response Status"] = _status(400)
    return render(kind, data, failed, "delete")


async def _spool(call: Call, spool: IO[bytes]) -> None:
    """Copy the request body into `spool` (413 past the largest object)."""
    size, limit = 0, call.deps.settings.max_file_size
    async for chunk in objects.body_chunks(call):
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(f"The archive is larger than {limit} bytes.")
        await asyncio.to_thread(spool.write, chunk)
    spool.seek(0)


def _open(spool: IO[bytes], mode: str) -> tarfile.TarFile:
    if mode == "r|gz":
        return tarfile.open(fileobj=spool, mode="r|gz")
    if mode == "r|bz2":
        return tarfile.open(fileobj=spool, mode="r|bz2")
    return tarfile.open(fileobj=spool, mode="r|")


async def _member_chunks(source: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(source.read, READ):
        yield chunk


async def extract_archive(call: Call) -> Response:
    _owner(call)
    mode = FORMATS.get(call.request.query_params.get("extract-archive", ""))
    if mode is None:
        raise errors.BadRequest("Unsupported archive format")
    kind = _format(call)
    data: dict[str, Any] = {
        "Number Files Created": 0,
        "Response Body": "",
        "Response Status": _status(201),
    }
    failed: list[list[str]] = []
    with tempfile.TemporaryFile() as spool:  # private, and gone when closed
        await _spool(call, spool)
        try:
            archive = await asyncio.to_thread(_open, spool, mode)
            while (member := await asyncio.to_thread(archive.next)) is not None:
                if not member.isfile():
                    continue
                path = await _extract_one(call, archive, member)
                if path is None:
                    data["Number Files Created"] += 1
                else:
                    failed.append(path)
                    if len(failed) >= MAX_FAILED:
                        break
        except (tarfile.TarError, EOFError, OSError) as exc:
            data["Response Status"] = _status(400)
            data["Response Body"] = f"Invalid Tar File: {exc}"
    if failed:
        data["Response Status"] = _status(400)
    elif not data["Number Files Created"] and not data["Response Body"]:
        data["Response Status"] = _status(400)
        data["Response Body"] = "Invalid Tar File: No Valid Files"
    return render(kind, data, failed, "extract")


async def _extract_one(
    call: Call, archive: tarfile.TarFile, member: tarfile.TarInfo
) -> list[str] | None:
    """Store one file of the archive; None when stored, else [name, status]."""
    base = "/".join(p for p in (call.container, call.obj) if p)
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    full = f"{base}/{name}" if base else name
    container, _, obj = full.partition("/")
    try:
        if not obj:
            raise errors.BadRequest("no object name")
        if len(container.encode()) > MAX_CONTAINER_NAME or len(obj.encode()) > MAX_OBJECT_NAME:
            raise errors.BadRequest("name too long")
        if member.size > call.deps.settings.max_file_size:
            raise errors.PayloadTooLarge("file too large")
        records = call.deps.records
        info = await records.container_cached(call.account, container)
        if info is None:
            await records.put_container(call.account, container, {}, {})
            info = await records.container_cached(call.account, container)
        if info is None:
            raise errors.NotFound("container vanished")
        source = archive.extractfile(member)
        if source is None:
            raise errors.BadRequest("not a regular file")
        stored = await call.deps.backend.write(_member_chunks(source), member.size)
        guessed, _ = mimetypes.guess_type(obj)
        new = NewObject(
            stored.size,
            stored.md5,
            guessed or "application/octet-stream",
            {},
            stored.location,
            stored.size,
            stored.sha256,
        )
        await objects.commit(_sub(call, container, obj), info, new, obj)
    except errors.ApiError as exc:
        return [quote(full), _status(exc.status)]
    return None
