"""The compute API's ASGI app: every resource's routes, Nova's error bodies, microversions."""

from __future__ import annotations

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from ministack.common.auth import TokenValidator
from ministack.common.web import ApiMiddleware, make_app
from ministack.compute.api import (
    admin,
    extensions,
    flavors,
    hosts,
    image_metadata,
    images,
    instance_actions,
    interfaces,
    keypairs,
    migrations,
    quota_sets,
    remote_consoles,
    server_actions,
    server_diagnostics,
    server_groups,
    server_meta,
    server_migrations,
    server_tags,
    server_topology,
    servers,
    usage,
    usage_audit,
    versions,
    volume_attachments,
    zones,
)
from ministack.compute.api.common import Api
from ministack.compute.api.microversion import MicroversionMiddleware


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for module in (
        versions,
        flavors,
        keypairs,
        servers,
        server_actions,
        server_meta,
        instance_actions,
        zones,
        admin,
        quota_sets,
        server_groups,
        usage,
        usage_audit,
        hosts,
        extensions,
        server_diagnostics,
        server_tags,
        server_topology,
        migrations,
        server_migrations,
        remote_consoles,
        interfaces,
        volume_attachments,
        images,
        image_metadata,
    ):
        out += module.ROUTES
    return out


def build(api: Api, validator: TokenValidator | None, max_body: int) -> ASGIApp:
    """The Compute v2.1 API's ASGI app (microversions, request ids, body limit)."""
    app, _served = make_app(
        "compute",
        routes(),
        style="nova",
        max_body=max_body,
        state={"api": api, "validator": validator},
    )
    return ApiMiddleware(
        MicroversionMiddleware(app), service="compute", style="nova", max_body=max_body
    )
