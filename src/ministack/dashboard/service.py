"""The dashboard as the process runner sees it: a web app on the dashboard port.

It is a client of the public APIs only (identity at ``settings.identity_url``, the rest from
each user's catalog): it never opens the database or imports another service's code.
"""

from __future__ import annotations

from ministack.common.runtime import Context, Runtime
from ministack.dashboard.app import build


async def start(ctx: Context) -> Runtime:
    """Serve the dashboard; fails at start, with the fix, when its front-end files are missing."""
    app, dash = build(ctx.settings)

    async def stop() -> None:
        await dash.cloud.close()

    return Runtime(app=app, stop=stop)
