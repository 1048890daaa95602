"""How other services reach the image service: one Protocol, `ImageApi`, with two transports.

- `ImageClient` (in-process): runs the same code paths as the API as a trusted caller, with no
  HTTP hop; used when the image service runs in the caller's process.
- `HttpImageClient`: the Image v2 API over HTTP as a service user (`ServiceSession`: Keystone
  password login, the image endpoint from the token's catalog); data streams both ways and is
  never held whole in memory. Used by a component on another host (`ministack compute`).

`for_context` picks one, like httpx's transports: callers hold only the `ImageApi` type.
Where it sits: the compute API (imageRef lookups, snapshot records) and the compute agent
(image downloads into the host's image cache, snapshot uploads) call it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import httpx
from starlette.datastructures import QueryParams

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database
from ministack.common.runtime import Context
from ministack.config import Settings
from ministack.identity.client import ServiceSession
from ministack.image import locations
from ministack.image.attrs import Op
from ministack.image.constants import MAX_LIMIT
from ministack.image.core import ImageCore
from ministack.image.data import ImageData
from ministack.image.listing import list_images
from ministack.image.store import READ_CHUNK
from ministack.image.stores import open_stores
from ministack.image.userclient import (
    HttpUserImages,
    LocalUserImages,
    UserImageApi,
    properties_of,
)

__all__ = ["ImageApi", "UserImageApi", "properties_of"]

# Bytes handed to the writer thread at once when saving a download (fewer, larger writes).
WRITE_BATCH = 8 << 20
# Bytes read from disk per chunk of an HTTP upload.
UPLOAD_CHUNK = 4 << 20
JSON_PATCH = "application/openstack-images-v2.1-json-patch"
# An image download may stall this long between bytes (connect: 10 s).
DOWNLOAD_TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class ImageApi(Protocol):
    """What other services may ask of the image service. Errors are `errors.ApiError`s:
    NotFound, Conflict (no data), BadRequest/PayloadTooLarge (upload rejected),
    ServiceUnavailable (the image service cannot be reached)."""

    async def get(self, image_id: str) -> dict[str, Any]:
        """The image as the API shows it (any image: the caller is trusted)."""
        ...

    async def download(self, image_id: str, dest: Path) -> None:
        """Stream the data to a temporary file next to `dest`, verify its md5, rename it to
        `dest`. On any error `dest` is untouched and no temporary file is left."""
        ...

    async def local_file(self, image_id: str) -> Path | None:
        """The active image's data file when this process reads the image store directly
        (in-process, filesystem store), else None: then `download` it. The file is the
        store's own: never write to it (link or copy it)."""
        ...

    async def create_queued(
        self,
        name: str,
        disk_format: str,
        owner: str | None,
        properties: dict[str, str] | None = None,
        container_format: str = "bare",
        visibility: str = "private",
        hidden: bool = False,
    ) -> str:
        """A new image record owned by `owner`, queued with no data yet (`hidden`: Glance's
        os_hidden, left out of default image lists); returns its id."""
        ...

    async def upload_file(self, image_id: str, path: Path, disk_format: str | None = None) -> None:
        """Stream a local file into a queued image with the checks of an API upload; on
        failure the image is queued again and nothing is stored. A `disk_format` (what the
        writer of the file knows it to be, e.g. a driver's snapshot) replaces the queued
        record's first."""
        ...

    async def delete(self, image_id: str) -> None:
        """Delete an image. Idempotent: an image already gone is not an error."""
        ...

    async def find(self, properties: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every image (any owner, up to the listing cap) whose properties equal
        `properties`, as the API shows them."""
        ...

    def as_user(self, auth: Auth, token: str) -> UserImageApi:
        """The image service with the rights of the user of `auth` (whose token is `token`)."""
        ...


def service_auth(project_id: str | None) -> Auth:
    """An Auth for trusted in-process calls acting for `project_id`."""
    return Auth(
        user_id="ministack-service",
        user_name="ministack-service",
        user_domain_id="default",
        roles=("admin", "member", "reader", "service"),
        expires_at=dt.datetime.max,
        project_id=project_id,
    )


def _image_body(
    name: str,
    disk_format: str,
    owner: str | None,
    properties: dict[str, str] | None,
    container_format: str,
    visibility: str,
) -> dict[str, Any]:
    body: dict[str, Any] = dict(properties or {})
    body.update(
        name=name,
        disk_format=disk_format,
        container_format=container_format,
        visibility=visibility,
        owner=owner,
    )
    return body


async def _file_chunks(path: Path, size: int = READ_CHUNK) -> AsyncIterator[bytes]:
    """The file's bytes in chunks, read in a thread, the next read running while the
    consumer handles the current chunk."""
    fh = await asyncio.to_thread(path.open, "rb")
    pending = asyncio.ensure_future(asyncio.to_thread(fh.read, size))
    try:
        while data := await pending:
            pending = asyncio.ensure_future(asyncio.to_thread(fh.read, size))
            yield data
    finally:
        await asyncio.gather(pending, return_exceptions=True)
        fh.close()


def _write_hashed(fh: BinaryIO, md5: Any, data: bytes) -> None:
    md5.update(data)
    fh.write(data)


async def _save_stream(
    chunks: AsyncIterator[bytes], dest: Path, checksum: str | None, image_id: str
) -> None:
    """Write `chunks` to a temporary file next to `dest` (hashing and writing in a thread
    while the next bytes arrive), check the md5 against `checksum`, rename to `dest`.

    Raises errors.InternalError on a checksum mismatch; on any error nothing is left behind.
    """
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        fh = await asyncio.to_thread(tmp.open, "wb")
        writing: asyncio.Future[None] | None = None
        try:
            batch: list[bytes] = []
            held = 0
            async for chunk in chunks:
                batch.append(chunk)
                held += len(chunk)
                if held >= WRITE_BATCH:
                    if writing is not None:
                        await writing
                    data, batch, held = b"".join(batch), [], 0
                    writing = asyncio.ensure_future(asyncio.to_thread(_write_hashed, fh, md5, data))
            if writing is not None:
                await writing
            await asyncio.to_thread(_write_hashed, fh, md5, b"".join(batch))
        finally:
            if writing is not None and not writing.done():
                await asyncio.gather(writing, return_exceptions=True)
            fh.close()
        if checksum and md5.hexdigest() != checksum:
            raise errors.InternalError(f"Image {image_id} data does not match its checksum.")
        await asyncio.to_thread(os.replace, tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ImageClient:
    """`ImageApi` in-process: the image service's own core, as a trusted caller."""

    def __init__(self, core: ImageCore) -> None:
        self.core = core
        self.data = ImageData(core)

    async def get(self, image_id: str) -> dict[str, Any]:
        return await self.core.show(service_auth(None), image_id)

    async def local_file(self, image_id: str) -> Path | None:
        async with self.core.db.session() as s:
            img = await self.core.find(s, service_auth(None), image_id)
        file_copy = locations.parse(img.location).get(locations.FILE)
        if img.status != "active" or file_copy is None:
            return None  # no copy in the filesystem store (e.g. only in the object store)
        return self.core.stores.local.local_path(file_copy)

    async def download(self, image_id: str, dest: Path) -> None:
        got = await self.data.download(service_auth(None), image_id, None)
        if got.chunks is None:
            raise errors.Conflict(f"Image {image_id} has no data (it is not active).")
        await _save_stream(got.chunks, dest, got.checksum, image_id)

    async def create_queued(
        self,
        name: str,
        disk_format: str,
        owner: str | None,
        properties: dict[str, str] | None = None,
        container_format: str = "bare",
        visibility: str = "private",
        hidden: bool = False,
    ) -> str:
        body = _image_body(name, disk_format, owner, properties, container_format, visibility)
        if hidden:
            body["os_hidden"] = True
        image = await self.core.create(service_auth(owner), body)
        return str(image["id"])

    async def upload_file(self, image_id: str, path: Path, disk_format: str | None = None) -> None:
        if disk_format is not None:
            op = Op("replace", "disk_format", disk_format)
            await self.core.update(service_auth(None), image_id, [op])
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        await self.data.upload(service_auth(None), image_id, _file_chunks(path), size)

    async def delete(self, image_id: str) -> None:
        try:
            await self.core.delete(service_auth(None), image_id)
        except errors.NotFound:
            pass

    async def find(self, properties: Mapping[str, str]) -> list[dict[str, Any]]:
        params = QueryParams({**properties, "limit": str(MAX_LIMIT)})
        async with self.core.db.session() as s:
            body = await list_images(s, service_auth(None), params)
        found: list[dict[str, Any]] = body["images"]
        return found

    def as_user(self, auth: Auth, token: str) -> UserImageApi:
        return LocalUserImages(self.core, auth)


async def create_from_file(
    client: ImageApi,
    name: str,
    path: Path,
    disk_format: str,
    owner: str | None,
    properties: dict[str, str] | None = None,
    container_format: str = "bare",
    visibility: str = "private",
) -> str:
    """Create an image owned by `owner` from a local file through either transport; returns
    its id. The checks of an upload apply; on failure the image record is deleted and the
    error (errors.BadRequest, errors.PayloadTooLarge, ...) raised."""
    image_id = await client.create_queued(
        name, disk_format, owner, properties, container_format, visibility
    )
    try:
        await client.upload_file(image_id, path)
    except BaseException:
        await client.delete(image_id)
        raise
    return image_id


_ERRORS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedMediaType,
    503: errors.ServiceUnavailable,
}


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500] or resp.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(body)[:500]


