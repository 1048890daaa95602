"""Migration records (Nova's `migrations` table, shown by os-migrations): one row per move of
a server between hosts: resizes and cold migrations (type `resize`, `migration`), live
migrations (`live-migration`) and evacuations (`evacuation`). The API starts a row when the
move is accepted; the conductor names the destination; the agents and API advance its status:

- resize/migration: pre-migrating → migrating → finished → confirming → confirmed, or
  reverting → reverted, or error;
- live-migration: queued → preparing → running → completed, or failed, or cancelled (abort);
- evacuation: accepted → pre-migrating → done (rebuilt elsewhere) → completed (the source's
  agent reaped the old guest when it came back), or failed (Nova's statuses).

While a server moves between hosts its allocation on the source belongs to the migration's
uuid as placement consumer (as in Nova) and goes back to the server if the move is undone."""

from __future__ import annotations

import uuid as uuidlib

from sqlalchemy import select

from ministack.common.db import Database, utcnow
from ministack.compute import models as m

FINAL = ("confirmed", "reverted", "error", "done", "failed", "completed", "cancelled")
REQUESTED_HOST = "migrate_to_host"
"""System metadata: the host a cold migrate named (the API writes it, the conductor reads it)."""
EVACUATE_STOPPED = "evacuate_stopped"
"""System metadata: the evacuated instance ends stopped (2.95; the API writes it, the
destination's agent reads it)."""
MIGRATION_IMAGE_ID = "migration_image_id"
"""System metadata: the image carrying the disk of a resize or cold migration between hosts
(the source's agent writes it, the conductor keeps it, the destination spawns from it)."""
LIVE_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")


async def start(
    db: Database,
    inst: m.Instance,
    old_type_id: int | None,
    new_type_id: int | None,
    *,
    kind: str | None = None,
    status: str = "pre-migrating",
    dest: str | None = None,
) -> m.Migration:
    """Record a move of `inst` from its host (a resize when the flavors differ, else a cold
    migration, unless `kind` says), status pre-migrating unless `status` says."""
    kind = kind or ("resize" if old_type_id != new_type_id else "migration")
    async with db.writer() as s:
        row = m.Migration(
            uuid=str(uuidlib.uuid4()),
            instance_uuid=inst.uuid,
            project_id=inst.project_id,
            user_id=inst.user_id,
            migration_type=kind,
            status=status,
            source_compute=inst.host,
            source_node=inst.node,
            dest_compute=dest,
            dest_node=dest,
            old_instance_type_id=old_type_id,
            new_instance_type_id=new_type_id,
            created_at=utcnow(),
        )
        s.add(row)
    return row


async def advance(db: Database, instance_uuid: str, status: str, dest: str | None = None) -> None:
    """Move the server's open migration (the newest not yet final) to `status`, naming its
    destination host when given. Does nothing when there is no open migration."""
    async with db.writer() as s:
        row = await s.scalar(
            select(m.Migration)
            .where(m.Migration.instance_uuid == instance_uuid, m.Migration.status.not_in(FINAL))
            .order_by(m.Migration.id.desc())
            .limit(1)
        )
        if row is None:
            return
        row.status = status
        row.updated_at = utcnow()
        if dest is not None:
            row.dest_compute = row.dest_node = dest


async def open_row(db: Database, instance_uuid: str) -> m.Migration | None:
    """The server's open migration (the newest not yet final), or None."""
    async with db.session() as s:
        found: m.Migration | None = await s.scalar(
            select(m.Migration)
            .where(m.Migration.instance_uuid == instance_uuid, m.Migration.status.not_in(FINAL))
            .order_by(m.Migration.id.desc())
            .limit(1)
        )
        return found


async def get(db: Database, migration_id: int) -> m.Migration | None:
    async with db.session() as s:
        return await s.get(m.Migration, migration_id)


async def move_status(
    db: Database, migration_id: int, status: str, *, from_statuses: tuple[str, ...] = ()
) -> bool:
    """Set one migration's status (only from `from_statuses` when given); whether it moved."""
    async with db.writer() as s:
        row = await s.get(m.Migration, migration_id)
        if row is None or (from_statuses and row.status not in from_statuses):
            return False
        row.status = status
        row.updated_at = utcnow()
        return True


async def discard(db: Database, migration_id: int) -> None:
    """Remove a migration recorded for a request that was then refused (nothing half-made)."""
    async with db.writer() as s:
        row = await s.get(m.Migration, migration_id)
        if row is not None:
            await s.delete(row)
