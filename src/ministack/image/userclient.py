"""The image service as one user sees it: what compute's /v2.1/images proxy (Nova's, up to
microversion 2.35) calls, with that user's rights rather than a service's.

`UserImageApi` has two transports, picked with the caller's `ImageApi` (`as_user`):
`LocalUserImages` runs the image service's own code with the user's `Auth`; `HttpUserImages`
calls the Image v2 API with the user's own token (as Nova forwards it to Glance). Either way
visibility (404), policy (403) and protection (403) are the image service's. Bodies are Glance's.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from starlette.datastructures import QueryParams

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.identity.client import ServiceSession
from ministack.image import constants as c
from ministack.image.attrs import Op
from ministack.image.core import ImageCore
from ministack.image.listing import list_images

JSON_PATCH = "application/openstack-images-v2.1-json-patch"
# Attributes of Glance's image schema; every other key of an image body is an additional
# property (Nova's image "metadata").
BASE_ATTRIBUTES = frozenset(c.READ_ONLY | c.BASE_WRITABLE | {"os_hash_algo", "os_hash_value"})


def properties_of(image: dict[str, Any]) -> dict[str, str]:
    """The image's additional properties (what Nova shows as its metadata)."""
    return {k: v for k, v in image.items() if k not in BASE_ATTRIBUTES}


class UserImageApi(Protocol):
    """Image calls made with one user's rights. Errors: NotFound (absent or not visible),
    Forbidden (policy, protected), BadRequest, ServiceUnavailable."""

    async def list_page(self, params: dict[str, str]) -> dict[str, Any]:
        """One page of GET /v2/images with these query parameters (Glance's body)."""
        ...

    async def get(self, image_id: str) -> dict[str, Any]:
        """The image as Glance shows it to the user."""
        ...

    async def delete(self, image_id: str) -> None:
        """Delete the image."""
        ...

    async def set_properties(
        self, image_id: str, values: dict[str, str], remove: list[str]
    ) -> dict[str, Any]:
        """Add or replace these additional properties and remove others, atomically (one
        JSON patch); the image after the change."""
        ...


def _ops(current: dict[str, Any], values: dict[str, str], remove: list[str]) -> list[Op]:
    ops = [Op("remove", key) for key in remove if key in current]
    ops += [Op("replace" if k in current else "add", k, v) for k, v in values.items()]
    return ops


class LocalUserImages:
    """`UserImageApi` in-process: the image service's core with the user's Auth."""

    def __init__(self, core: ImageCore, auth: Auth) -> None:
        self.core = core
        self.auth = auth

    async def list_page(self, params: dict[str, str]) -> dict[str, Any]:
        async with self.core.db.session() as s:
            return await list_images(s, self.auth, QueryParams(params))

    async def get(self, image_id: str) -> dict[str, Any]:
        return await self.core.show(self.auth, image_id)

    async def delete(self, image_id: str) -> None:
        await self.core.delete(self.auth, image_id)

    async def set_properties(
        self, image_id: str, values: dict[str, str], remove: list[str]
    ) -> dict[str, Any]:
        current = await self.get(image_id)
        return await self.core.update(self.auth, image_id, _ops(current, values, remove))


_ERRORS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
}


def _check(resp: httpx.Response) -> None:
    if resp.status_code < 300:
        return
    try:
        message = str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = resp.text[:300] or resp.reason_phrase
    raise _ERRORS.get(resp.status_code, errors.ServiceUnavailable)(message)


class HttpUserImages:
    """`UserImageApi` over HTTP with the user's own token (the endpoint from the service
    user's catalog)."""

    def __init__(self, session: ServiceSession, token: str) -> None:
        self.session = session
        self.token = token

    async def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = await self.session.endpoint("image") + path
        headers = {**kw.pop("headers", {}), "X-Auth-Token": self.token}
        try:
            resp = await self.session.http.request(method, url, headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(
                f"The image service at {url} is unreachable: {exc}"
            ) from None
        _check(resp)
        return resp

    async def list_page(self, params: dict[str, str]) -> dict[str, Any]:
        found: dict[str, Any] = (await self._call("GET", "/v2/images", params=params)).json()
        return found

    async def get(self, image_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (await self._call("GET", f"/v2/images/{image_id}")).json()
        return found

    async def delete(self, image_id: str) -> None:
        await self._call("DELETE", f"/v2/images/{image_id}")

    async def set_properties(
        self, image_id: str, values: dict[str, str], remove: list[str]
    ) -> dict[str, Any]:
        current = await self.get(image_id)
        patch: list[dict[str, Any]] = []
        for op in _ops(current, values, remove):
            change = {"op": op.op, "path": f"/{op.name}"}
            patch.append(change if op.op == "remove" else {**change, "value": op.value})
        resp = await self._call(
            "PATCH", f"/v2/images/{image_id}", json=patch, headers={"Content-Type": JSON_PATCH}
        )
        found: dict[str, Any] = resp.json()
        return found
