"""DELETE /servers/{id} with `reclaim_instance_interval` > 0 (Nova's deferred delete): the
server is powered off and kept SOFT_DELETED, restorable until the reclaim pass of its host
deletes it (compute/agent/softdelete.py). A server that never ran, has no host, is already
soft-deleted, shelved or busy with another task is deleted at once, as before; a shelved one
takes its shelved image with it."""

from __future__ import annotations

import logging

from ministack.common.auth import Auth
from ministack.compute import instances, migration_records, states
from ministack.compute import models as m
from ministack.compute.api.common import Api
from ministack.compute.instances import Change

KEPT_FROM = (
    states.ACTIVE,
    states.STOPPED,
    states.PAUSED,
    states.SUSPENDED,
    states.RESCUED,
    states.RESIZED,
    states.ERROR,
)
"""The vm_states a soft delete keeps (the server has a guest on its host)."""
log = logging.getLogger("ministack.compute.api")


async def try_soft_delete(api: Api, auth: Auth, inst: m.Instance) -> bool:
    """Start a soft delete when the settings and the server allow one; whether it began."""
    if api.settings.compute.reclaim_instance_interval <= 0:
        return False
    if inst.host is None or inst.launched_at is None or inst.vm_state not in KEPT_FROM:
        return False
    won = await instances.cas(
        api.db,
        inst.uuid,
        vm_states=[inst.vm_state],
        task_states=[None],
        change=Change(task_state=states.SOFT_DELETING),
    )
    if not won:
        return False
    await instances.add_action(api.db, inst.uuid, "delete", auth.user_id, inst.project_id)
    await api.agent(inst.host).soft_delete_instance(inst.uuid, inst.vm_state)
    return True


async def forget_shelved_image(api: Api, inst: m.Instance) -> None:
    """A shelved server being deleted takes its shelved image with it (Nova), a resized one
    the image carrying its disk to the new host; an image service that fails here leaves the
    image, never the server."""
    sysmeta = inst.system_metadata or {}
    image_id = sysmeta.get("shelved_image_id")
    if inst.vm_state not in (states.SHELVED, states.SHELVED_OFFLOADED):
        image_id = sysmeta.get(migration_records.MIGRATION_IMAGE_ID)
    if not image_id:
        return
    try:
        await api.images.delete(str(image_id))
    except Exception:
        log.exception("could not delete the shelved image %s of %s", image_id, inst.uuid)
