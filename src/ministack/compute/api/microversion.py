"""Compute microversions: read the requested version from ``OpenStack-API-Version: compute X``
or ``X-OpenStack-Nova-API-Version: X`` ("latest" = the maximum), answer 406 outside
[MIN, MAX], and state the version used on every response, as Nova does."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ministack.common import errors

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 96)
Version = tuple[int, int]
_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


def fmt(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def parse(headers: dict[str, str]) -> Version:
    """The requested microversion; NotAcceptable (406) when malformed or unsupported."""
    raw = None
    for item in headers.get("openstack-api-version", "").split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() == "compute":
            raw = value.strip()
    if raw is None:
        raw = headers.get("x-openstack-nova-api-version")
    if not raw:
        return MIN_VERSION
    if raw.lower() == "latest":
        return MAX_VERSION
    match = _VERSION.match(raw)
    if not match:
        raise errors.BadRequest(f"API version string {raw} format is not valid.")
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise errors.NotAcceptable(
            f"Version {raw} is not supported by the API. Minimum is {fmt(MIN_VERSION)} and "
            f"maximum is {fmt(MAX_VERSION)}."
        )
    return version


class MicroversionMiddleware:
    """Puts the request's version in ``scope["state"]["microversion"]`` and the headers on
    the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        version = parse(headers)
        scope.setdefault("state", {})["microversion"] = version
        text = fmt(version).encode()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"openstack-api-version", b"compute " + text),
                    (b"x-openstack-nova-api-version", text),
                    (b"vary", b"OpenStack-API-Version, X-OpenStack-Nova-API-Version"),
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_wrapper)
