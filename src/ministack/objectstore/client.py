"""How other services reach the object store: one Protocol, `ObjectStoreApi`.

Where it sits: the image service keeps image data as objects in a container of its own
(`[image] store = "object"`) and reaches the object store only through this module. The
transport is the Swift v1 API over HTTP as a service user (`ServiceSession`: the `glance` user,
the `object-store` endpoint of its catalog, so the account is ``AUTH_<service project id>``),
whether the object store runs in the same process or on another host: the records and the
data of an object are written by the object service's own PUT path (atomic replace, quotas,
checksums), which a second in-process writer would have to duplicate. Bodies stream both
ways: an upload is sent from an async iterator with its length, a download is read chunk by
chunk and never held whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import quote

import httpx

from ministack.common import errors
from ministack.common.runtime import Context
from ministack.config import Settings
from ministack.identity.client import ServiceSession

SERVICE_TYPE = "object-store"
READ_CHUNK = 1 << 20


class ObjectStoreApi(Protocol):
    """What other services may ask of the object store, in the service user's own account.
    Errors are `errors.ApiError`s: NotFound (no such object), PayloadTooLarge (over the
    object size limit or a quota), ServiceUnavailable (the object store cannot be reached)."""

    async def ensure_container(self, container: str) -> None:
        """Create the container unless it exists. Idempotent."""
        ...

    async def put_object(
        self, container: str, name: str, chunks: AsyncIterator[bytes], size: int
    ) -> str:
        """Store `size` bytes from `chunks` as the object; returns its MD5 (ETag). A failed
        PUT leaves the previous object (or none)."""
        ...

    def get_object(
        self, container: str, name: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The object's bytes [offset, offset+length), streamed."""
        ...

    async def delete_object(self, container: str, name: str) -> None:
        """Delete the object. Idempotent: an object already gone is not an error."""
        ...

    async def object_names(self, container: str) -> list[str]:
        """The names of the container's objects (an empty list when it does not exist)."""
        ...


_ERRORS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    503: errors.ServiceUnavailable,
}


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code < 300:
        return
    kind = _ERRORS.get(resp.status_code, errors.InternalError)
    raise kind(f"{what}: the object store answered {resp.status_code} {resp.text[:200]}")


def _path(container: str, name: str | None = None) -> str:
    path = "/" + quote(container, safe="")
    return path if name is None else f"{path}/{quote(name, safe='')}"


class HttpObjectStore:
    """`ObjectStoreApi` over the Swift v1 API as a service user."""

    def __init__(self, session: ServiceSession) -> None:
        self.session = session
        self._made: set[str] = set()

    async def ensure_container(self, container: str) -> None:
        if container in self._made:
            return
        resp = await self.session.request(SERVICE_TYPE, "PUT", _path(container))
        _check(resp, f"Creating container {container}")
        self._made.add(container)

    async def put_object(
        self, container: str, name: str, chunks: AsyncIterator[bytes], size: int
    ) -> str:
        resp = await self.session.request(
            SERVICE_TYPE,
            "PUT",
            _path(container, name),
            retry=False,  # a streamed body cannot be sent twice
            content=chunks,
            headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
        )
        if resp.status_code == 404:  # the container was removed behind our back
            self._made.discard(container)
        _check(resp, f"Storing object {container}/{name}")
        return str(resp.headers.get("ETag", "")).strip('"')

    async def get_object(
        self, container: str, name: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        url = await self.session.endpoint(SERVICE_TYPE) + _path(container, name)
        headers = {"X-Auth-Token": await self.session.token()}
        if offset or length is not None:
            last = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{last}"
        try:
            async with self.session.http.stream("GET", url, headers=headers) as resp:
                if resp.status_code >= 300:
                    await resp.aread()
                    _check(resp, f"Reading object {container}/{name}")
                async for chunk in resp.aiter_bytes(READ_CHUNK):
                    yield chunk
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(
                f"Reading object {container}/{name} from {url} failed: {exc}"
            ) from None

    async def delete_object(self, container: str, name: str) -> None:
        resp = await self.session.request(SERVICE_TYPE, "DELETE", _path(container, name))
        if resp.status_code != 404:
            _check(resp, f"Deleting object {container}/{name}")

    async def object_names(self, container: str) -> list[str]:
        resp = await self.session.request(
            SERVICE_TYPE, "GET", _path(container), params={"format": "json"}
        )
        if resp.status_code == 404:
            return []
        _check(resp, f"Listing container {container}")
        return [str(item["name"]) for item in resp.json()]


def over_http(settings: Settings, user: str) -> HttpObjectStore:
    """The client, logged in as service user `user` ([service_auth] <user>_password)."""
    return HttpObjectStore(ServiceSession.for_service(settings, user))


def for_context(ctx: Context, user: str) -> ObjectStoreApi:
    """The object store as `user` sees it (over HTTP also when it runs in this process)."""
    return over_http(ctx.settings, user)
