"""Boot from volume at POST /servers: check `block_device_mapping_v2` as Nova does before
anything is written (400s naming the mapping), and turn it into block device mapping rows.

Where it sits: `server_create._plan` calls `plan_boot` after the schema check; the rows are
inserted with the instance in the create transaction (status `creating` for a volume compute
must still make from an image, snapshot or nothing, `attaching` for an existing volume); the
host's agent (`compute/agent/block_devices.py`) makes, waits for and attaches the volumes
before the spawn. A mapping `image → local` at boot index 0 is an ordinary image boot (the
`openstack` CLI sends one with every `--image`).
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database
from ministack.compute import models as m
from ministack.compute.api.common import Api
from ministack.volume.client import VolumeApi

GiB = 1024**3
# compute_block_device_mappings.status of a boot mapping until the build's agent takes it up:
# a volume compute must make, or an existing volume it must attach (states.BDM_TRANSITIONAL)
CREATING, PENDING = "creating", "pending"
_BOOT_SEQUENCE = (
    "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device "
    "mapping combination is not valid."
)


@dataclass(frozen=True)
class Mapping:
    """One checked block_device_mapping_v2 entry whose destination is a volume."""

    source_type: str  # volume, image, snapshot, blank
    source_id: str | None
    boot_index: int | None
    volume_size: int | None
    delete_on_termination: bool
    device_name: str | None = None
    tag: str | None = None
    volume_type: str | None = None


@dataclass
class BootPlan:
    """What the mappings ask for: the volumes, whether the root disk is one, and the image
    (if any) whose properties the guest gets."""

    mappings: list[Mapping] = field(default_factory=list)
    volume_backed: bool = False
    image: dict[str, Any] = field(default_factory=dict)


def _boot_index(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Block Device Mapping is Invalid: boot_index {raw!r}.") from None


def _truthy(raw: Any) -> bool:
    return raw is True or str(raw).lower() in ("1", "t", "true", "on", "y", "yes")


def _size(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Block Device Mapping is Invalid: volume_size {raw!r}.") from None
    if size < 0:
        raise errors.BadRequest(f"Block Device Mapping is Invalid: volume_size {raw!r}.")
    return size


def _mapping(raw: dict[str, Any]) -> Mapping | None:
    """A volume mapping, or None for the image → local mapping of an image boot."""
    source = raw.get("source_type")
    if source is None:
        # a legacy-style entry in v2: a volume_id or snapshot_id names the source
        source = "snapshot" if raw.get("snapshot_id") else "volume"
    destination = raw.get("destination_type") or ("local" if source == "image" else "volume")
    ident = raw.get("uuid") or raw.get("volume_id") or raw.get("snapshot_id")
    ident = ident or raw.get("image_id")
    boot_index = _boot_index(raw.get("boot_index"))
    if destination == "local":
        if source == "image" and boot_index == 0:
            return None
        raise errors.BadRequest(
            "Block Device Mapping is Invalid: local disks other than the image's root disk "
            f"(source_type {source}, destination_type local) are not supported here."
        )
    if source != "blank" and not ident:
        raise errors.BadRequest("Block Device Mapping is Invalid: Missing device UUID.")
    device = raw.get("device_name")
    if device and not str(device).startswith("/dev/"):
        device = f"/dev/{device}"
    return Mapping(
        source_type=str(source),
        source_id=str(ident) if ident else None,
        boot_index=boot_index,
        volume_size=_size(raw.get("volume_size")),
        # Nova's default: a volume the user gave or compute made is kept after delete
        delete_on_termination=_truthy(raw.get("delete_on_termination")),
        device_name=device or None,
        tag=raw.get("tag"),
        volume_type=raw.get("volume_type") or None,
    )


def _check_sequence(mappings: list[Mapping], image_ref: str) -> None:
    """Nova's boot sequence: boot indexes 0..n-1 with no gap; a root disk comes from the
    image or a mapping at boot index 0, never from both or neither."""
    indexes = sorted(
        b.boot_index for b in mappings if b.boot_index is not None and b.boot_index >= 0
    )
    if image_ref:
        indexes = sorted([0, *indexes]) if 0 not in indexes else indexes
    if not indexes or indexes != list(range(len(indexes))):
        raise errors.BadRequest(_BOOT_SEQUENCE)


def _client(api: Api) -> VolumeApi:
    if api.volumes is None:
        raise errors.BadRequest(
            "Block Device Mapping is Invalid: no volume service is configured in this cloud."
        )
    return api.volumes


async def _owned(fetch: Awaitable[Any], auth: Auth, kind: str, b: Mapping) -> dict[str, Any]:
    """The volume or snapshot a mapping names, when the caller may use it (its project's, or
    any for an admin); Nova's 400 "failed to get <kind>" otherwise."""
    found: dict[str, Any] | None
    try:
        found = await fetch
    except errors.NotFound:
        found = None
    if found is None or (found.get("project_id") != auth.project_id and not auth.is_admin):
        raise errors.BadRequest(
            f"Block Device Mapping is Invalid: failed to get {kind} {b.source_id}."
        )
    return found


