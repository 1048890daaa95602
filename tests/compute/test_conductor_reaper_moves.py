"""The conductor's reaper and moves between hosts (PROMISES 4): a server being evacuated off its
down host is not failed for that host being down (the race between the API's accepting the
evacuation and the conductor's moving it), while a rebuild on a down host still is; a live
migration whose source is down is given up — the migration failed, the destination's
allocation freed and the source's, held by the migration, the server's again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from ministack.common.db import Database, upgrade, utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import instances, migration_records, states
from ministack.compute.claims import node_uuid
from ministack.compute.conductor import Conductor
from ministack.config import Settings
from ministack.placement import models as pm
from ministack.placement.client import InventorySpec, PlacementClient
from tests.compute.test_conductor_reaper import instance

RESOURCES = {"VCPU": 1, "MEMORY_MB": 64, "DISK_GB": 1}


def service(host: str, forced_down: bool) -> ServiceRecord:
    now = utcnow()
    return ServiceRecord(
        uuid=f"svc-{host}",
        host=host,
        binary="nova-compute",
        topic="compute",
        disabled=False,
        forced_down=forced_down,
        created_at=now,
        updated_at=now,
    )


async def held(db: Database, consumer: str) -> set[str]:
    """The providers (uuids) where `consumer` holds an allocation."""
    async with db.session() as s:
        rows = await s.execute(
            select(pm.ResourceProvider.uuid)
            .join(pm.Allocation, pm.Allocation.provider_id == pm.ResourceProvider.id)
            .where(pm.Allocation.consumer_id == consumer)
        )
        return set(rows.scalars())


async def test_reaper_spares_evacuations_and_gives_up_live_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    placement = PlacementClient(db)
    for host in ("down", "up"):
        inventory = {rc: InventorySpec(total=64 if rc != "MEMORY_MB" else 4096) for rc in RESOURCES}
        await placement.ensure_provider(node_uuid(host), host, inventory)
    now = utcnow()
    evacuated = instance(states.REBUILDING, now, "down")
    rebuilding = instance(states.REBUILDING, now, "down")
    migrating = instance(states.MIGRATING, now, "down")
    for inst in (evacuated, rebuilding, migrating):
        inst.vm_state = states.ACTIVE
    async with db.writer() as s:
        s.add_all([evacuated, rebuilding, migrating, service("down", True), service("up", False)])
    await migration_records.start(db, evacuated, 1, 1, kind="evacuation", status="accepted")
    live = await migration_records.start(
        db, migrating, 1, 1, kind="live-migration", status="running", dest="up"
    )
    # mid-copy: the server holds the destination, the migration the source
    for consumer, host in ((live.uuid, "down"), (migrating.uuid, "up")):
        assert await placement.claim(consumer, node_uuid(host), RESOURCES) is None

    await Conductor(Settings(), db, bus=None, placement=placement).reap()

    spared = await instances.get(db, evacuated.uuid)
    assert spared is not None and spared.task_state == states.REBUILDING
    failed = await instances.get(db, rebuilding.uuid)
    assert failed is not None and failed.vm_state == states.ERROR
    given_up = await instances.get(db, migrating.uuid)
    assert given_up is not None and given_up.task_state is None
    assert given_up.vm_state == states.ACTIVE
    row = await migration_records.get(db, live.id)
    assert row is not None and row.status == "failed"
    assert await held(db, migrating.uuid) == {node_uuid("down")}
    assert await held(db, live.uuid) == set()
    await db.close()
