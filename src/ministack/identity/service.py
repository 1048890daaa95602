"""The identity service as the process runner sees it: build the app, bootstrap, catalog."""

from __future__ import annotations

from starlette.types import ASGIApp

from ministack.common.db import Database
from ministack.common.runtime import Context, Runtime
from ministack.common.web import make_app
from ministack.config import Settings
from ministack.identity.api import (
    access_rules,
    assignments,
    auth,
    credentials,
    crud,
    domain_config,
    endpoint_filter,
    oauth1,
    resources,
    tags,
    trusts,
    users,
)
from ministack.identity.client import LocalValidator
from ministack.identity.core import IdentityCore


def build(settings: Settings, db: Database, core: IdentityCore) -> ASGIApp:
    """The identity API's ASGI app."""
    # the domain config defaults (/v3/domains/config/...) come before /v3/domains/{id}
    routes = list(auth.ROUTES) + list(users.ROUTES) + list(tags.ROUTES) + domain_config.ROUTES
    for coll in resources.ALL:
        routes += crud.routes(coll)
    routes += assignments.ROUTES
    routes += credentials.ROUTES
    routes += trusts.ROUTES
    routes += endpoint_filter.ROUTES
    routes += access_rules.ROUTES
    routes += oauth1.ROUTES
    _app, served = make_app(
        "identity",
        routes,
        style="keystone",
        max_body=settings.identity.max_request_body_size,
        state={"core": core, "validator": LocalValidator(core), "settings": settings, "db": db},
    )
    return served


async def start(ctx: Context) -> Runtime:
    """Bootstrap identity, write the catalog for this process's services, serve the API."""
    from ministack.identity.bootstrap import bootstrap
    from ministack.identity.catalog import ensure_catalog

    core = IdentityCore(ctx.settings, ctx.db)
    await bootstrap(core, ctx.settings.identity.admin_password)
    await ensure_catalog(core, list(ctx.services or ("identity",)))
    if ctx.validator is None:
        ctx.validator = LocalValidator(core)
    return Runtime(app=build(ctx.settings, ctx.db, core), stop=core.close)
