"""Creating a snapshot: checks, quota claim and the row (`creating`) in one transaction, then
the cast to the volume's manager. Used by the snapshots API and by other services through
`volume/client.py` (compute snapshots the volumes of a volume-backed server, `force`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.rpc.base import RpcError
from ministack.volume import models as m
from ministack.volume import quotas
from ministack.volume import states as st
from ministack.volume.core import VolumeCore


@dataclass(frozen=True)
class NewSnapshot:
    """A checked create request."""

    volume_id: str
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    force: bool = False


def _check_consistent(volume: m.Volume, force: bool, auth: Auth) -> None:
    """A forced snapshot of an in-use volume is refused to users: the file backend copies the
    file while a running guest may be writing it, which is not crash-consistent. Only a
    service (compute's `server image create`, which stops nothing but refuses a server whose
    guest runs) may take one."""
    if volume.status == st.IN_USE and force and not auth.has_role("service"):
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} is attached (in-use) and a copy of it taken "
            "while its guest runs would not be crash-consistent, so force=true is refused: "
            "detach it first, or stop the server and use `openstack server image create`."
        )


def _check_status(volume: m.Volume, force: bool) -> None:
    if volume.status == st.IN_USE and not force:
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} is attached (in-use): detach it first "
            "(a snapshot of an attached volume is not crash-consistent)."
        )
    if volume.status not in (st.AVAILABLE, st.IN_USE):
        raise errors.BadRequest(
            f"Invalid volume: Volume {volume.id} status must be available, but current "
            f"status is: {volume.status}."
        )


async def create(core: VolumeCore, auth: Auth, req: NewSnapshot) -> m.Snapshot:
    """Claim quota and commit the snapshot `creating`, then cast the work; 400/404/413
    before anything is written. A manager that cannot be reached leaves it error."""
    async with core.db.writer() as s:
        volume = await core.volume(s, auth, req.volume_id)
        _check_consistent(volume, req.force, auth)
        _check_status(volume, req.force)
        await quotas.claim(
            s,
            core.db,
            volume.project_id,
            {"snapshots": 1, "gigabytes": volume.size},
            await quotas.type_name(s, volume),
        )
        now = utcnow()
        snap = m.Snapshot(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            project_id=volume.project_id,
            user_id=auth.user_id,
            name=req.name,
            description=req.description,
            size=volume.size,
            status=st.CREATING,
            created_at=now,
            updated_at=now,
        )
        s.add(snap)
        await s.flush()
        for key, value in req.metadata.items():
            s.add(m.SnapshotMetadata(snapshot_id=snap.id, key=key, value=value))
        host = volume.host
    try:
        await core.manager(host).create_snapshot(snap.id)
    except RpcError as exc:
        async with core.db.writer() as s:
            row = await s.get(m.Snapshot, snap.id)
            if row is not None:
                row.status, row.fault = st.ERROR, str(exc)
    return snap
