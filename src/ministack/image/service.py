"""The image service as the process runner sees it: store, recovery, API app, in-process client.

Image data uploads (PUT /file and /stage) are served by a second instance of the same app built
with no body limit; every other request keeps the common 112 KiB limit.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from ministack.common.auth import TokenValidator
from ministack.common.runtime import Context, Runtime
from ministack.common.web import make_app
from ministack.image.api import (
    data,
    discovery,
    images,
    members,
    metadef_contents,
    metadef_namespaces,
)
from ministack.image.api import tasks as task_api
from ministack.image.copyimage import CopyImage
from ministack.image.core import ImageCore
from ministack.image.data import ImageData
from ministack.image.imports import Imports
from ministack.image.metadefs import catalog
from ministack.image.sharing import Sharing
from ministack.image.stores import open_stores
from ministack.image.webimport import WebImport

NO_LIMIT = 1 << 62


class _DataRouter:
    """Send image-data uploads to the unlimited app and everything else to the limited one."""

    def __init__(self, limited: ASGIApp, unlimited: ASGIApp) -> None:
        self.limited = limited
        self.unlimited = unlimited
        self.pattern = re.compile(data.UNLIMITED_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "PUT"
            and self.pattern.match(scope["path"])
        ):
            await self.unlimited(scope, receive, send)
        else:
            await self.limited(scope, receive, send)


def build(core: ImageCore, validator: TokenValidator | None) -> ASGIApp:
    """The image API's ASGI app."""
    routes = (
        discovery.ROUTES
        + task_api.ROUTES
        + images.ROUTES
        + data.ROUTES
        + members.ROUTES
        + metadef_namespaces.ROUTES
        + metadef_contents.ROUTES
    )
    image_data = ImageData(core)
    web = WebImport(image_data)
    state = {
        "core": core,
        "data": image_data,
        "imports": Imports(image_data, web, CopyImage(image_data)),
        "sharing": Sharing(core),
        "validator": validator,
    }
    _app, limited = make_app("image", routes, style="glance", state=state)
    _app2, unlimited = make_app("image", routes, style="glance", max_body=NO_LIMIT, state=state)
    return _DataRouter(limited, unlimited)


async def start(ctx: Context) -> Runtime:
    """Open the store, put interrupted uploads back to queued (their tasks failed), load the
    standard metadef namespaces that are missing, serve the API."""
    core = ImageCore(ctx.settings, ctx.db, open_stores(ctx.settings))
    image_data = ImageData(core)
    await image_data.recover()
    await WebImport(image_data).recover()
    await catalog.load(ctx.db)
    return Runtime(app=build(core, ctx.validator))
