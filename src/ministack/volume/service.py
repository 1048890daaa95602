"""The volume service as the process runner sees it: the file backend, the volume manager
(serving topic cinder-volume for this host, after applying the restart rules), the API app.

It runs as cinder-scheduler (one backend per host: the API places a volume on this host)
and cinder-volume in the services table, which `os-services` reports up or down.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ministack.common.runtime import Context, Runtime
from ministack.compute.client import ComputeClient
from ministack.config import SERVICE_USERS, Settings
from ministack.image import client as image_client
from ministack.volume.api import app
from ministack.volume.backends.file import FileBackend
from ministack.volume.core import VolumeCore, backend_host
from ministack.volume.exports import NbdExports
from ministack.volume.manager import VolumeManager
from ministack.volume.rpcapi.manager import TOPIC


def volumes_root(settings: Settings) -> Path:
    return Path(settings.volume.volumes_dir or settings.state_path / "volumes")


def _delays(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        op, _, seconds = item.partition("=")
        out[op.strip()] = float(seconds)
    return out


async def start(ctx: Context) -> Runtime:
    """Apply the restart rules to this host's volumes, serve the manager's RPC topic, start
    the reaper of transitional-state timeouts, then the API."""
    settings = ctx.settings
    images = image_client.for_context(ctx, SERVICE_USERS["volume"])
    backend = FileBackend(volumes_root(settings), _delays(settings.volume.test_delays))
    core = VolumeCore(settings, ctx.db, ctx.bus, images)
    await core.ensure_default_type()
    compute = ComputeClient(ctx.db, ctx.bus)  # volume-extended events to attached servers
    exports = NbdExports(settings.state_path / "nbd-exports", settings.volume.storage_address)
    manager = VolumeManager(
        ctx.db,
        backend,
        images,
        backend_host(settings.hostname),
        compute,
        exports=exports,
        nbd_for_local=settings.volume.nbd_for_local,
    )
    backend.remove_scratch()
    await manager.reconcile()
    backend.collect()
    await ctx.bus.serve(TOPIC, manager, server=settings.hostname)
    reaper = asyncio.create_task(manager.run_reaper(), name="volume-reaper")

    async def stop() -> None:
        reaper.cancel()
        await asyncio.gather(reaper, return_exceptions=True)

    return Runtime(
        app=app.build(core, ctx.validator),
        stop=stop,
        binaries=("cinder-scheduler", "cinder-volume"),
    )