def _check(resp: httpx.Response, what: str) -> None:
    """Raise the errors.ApiError matching a failed image API response."""
    if resp.status_code < 400:
        return
    kind = _ERRORS.get(resp.status_code, errors.InternalError)
    raise kind(f"{what}: {_message(resp)}")


@dataclass
class _Fetched:
    status: int
    message: str = ""
    checksum: str | None = None
    md5: str = ""


def _fetch_blocking(
    url: str, headers: dict[str, str], tmp: Path, stop: threading.Event
) -> _Fetched:
    """GET `url` into `tmp` with md5, in the calling (worker) thread: a blocking client reads
    and writes several times faster than the event loop can (measured in
    bench/image_fetch_remote.py). Raises errors.ServiceUnavailable on a transport error."""
    try:
        with (
            httpx.Client(timeout=DOWNLOAD_TIMEOUT) as http,
            http.stream("GET", url, headers=headers) as resp,
        ):
            if resp.status_code != 200:
                resp.read()
                return _Fetched(resp.status_code, _message(resp))
            md5 = hashlib.md5(usedforsecurity=False)
            with tmp.open("wb") as fh:
                for chunk in resp.iter_raw():
                    if stop.is_set():
                        raise errors.ServiceUnavailable("The download was cancelled.")
                    md5.update(chunk)
                    fh.write(chunk)
            return _Fetched(200, "", resp.headers.get("Content-MD5"), md5.hexdigest())
    except httpx.HTTPError as exc:
        raise errors.ServiceUnavailable(f"Download from {url} failed: {exc}") from None


