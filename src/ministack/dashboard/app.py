"""The dashboard's Starlette app: its pages, its static files and the security headers."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from ministack.config import Settings
from ministack.dashboard import assets
from ministack.dashboard.cloud import Cloud
from ministack.dashboard.pages import (
    access,
    admin,
    admin_cloud,
    admin_manage,
    auth,
    containers,
    floatingips,
    image_members,
    images,
    instance_links,
    instances,
    keypairs,
    launch,
    networks,
    objects,
    overview,
    routers,
    secgroups,
    snapshots,
    topology,
    transfers,
    volumes,
)
from ministack.dashboard.sessions import SessionStore, Throttle
from ministack.dashboard.web import Dashboard, SecurityHeaders, make_templates

STATIC = Path(__file__).parent / "static"
# a day: the files change only with a new install (the URL then carries no version, so not longer)
STATIC_MAX_AGE = 86400


def build(settings: Settings, cloud: Cloud | None = None) -> tuple[ASGIApp, Dashboard]:
    """The dashboard app and its shared state; AssetsMissing when htmx is not installed."""
    vendor = assets.vendor_files(settings)
    dash = Dashboard(
        settings=settings,
        cloud=cloud or Cloud(settings.identity_url),
        sessions=SessionStore(settings.dashboard.session_idle_seconds),
        throttle=Throttle(settings.dashboard.login_attempts),
        templates=make_templates(),
    )

    async def vendor_file(request: Request) -> Response:
        path = vendor.get(request.path_params["name"])
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, headers={"Cache-Control": f"max-age={STATIC_MAX_AGE}"})

    routes: list[BaseRoute] = [
        *auth.ROUTES,
        *overview.ROUTES,
        *launch.ROUTES,
        *instances.ROUTES,
        *instance_links.ROUTES,
        *images.ROUTES,
        *image_members.ROUTES,
        *keypairs.ROUTES,
        *volumes.ROUTES,
        *snapshots.ROUTES,
        *transfers.ROUTES,
        *networks.ROUTES,
        *routers.ROUTES,
        *floatingips.ROUTES,
        *secgroups.ROUTES,
        *topology.ROUTES,
        *containers.ROUTES,
        *objects.ROUTES,
        *access.ROUTES,
        *admin.ROUTES,
        *admin_cloud.ROUTES,
        *admin_manage.ROUTES,
        Route("/static/vendor/{name}", vendor_file, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.dashboard = dash
    return SecurityHeaders(app), dash
