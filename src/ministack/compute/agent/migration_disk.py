"""The guest's disk on its way to another host during a resize or cold migration.

The hosts share no filesystem (only the bus, the database and the HTTP services), so the disk
travels through the image service, as a shelve offload does: the source agent, once the
guest is stopped (resize_migrating), uploads its root disk (`driver.snapshot`) into a private
image of the instance's project, marked `image_type=migration` and `instance_uuid` and
hidden (Glance's os_hidden: `openstack image list` does not show it), and
records its id in the instance's system_metadata (`migration_image_id`); the destination's
`finish_resize` spawns from that image instead of the instance's original one (the libvirt
driver grows it to the new flavor's root size). The image is deleted on confirm, on revert
(the source's own disk was never touched), when the move fails and when the server is
deleted. A server booted from a volume has no disk to carry (its volumes are reconnected).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from ministack.compute import instances, migration_records
from ministack.compute import models as m
from ministack.compute.agent.base import AgentBase, from_image
from ministack.compute.agent.task import InstanceTask
from ministack.compute.instances import Change
from ministack.compute.virt.driver import GuestSpec

log = logging.getLogger("ministack.compute.agent")

IMAGE_ID = migration_records.MIGRATION_IMAGE_ID
IMAGE_TYPE = "migration"


async def destination(agent: AgentBase, uuid: str) -> str | None:
    """The host the open migration of `uuid` goes to (the conductor named it)."""
    row = await migration_records.open_row(agent.db, uuid)
    return row.dest_compute if row is not None else None


async def upload(agent: AgentBase, task: InstanceTask, inst: m.Instance) -> str | None:
    """Upload the stopped guest's root disk into a new migration image and record its id in
    system_metadata; None for a server booted from a volume. On failure the image is deleted
    and the error raised."""
    if not inst.image_ref:
        return None
    properties = {"instance_uuid": inst.uuid, "image_type": IMAGE_TYPE}
    name = f"migration-{inst.uuid}"
    image_id = await agent.deps.images.create_queued(
        name, inst.project_id, properties, "qcow2", hidden=True
    )
    try:
        sysmeta = {**inst.system_metadata, IMAGE_ID: image_id}
        await task.settle(Change(system_metadata=sysmeta))
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / "disk"
            disk_format = await agent.driver.snapshot(inst.uuid, dest)
            await agent.deps.images.upload(image_id, dest, disk_format)
    except BaseException:
        await forget(agent, inst.uuid)
        raise
    log.info("disk of %s uploaded for its migration as image %s", inst.uuid, image_id)
    return image_id


async def spawn_spec(agent: AgentBase, spec: GuestSpec, sysmeta: dict[str, Any]) -> GuestSpec:
    """`spec` booting the migration image when the source left one (its format is the
    driver's snapshot's, and so is its checksum); `spec` unchanged otherwise."""
    image_id = sysmeta.get(IMAGE_ID)
    if not image_id:
        return spec
    return from_image(spec, await agent.deps.images.client.get(str(image_id)))


async def forget(agent: AgentBase, uuid: str) -> None:
    """Delete the instance's migration images (the recorded one and any a crash left) and
    drop the id from its system_metadata. Never raises: an image service that fails here
    leaves an image (marked, findable), never the move undone."""
    inst = await instances.get(agent.db, uuid)
    sysmeta: dict[str, Any] = dict(inst.system_metadata) if inst is not None else {}
    ids = {str(sysmeta[IMAGE_ID])} if sysmeta.get(IMAGE_ID) else set()
    try:
        for hidden in ("true", "false"):  # hidden; a release before hid none
            found = await agent.deps.images.client.find(
                {"instance_uuid": uuid, "image_type": IMAGE_TYPE, "os_hidden": hidden}
            )
            ids.update(str(i["id"]) for i in found)
    except Exception:
        log.exception("could not list the migration images of %s", uuid)
    for image_id in sorted(ids):
        try:
            await agent.deps.images.delete(image_id)
        except Exception:
            log.exception("could not delete the migration image %s of %s", image_id, uuid)
    if inst is not None and IMAGE_ID in sysmeta:
        sysmeta.pop(IMAGE_ID)
        await instances.cas(agent.db, uuid, change=Change(system_metadata=sysmeta))
