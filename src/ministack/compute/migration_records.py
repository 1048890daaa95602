"""Migration records (Nova's `migrations` table, shown by os-migrations): one row per move of
a server between hosts — today the resizes. The API starts a row when a resize is accepted;
the conductor names the destination; the agents and API advance its status as the resize
goes: pre-migrating → migrating → finished → confirming → confirmed, or reverting →
reverted, or error (Nova's statuses)."""

from __future__ import annotations

import uuid as uuidlib

from sqlalchemy import select

from ministack.common.db import Database, utcnow
from ministack.compute import models as m

FINAL = ("confirmed", "reverted", "error", "done", "failed", "completed")


async def start(
    db: Database, inst: m.Instance, old_type_id: int | None, new_type_id: int | None
) -> None:
    """Record a resize of `inst` from its host, status pre-migrating."""
    kind = "resize" if old_type_id != new_type_id else "migration"
    async with db.writer() as s:
        s.add(
            m.Migration(
                uuid=str(uuidlib.uuid4()),
                instance_uuid=inst.uuid,
                project_id=inst.project_id,
                user_id=inst.user_id,
                migration_type=kind,
                status="pre-migrating",
                source_compute=inst.host,
                source_node=inst.node,
                old_instance_type_id=old_type_id,
                new_instance_type_id=new_type_id,
                created_at=utcnow(),
            )
        )


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