async def _check_volume(api: Api, auth: Auth, b: Mapping) -> Mapping:
    assert b.source_id is not None
    vol = await _owned(_client(api).get(auth.project_id or "", b.source_id), auth, "volume", b)
    if vol["status"] != "available":
        raise errors.BadRequest(
            f"Invalid volume: volume '{b.source_id}' status must be 'available'. Currently in "
            f"'{vol['status']}'"
        )
    if b.boot_index == 0 and str(vol.get("bootable")).lower() != "true":
        raise errors.BadRequest(f"Block Device {b.source_id} is not bootable.")
    return b


async def _check_snapshot(api: Api, auth: Auth, b: Mapping) -> Mapping:
    assert b.source_id is not None
    found = _client(api).get_snapshot(auth.project_id or "", b.source_id)
    snap = await _owned(found, auth, "snapshot", b)
    if snap["status"] != "available":
        raise errors.BadRequest(
            f"Invalid snapshot: snapshot {b.source_id} status must be 'available'. Currently "
            f"in '{snap['status']}'"
        )
    size = b.volume_size or int(snap["size"])
    if size < int(snap["size"]):
        raise errors.BadRequest(
            f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
            f"snapshot size {snap['size']}GB."
        )
    return replace(b, volume_size=size)


async def _check_image(api: Api, auth: Auth, b: Mapping) -> tuple[Mapping, dict[str, Any]]:
    assert b.source_id is not None
    try:
        image = await api.images.lookup(b.source_id, auth.project_id, auth.is_admin)
    except errors.BadRequest:
        raise errors.BadRequest(
            f"Block Device Mapping is Invalid: failed to get image {b.source_id}."
        ) from None
    if not b.volume_size:
        raise errors.BadRequest(
            "Block Device Mapping is Invalid: Images with destination_type 'volume' need to "
            "have a non-zero size specified"
        )
    need = max(
        int(image.get("size") or 0),
        int(image.get("virtual_size") or 0),
        int(image.get("min_disk") or 0) * GiB,
    )
    if need > b.volume_size * GiB:
        raise errors.BadRequest(
            "Volume is smaller than the minimum size specified in image metadata. Volume size "
            f"is {b.volume_size * GiB} bytes, minimum size is {need} bytes."
        )
    return b, image


async def _check(api: Api, auth: Auth, b: Mapping) -> tuple[Mapping, dict[str, Any] | None]:
    if b.source_type == "volume":
        return await _check_volume(api, auth, b), None
    if b.source_type == "snapshot":
        return await _check_snapshot(api, auth, b), None
    if b.source_type == "image":
        return await _check_image(api, auth, b)
    if not b.volume_size:
        raise errors.BadRequest(
            "Block Device Mapping is Invalid: a blank volume needs a non-zero volume_size."
        )
    if b.boot_index == 0:
        raise errors.BadRequest(_BOOT_SEQUENCE)
    return b, None


def image_mappings(image: dict[str, Any]) -> list[dict[str, Any]]:
    """The mappings an image carries (a snapshot of a volume-backed server: Nova's
    `block_device_mapping` property with `bdm_v2`), as request entries."""
    raw = image.get("block_device_mapping")
    if not raw or str(image.get("bdm_v2")).lower() != "true":
        return []
    try:
        entries = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


