"""The conductor owns the timeouts of transitional states (PROMISES 1, 3, 4): with the clock
moved past `build_timeout` a BUILD instance is ERROR; on a host whose heartbeat is older than
`service_down_time` a delete completes locally. Time is faked by writing old timestamps."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from pathlib import Path

from ministack.common.db import Database, upgrade, utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.conductor import Conductor
from ministack.config import Settings
from ministack.placement.client import PlacementClient

FLAVOR = {"id": "1", "name": "f", "vcpus": 1, "ram": 64, "disk": 1}


def instance(task_state: str, started: dt.datetime, host: str | None) -> m.Instance:
    return m.Instance(
        uuid=str(uuid.uuid4()),
        display_name="x",
        project_id="p",
        user_id="u",
        flavor=FLAVOR,
        vcpus=1,
        memory_mb=64,
        root_gb=1,
        vm_state=states.BUILDING,
        task_state=task_state,
        task_started_at=started,
        host=host,
        metadata_={},
        system_metadata={},
        request_spec={},
        security_groups=[],
    )


async def test_reaper_times_out_builds_and_finishes_deletes_on_down_hosts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    settings = Settings()
    settings = dataclasses.replace(
        settings, compute=dataclasses.replace(settings.compute, build_timeout=600)
    )
    now = utcnow()
    stuck = instance(states.SPAWNING, now - dt.timedelta(seconds=601), "up-host")
    fresh = instance(states.SPAWNING, now, "up-host")
    deleting = instance(states.DELETING, now, "down-host")
    async with db.writer() as s:
        s.add_all([stuck, fresh, deleting])
        s.add(
            ServiceRecord(
                uuid="1",
                host="up-host",
                binary="nova-compute",
                topic="compute",
                disabled=False,
                forced_down=False,
                created_at=now,
                updated_at=now,
            )
        )
        s.add(
            ServiceRecord(
                uuid="2",
                host="down-host",
                binary="nova-compute",
                topic="compute",
                disabled=False,
                forced_down=False,
                created_at=now,
                updated_at=now - dt.timedelta(seconds=61),
            )
        )
    conductor = Conductor(settings, db, bus=None, placement=PlacementClient(db))
    assert await conductor.down_hosts() == {"down-host"}
    await conductor.reap()
    timed_out = await instances.get(db, stuck.uuid)
    assert timed_out is not None and timed_out.vm_state == states.ERROR
    assert timed_out.fault is not None and "took over 600 s" in timed_out.fault["message"]
    still = await instances.get(db, fresh.uuid)
    assert still is not None and still.task_state == states.SPAWNING
    assert await instances.get(db, deleting.uuid) is None
    await db.close()
