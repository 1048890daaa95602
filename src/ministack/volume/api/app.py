"""The Block Storage v3 API's ASGI app: every resource's routes, Cinder's error bodies
(Nova's format: badRequest, itemNotFound, overLimit), microversions."""

from __future__ import annotations

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from ministack.common.auth import TokenValidator
from ministack.common.web import DEFAULT_MAX_BODY, ApiMiddleware, make_app
from ministack.volume.api import (
    attachments,
    messages,
    quota_sets,
    services,
    snapshots,
    transfers,
    types,
    versions,
    volume_actions,
    volume_metadata,
    volumes,
)
from ministack.volume.api.microversion import MicroversionMiddleware
from ministack.volume.core import VolumeCore


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for module in (
        versions,
        volumes,
        volume_actions,
        volume_metadata,
        types,
        snapshots,
        attachments,
        messages,
        transfers,
        quota_sets,
        services,
    ):
        out += module.ROUTES
    return out


def build(core: VolumeCore, validator: TokenValidator | None) -> ASGIApp:
    app, _served = make_app(
        "volume", routes(), style="nova", state={"core": core, "validator": validator}
    )
    return ApiMiddleware(
        MicroversionMiddleware(app), service="volume", style="nova", max_body=DEFAULT_MAX_BODY
    )