async def plan_boot(
    api: Api, auth: Auth, body: dict[str, Any], image_ref: str, max_count: int
) -> BootPlan:
    """Check the request's mappings (400 on the first bad one) and say what they make."""
    raw = list(body.get("block_device_mapping_v2") or [])
    carried_image: dict[str, Any] = {}
    for legacy in body.get("block_device_mapping") or []:
        raw.append({**legacy, "boot_index": 0 if _is_root(legacy) else None})
    if image_ref and not any(
        r.get("boot_index") in (0, "0") and r.get("source_type") != "image" for r in raw
    ):
        image = await api.images.lookup(image_ref, auth.project_id, auth.is_admin)
        carried = image_mappings(image)
        if carried:
            raw = carried + [r for r in raw if r.get("source_type") != "image"]
            image_ref, carried_image = "", image
    mappings = [b for b in (_mapping(r) for r in raw) if b is not None]
    root_volume = any(b.boot_index == 0 for b in mappings)
    _check_sequence(mappings, "" if root_volume else image_ref)
    if any(b.source_type == "volume" for b in mappings) and max_count > 1:
        raise errors.BadRequest(
            "Block Device Mapping is Invalid: one volume cannot be given to several "
            "servers; create them one by one."
        )
    ids = [b.source_id for b in mappings if b.source_type == "volume"]
    if len(ids) != len(set(ids)):
        raise errors.BadRequest("Block Device Mapping is Invalid: a volume is given twice.")
    plan = BootPlan(volume_backed=root_volume, image=carried_image)
    for b in mappings:
        checked, source = await _check(api, auth, b)
        plan.mappings.append(checked)
        if source is not None and checked.boot_index == 0:
            plan.image = source
    return plan


def _is_root(legacy: dict[str, Any]) -> bool:
    return str(legacy.get("device_name") or "").removeprefix("/dev/") in ("vda", "sda", "xvda")


def _devices(mappings: list[Mapping], volume_backed: bool) -> list[str]:
    """Device names: the root volume is /dev/vda; the others take the next free letters."""
    taken = {b.device_name for b in mappings if b.device_name}
    if volume_backed:
        taken.add("/dev/vda")
    free = [f"/dev/vd{c}" for c in "bcdefghijklmnopqrstuvwxyz" if f"/dev/vd{c}" not in taken]
    out = []
    for b in mappings:
        if b.boot_index == 0:
            out.append("/dev/vda")
        elif b.device_name and b.device_name != "/dev/vda":
            out.append(b.device_name)
        else:
            out.append(free.pop(0))
    return out


async def volumes_of(db: Database, uuids: list[str]) -> dict[str, list[tuple[str, bool]]]:
    """Each server's volumes (id, delete_on_termination), in mapping order: the server
    view's os-extended-volumes:volumes_attached."""
    out: dict[str, list[tuple[str, bool]]] = {}
    if not uuids:
        return out
    async with db.session() as s:
        rows = await s.execute(
            select(
                m.BlockDeviceMapping.instance_uuid,
                m.BlockDeviceMapping.volume_id,
                m.BlockDeviceMapping.delete_on_termination,
            )
            .where(
                m.BlockDeviceMapping.instance_uuid.in_(uuids),
                m.BlockDeviceMapping.volume_id.is_not(None),
            )
            .order_by(m.BlockDeviceMapping.id)
        )
        for uuid, volume_id, dot in rows.all():
            out.setdefault(uuid, []).append((str(volume_id), bool(dot)))
    return out


def rows_for(inst: m.Instance, plan: BootPlan) -> list[m.BlockDeviceMapping]:
    """The mapping rows of one new instance (inserted with it)."""
    rows = []
    for b, device in zip(plan.mappings, _devices(plan.mappings, plan.volume_backed), strict=True):
        existing = b.source_type == "volume"
        rows.append(
            m.BlockDeviceMapping(
                uuid=str(uuidlib.uuid4()),
                instance_uuid=inst.uuid,
                project_id=inst.project_id,
                volume_id=b.source_id if existing else None,
                device_name=device,
                boot_index=b.boot_index if b.boot_index is not None and b.boot_index >= 0 else None,
                tag=b.tag,
                delete_on_termination=b.delete_on_termination,
                status=PENDING if existing else CREATING,
                source_type=b.source_type,
                destination_type="volume",
                image_id=b.source_id if b.source_type == "image" else None,
                snapshot_id=b.source_id if b.source_type == "snapshot" else None,
                volume_size=b.volume_size,
                volume_type=b.volume_type,
            )
        )
    return rows