class HttpImageClient:
    """`ImageApi` over HTTP as a service user (admin and service roles on the service
    project, so it reads any image and creates images owned by the user's project)."""

    def __init__(self, session: ServiceSession) -> None:
        self.session = session

    async def get(self, image_id: str) -> dict[str, Any]:
        resp = await self.session.request("image", "GET", f"/v2/images/{image_id}")
        _check(resp, f"Image {image_id}")
        image: dict[str, Any] = resp.json()
        return image

    async def local_file(self, image_id: str) -> Path | None:
        return None  # the store is another process's (streamed over HTTP)

    async def download(self, image_id: str, dest: Path) -> None:
        url = await self.session.endpoint("image") + f"/v2/images/{image_id}/file"
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        stop = threading.Event()
        try:
            for attempt in (0, 1):
                headers = {"X-Auth-Token": await self.session.token()}
                got = await asyncio.to_thread(_fetch_blocking, url, headers, tmp, stop)
                if got.status == 401 and not attempt:
                    self.session.invalidate()
                    continue
                break
            if got.status == 204:
                raise errors.Conflict(f"Image {image_id} has no data (it is not active).")
            if got.status != 200:
                kind = _ERRORS.get(got.status, errors.InternalError)
                raise kind(f"Image {image_id}: {got.message}")
            if got.checksum and got.md5 != got.checksum:
                raise errors.InternalError(f"Image {image_id} data does not match its checksum.")
            await asyncio.to_thread(os.replace, tmp, dest)
        except BaseException:
            stop.set()  # a cancelled download's thread stops at its next chunk
            tmp.unlink(missing_ok=True)
            raise

    async def create_queued(
        self,
        name: str,
        disk_format: str,
        owner: str | None,
        properties: dict[str, str] | None = None,
        container_format: str = "bare",
        visibility: str = "private",
        hidden: bool = False,
    ) -> str:
        body = _image_body(name, disk_format, owner, properties, container_format, visibility)
        if hidden:
            body["os_hidden"] = True
        resp = await self.session.request("image", "POST", "/v2/images", json=body)
        _check(resp, f"Creating image {name!r}")
        return str(resp.json()["id"])

    async def upload_file(self, image_id: str, path: Path, disk_format: str | None = None) -> None:
        if disk_format is not None:
            patch = [{"op": "replace", "path": "/disk_format", "value": disk_format}]
            resp = await self.session.request(
                "image",
                "PATCH",
                f"/v2/images/{image_id}",
                json=patch,
                headers={"Content-Type": JSON_PATCH},
            )
            _check(resp, f"Setting disk_format of image {image_id}")
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        # The body is a fresh stream on each attempt, so the 401 retry re-reads the file.
        for attempt in (0, 1):
            resp = await self.session.request(
                "image",
                "PUT",
                f"/v2/images/{image_id}/file",
                retry=False,
                content=_file_chunks(path, UPLOAD_CHUNK),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
            if resp.status_code != 401 or attempt:
                break
            self.session.invalidate()
        _check(resp, f"Upload to image {image_id}")

    async def delete(self, image_id: str) -> None:
        resp = await self.session.request("image", "DELETE", f"/v2/images/{image_id}")
        if resp.status_code != 404:
            _check(resp, f"Deleting image {image_id}")

    async def find(self, properties: Mapping[str, str]) -> list[dict[str, Any]]:
        params = {**properties, "limit": str(MAX_LIMIT)}
        resp = await self.session.request("image", "GET", "/v2/images", params=params)
        _check(resp, "Listing images")
        found: list[dict[str, Any]] = resp.json()["images"]
        return found

    def as_user(self, auth: Auth, token: str) -> UserImageApi:
        return HttpUserImages(self.session, token)


def in_process(settings: Settings, db: Database) -> ImageClient:
    """The in-process client for a component that shares the image service's database and
    store (the all-in-one process)."""
    return ImageClient(ImageCore(settings, db, open_stores(settings)))


def over_http(settings: Settings, user: str) -> HttpImageClient:
    """The HTTP client, logged in as service user `user` ([service_auth] <user>_password) at
    the identity URL; the image endpoint comes from the catalog."""
    return HttpImageClient(ServiceSession.for_service(settings, user))


def for_context(ctx: Context, user: str) -> ImageApi:
    """In-process when the image service runs in this process, over HTTP otherwise."""
    if ctx.runs("image"):
        return in_process(ctx.settings, ctx.db)
    return over_http(ctx.settings, user)
