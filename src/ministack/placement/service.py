"""The placement service as the process runner sees it: the Placement HTTP API on its port.
Compute's scheduler and agents use `placement.client` directly (same database)."""

from __future__ import annotations

from ministack.common.runtime import Context, Runtime
from ministack.common.web import ApiMiddleware, make_app
from ministack.placement.api import ROUTES, VersionMiddleware


async def start(ctx: Context) -> Runtime:
    """Serve the Placement API (its own version middleware inside the common one)."""

    app, _served = make_app(
        "placement", ROUTES, style="placement", state={"db": ctx.db, "validator": ctx.validator}
    )
    served = ApiMiddleware(
        VersionMiddleware(app),
        service="placement",
        style="placement",
        max_body=ctx.settings.identity.max_request_body_size,
    )
    return Runtime(app=served)
