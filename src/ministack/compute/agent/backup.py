"""createBackup on this host: the guest's disk uploaded into the queued backup image (task_state
image_backup → image_uploading), then the rotation: of the instance's backups of that type,
only the newest `rotation` are kept (Nova's _rotate_backups; the new one always counts as the
newest). On failure the new image is deleted and the reason is in the action's event."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from ministack.compute import states
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.task import InstanceTask, instance_task
from ministack.compute.instances import Change
from ministack.compute.rpcapi.agent_lifecycle import Backup

log = logging.getLogger("ministack.compute.agent")
_BACKING_UP = (states.IMAGE_BACKUP, states.IMAGE_UPLOADING)


async def backup(agent: AgentBase, req: Backup) -> None:
    """Never raises: every outcome is written to the instance and its events."""
    uuid = req.instance_uuid

    async def failed(task: InstanceTask, exc: Exception) -> None:
        await agent.deps.images.delete(req.image_id)
        await task.settle(Change(task_state=None), task_states=_BACKING_UP)

    event = "compute_backup_instance"
    async with instance_task(agent, uuid, event, on_failure=failed, lock=False) as task:
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / "backup"
            uploading = Change(task_state=states.IMAGE_UPLOADING)
            await task.settle(uploading, task_states=[states.IMAGE_BACKUP])
            disk_format = await agent.driver.snapshot(uuid, dest)
            await agent.deps.images.upload(req.image_id, dest, disk_format)
        await task.settle(Change(task_state=None), task_states=_BACKING_UP)
        await rotate(agent, req)


async def rotate(agent: AgentBase, req: Backup) -> None:
    """Delete the instance's backups of the type beyond the newest `req.rotation`."""
    found = await agent.deps.images.backups(req.instance_uuid, req.backup_type)
    newest_first = sorted(
        found,
        key=lambda i: (i["id"] == req.image_id, str(i.get("created_at", "")), i["id"]),
        reverse=True,
    )
    for image in newest_first[req.rotation :]:
        log.info("rotating out backup %s of %s", image["id"], req.instance_uuid)
        await agent.deps.images.delete(str(image["id"]))
