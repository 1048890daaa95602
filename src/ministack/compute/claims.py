"""What an instance holds and how it gives it back: its allocation on a compute node in
placement, server group membership and (while its row is live) its quota.

Shared by the API (local delete on a down host), the conductor (reaper, resize) and the
agents (delete, resize), so it sits below all three.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from typing import Any

from sqlalchemy import select

from ministack.common.db import Database
from ministack.compute import instances, migration_records
from ministack.compute import models as m
from ministack.placement.client import PlacementClient

log = logging.getLogger("ministack.compute")
NODE_NAMESPACE = uuidlib.UUID("6f1b3f8e-5c1a-4d8e-9b59-2f3c8e1a7d40")


def node_uuid(hypervisor_hostname: str) -> str:
    """The compute node's (and its resource provider's) uuid, stable across restarts."""
    return str(uuidlib.uuid5(NODE_NAMESPACE, hypervisor_hostname))


async def local_delete(placement: PlacementClient, db: Database, uuid: str) -> None:
    """Free everything the instance holds in the database: placement allocations, server
    group membership and (by marking the row deleted) its quota. Idempotent."""
    await placement.release(uuid)
    async with db.writer() as s:
        for group in (await s.execute(select(m.ServerGroup))).scalars():
            if uuid in group.members:
                group.members = [u for u in group.members if u != uuid]
    await instances.mark_deleted(db, uuid)


async def claim_flavor(
    placement: PlacementClient, uuid: str, host: str, flavor: dict[str, Any], inst: m.Instance
) -> None:
    """Make the instance's allocation on `host` that of `flavor` (replacing what it held
    there). Used on the same host to give back the old flavor's allocation; logged, never
    raised, when it no longer fits (the guest exists and runs with that flavor anyway)."""
    resources = {
        "VCPU": int(flavor["vcpus"]),
        "MEMORY_MB": int(flavor["ram"]),
        "DISK_GB": int(flavor["disk"]) + int(flavor.get("ephemeral", 0) or 0),
    }
    problem = await placement.claim(
        uuid,
        node_uuid(host),
        resources,
        project_id=inst.project_id,
        user_id=inst.user_id,
    )
    if problem is not None:
        log.warning("could not give %s its %s allocation back: %s", uuid, host, problem)


async def hold_source(placement: PlacementClient, db: Database, uuid: str, source: str) -> None:
    """A server leaves `source`: its allocation there now belongs to its open migration (the
    migration's uuid as consumer, as Nova), so the server's own is the destination's."""
    mig = await migration_records.open_row(db, uuid)
    if mig is not None:
        await placement.move(uuid, mig.uuid, node_uuid(source))


async def return_source(placement: PlacementClient, db: Database, uuid: str, source: str) -> None:
    """A move is undone: the source allocation its open migration held is the server's again."""
    mig = await migration_records.open_row(db, uuid)
    if mig is not None:
        await placement.move(mig.uuid, uuid, node_uuid(source))


async def drop_source(placement: PlacementClient, db: Database, uuid: str, source: str) -> None:
    """A move is done: free the source allocation (held by the open migration, or by the
    server itself for a move that began before migrations held it)."""
    mig = await migration_records.open_row(db, uuid)
    if mig is not None:
        await placement.release(mig.uuid)
    await placement.release(uuid, node_uuid(source))
