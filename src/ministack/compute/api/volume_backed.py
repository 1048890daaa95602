"""createImage and rebuild of a volume-backed server.

Rebuild (`rebuild_image`): from 2.93 the new image is written onto the root volume by the
volume service (the agent's root_volume.py); before, Nova refuses another image (400) and a
rebuild with the root volume's own image leaves the disk as it is.

createImage, as Nova's snapshot_volume_backed: no disk leaves a
host. Each attached volume gets a volume snapshot (force: it is in use), and the image is
an empty one (size 0, active) whose properties carry the mappings (`block_device_mapping`
as JSON with snapshot sources, `bdm_v2` True, `root_device_name`). Booting from that image
(`block_devices.image_mappings`) makes new volumes from the snapshots.

Where it sits: `resize_actions.create_image` hands a server with no image here; the work is
all in the API process (volume and image clients), under task_state image_snapshot, which
is cleared whatever happens. Only a stopped server (409 otherwise): the begin's
compare-and-swap keeps it stopped while the volume service copies the files, so each
snapshot is consistent (the volume API refuses users a forced snapshot of an in-use volume).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response, json_response
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.api.actions import begin
from ministack.compute.api.common import Api, version
from ministack.compute.instances import Change
from ministack.volume.client import VolumeApi

ROOT_DEVICE = "/dev/vda"
GiB = 1024**3


async def rebuild_image(
    api: Api, inst: m.Instance, image: dict[str, Any], v: tuple[int, int]
) -> str | None:
    """What a rebuild of volume-backed `inst` with `image` writes onto its root volume: the
    image's id from 2.93 (400 when it does not fit the volume), None before, when it must be
    the volume's own image (Nova's ImageUnacceptable, 400, otherwise)."""
    image_id = str(image["id"])
    root = next((b for b in await _attached(api, inst.uuid) if b.boot_index == 0), None)
    if root is None or root.volume_id is None or api.volumes is None:
        raise errors.Conflict(
            f"Cannot 'rebuild' instance {inst.uuid}: it has no attached root volume."
        )
    volume = await api.volumes.get(inst.project_id, root.volume_id)
    if v < (2, 93):
        own = (volume.get("volume_image_metadata") or {}).get("image_id")
        if own != image_id:
            raise errors.BadRequest(
                f"Image {image_id} is unacceptable: Unable to rebuild with a different image "
                "for a volume-backed server."
            )
        return None
    size_gb = int(volume.get("size") or 0)
    needed = max(int(image.get("min_disk") or 0) * GiB, int(image.get("size") or 0))
    if needed > size_gb * GiB:
        raise errors.BadRequest(
            f"Volume is smaller than the minimum size specified in image metadata. Volume size "
            f"is {size_gb * GiB} bytes, minimum size is {needed} bytes."
        )
    return image_id


SNAPSHOT_WAIT = 600.0


async def _attached(api: Api, uuid: str) -> list[m.BlockDeviceMapping]:
    async with api.db.session() as s:
        rows = (
            await s.execute(
                select(m.BlockDeviceMapping)
                .where(
                    m.BlockDeviceMapping.instance_uuid == uuid,
                    m.BlockDeviceMapping.status == states.BDM_ATTACHED,
                )
                .order_by(m.BlockDeviceMapping.id)
            )
        ).scalars()
        return list(rows)


def _entry(bdm: m.BlockDeviceMapping, snapshot: dict[str, Any]) -> dict[str, Any]:
    """One mapping of the image, as Nova writes it (a snapshot source)."""
    return {
        "source_type": "snapshot",
        "destination_type": "volume",
        "snapshot_id": snapshot["id"],
        "volume_id": None,
        "image_id": None,
        "volume_size": int(snapshot["size"]),
        "boot_index": bdm.boot_index,
        "device_name": bdm.device_name,
        "delete_on_termination": bdm.delete_on_termination,
        "tag": bdm.tag,
        "device_type": "disk",
        "disk_bus": "virtio",
        "guest_format": None,
        "no_device": None,
        "connection_info": None,
    }


async def _snapshots(
    client: VolumeApi, inst: m.Instance, name: str, rows: list[m.BlockDeviceMapping]
) -> list[dict[str, Any]]:
    entries = []
    for bdm in rows:
        assert bdm.volume_id is not None
        snap = await client.create_snapshot(
            inst.project_id, bdm.volume_id, f"snapshot for {name}", force=True
        )
        entries.append(_entry(bdm, await _finished(client, inst.project_id, snap)))
    return entries


async def _finished(client: VolumeApi, project_id: str, snap: dict[str, Any]) -> dict[str, Any]:
    """The snapshot once the volume service has copied it (the server stays stopped until
    then); 409 if it failed or took longer than SNAPSHOT_WAIT seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SNAPSHOT_WAIT
    while snap["status"] == "creating" and loop.time() < deadline:
        await asyncio.sleep(0.2)
        snap = await client.get_snapshot(project_id, snap["id"])
    if snap["status"] != "available":
        raise errors.Conflict(
            f"Snapshot {snap['id']} of volume {snap['volume_id']} is {snap['status']}."
        )
    return snap


async def create_image(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    """202 with the new image's id; the volume snapshots finish in the volume service."""
    if api.volumes is None:
        raise errors.ServiceUnavailable("No volume service is configured.")
    name: str = body["name"]
    props = {k: str(v) for k, v in dict(body.get("metadata", {})).items()}
    if inst.vm_state != states.STOPPED:
        raise errors.Conflict(
            f"Cannot 'createImage' instance {inst.uuid} while it is in vm_state "
            f"{inst.vm_state}: a volume-backed server is snapshotted only when stopped (the "
            "volume backend copies the volumes' files, which is crash-consistent only when no "
            "guest writes them); stop the server first."
        )
    await begin(api, auth, inst, "createImage", "createImage", states.IMAGE_SNAPSHOT)
    try:
        entries = await _snapshots(api.volumes, inst, name, await _attached(api, inst.uuid))
        props.update(
            instance_uuid=inst.uuid,
            image_type="snapshot",
            bdm_v2="True",
            root_device_name=ROOT_DEVICE,
            block_device_mapping=json.dumps(entries),
        )
        image_id = await api.images.create_empty(name, inst.project_id, props)
    finally:
        clear = Change(task_state=None)
        await instances.cas(api.db, inst.uuid, task_states=[states.IMAGE_SNAPSHOT], change=clear)
    if version(request) >= (2, 45):
        return json_response({"image_id": image_id}, status=202)
    location = f"{api.settings.endpoint('image')}/v2/images/{image_id}"
    return empty_response(202, headers={"Location": location})
