"""The object service as the process runner sees it: backend, records, workers, the API app.

Runner name ``object`` (port 8080, catalog type ``object-store``); the package is
``objectstore`` (server.PACKAGES maps the one to the other).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from pathlib import Path

from ministack.common.runtime import Context, Runtime
from ministack.config import Settings
from ministack.identity.client import s3_signatures
from ministack.objectstore import workers
from ministack.objectstore.api import accounts, bulk, containers, formpost, objects
from ministack.objectstore.api.app import Deps, Handler, SwiftApp
from ministack.objectstore.api.info import get_info
from ministack.objectstore.fs import FilesystemBackend
from ministack.objectstore.s3 import routes as s3_routes
from ministack.objectstore.s3.app import S3App, is_s3
from ministack.objectstore.store import Records

logger = logging.getLogger("ministack.object")

ROUTES: dict[tuple[str, str], Handler] = {
    ("account", "HEAD"): accounts.head_account,
    ("account", "GET"): accounts.get_account,
    ("account", "POST"): accounts.post_account,
    ("container", "PUT"): containers.put_container,
    ("container", "HEAD"): containers.head_container,
    ("container", "GET"): containers.get_container,
    ("container", "POST"): containers.post_container,
    ("container", "DELETE"): containers.delete_container,
    ("object", "PUT"): objects.put_object,
    ("object", "HEAD"): objects.get_object,
    ("object", "GET"): objects.get_object,
    ("object", "POST"): objects.post_object,
    ("object", "DELETE"): objects.delete_object,
    ("object", "COPY"): objects.copy_object,
    ("formpost", "POST"): formpost.post_form,
    ("bulk-delete", "POST"): bulk.bulk_delete,
    ("bulk-delete", "DELETE"): bulk.bulk_delete,
    ("extract-archive", "PUT"): bulk.extract_archive,
}


def store_root(settings: Settings) -> Path:
    return Path(settings.object.store_dir or settings.state_path / "objects")


async def start(ctx: Context) -> Runtime:
    """Remove partial writes a crash left, start the expirer and auditor, serve the API."""
    if ctx.validator is None:
        raise RuntimeError("object: no token validator (run identity here or set auth_url)")
    settings = ctx.settings.object
    backend = FilesystemBackend(store_root(ctx.settings))
    swept = await backend.sweep()
    if swept:
        logger.info("removed %d partial uploads left by an earlier stop", swept)
    records = Records(ctx.db)
    deps = Deps(records=records, backend=backend, settings=settings, validator=ctx.validator)
    tasks = [
        asyncio.create_task(
            workers.every(
                settings.expirer_interval,
                "expirer",
                functools.partial(workers.expire_once, records, backend),
            ),
            name="object-expirer",
        )
    ]
    if settings.auditor_interval > 0:
        tasks.append(
            asyncio.create_task(
                workers.every(
                    settings.auditor_interval,
                    "auditor",
                    functools.partial(workers.audit_once, records, backend),
                ),
                name="object-auditor",
            )
        )

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        records.close()
        backend.close()

    domain = settings.s3_domain.lower().strip(".")
    s3 = S3App(deps, s3_signatures(ctx.validator, ctx.settings), domain, s3_routes.route)
    app = SwiftApp(deps, ROUTES, get_info, extra=lambda scope: s3 if is_s3(scope, domain) else None)
    return Runtime(app=app, stop=stop, binaries=("ministack-object-expirer",))
