"""Benchmark: the scheduler placing instances on 10,000 fake hosts (filters, weighers and an
atomic placement claim per instance). Target: >= 500 placements/s.

Baseline in the same run: the placement claim alone (no filtering or weighing), on the same
database. Usage: python bench/scheduler_placement.py [hosts] [instances] (default 10000 each).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from ministack.common.db import Database, upgrade, utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import models as m
from ministack.compute.claims import node_uuid
from ministack.compute.scheduler.manager import Scheduler
from ministack.config import Settings
from ministack.placement import models as pm
from ministack.placement.client import PlacementClient

FLAVOR = {"id": "1", "vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "extra_specs": {}}


async def seed(db: Database, hosts: int) -> None:
    now = utcnow()
    names = [f"bench-{i}" for i in range(hosts)]
    async with db.writer() as s:
        await s.execute(
            insert(ServiceRecord),
            [
                {
                    "uuid": str(uuid.uuid4()),
                    "host": n,
                    "binary": "nova-compute",
                    "topic": "compute",
                    "disabled": False,
                    "forced_down": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in names
            ],
        )
        await s.execute(
            insert(m.ComputeNode),
            [
                {
                    "uuid": node_uuid(n),
                    "host": n,
                    "hypervisor_hostname": n,
                    "hypervisor_type": "fake",
                    "hypervisor_version": 1,
                    "vcpus": 16,
                    "memory_mb": 32768,
                    "local_gb": 1024,
                    "cpu_info": "{}",
                    "architecture": "x86_64",
                    "host_ip": "127.0.0.1",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in names
            ],
        )
        await s.execute(
            insert(pm.ResourceProvider),
            [
                {
                    "id": i + 1,
                    "uuid": node_uuid(n),
                    "name": n,
                    "generation": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, n in enumerate(names)
            ],
        )
        rows = []
        for i in range(hosts):
            rows += [
                {
                    "provider_id": i + 1,
                    "resource_class": "VCPU",
                    "total": 16,
                    "reserved": 0,
                    "min_unit": 1,
                    "max_unit": 16,
                    "step_size": 1,
                    "allocation_ratio": 16.0,
                },
                {
                    "provider_id": i + 1,
                    "resource_class": "MEMORY_MB",
                    "total": 32768,
                    "reserved": 512,
                    "min_unit": 1,
                    "max_unit": 32768,
                    "step_size": 1,
                    "allocation_ratio": 1.5,
                },
                {
                    "provider_id": i + 1,
                    "resource_class": "DISK_GB",
                    "total": 1024,
                    "reserved": 0,
                    "min_unit": 1,
                    "max_unit": 1024,
                    "step_size": 1,
                    "allocation_ratio": 1.0,
                },
            ]
        await s.execute(insert(pm.Inventory), rows)


async def run(url: str, hosts: int, count: int) -> None:
    db = Database(url)
    await seed(db, hosts)
    placement = PlacementClient(db)
    # Baseline: claims alone, round-robin over the providers.
    n_base = min(count, 2000)
    started = time.perf_counter()
    for i in range(n_base):
        assert (
            await placement.claim(
                f"base-{i}",
                node_uuid(f"bench-{i % hosts}"),
                {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1},
            )
            is None
        )
    base_rate = n_base / (time.perf_counter() - started)
    settings = Settings()
    # No agents heartbeat in this benchmark: keep the seeded hosts up for its whole length.
    compute = dataclasses.replace(settings.compute, service_down_time=10**7)
    scheduler = Scheduler(dataclasses.replace(settings, compute=compute), db, placement)
    load_started = time.perf_counter()
    await scheduler.cache.load()
    load_s = time.perf_counter() - load_started
    scheduler.cache.max_age = 3600.0
    spec = {"flavor": FLAVOR, "project_id": "p", "user_id": "u"}

    async def place(n: int) -> None:
        for _ in range(n):
            answer = await scheduler.select([str(uuid.uuid4())], spec, [])
            assert answer.error is None, answer

    n_seq = min(1000, count)
    started = time.perf_counter()
    await place(n_seq)
    seq_rate = n_seq / (time.perf_counter() - started)
    workers = 32
    started = time.perf_counter()
    await asyncio.gather(*(place(count // workers) for _ in range(workers)))
    rate = (count // workers * workers) / (time.perf_counter() - started)
    await db.close()
    print(f"hosts: {hosts}, instances placed: {count}")
    print(f"host view load ({hosts} hosts):          {load_s * 1000:8.1f} ms")
    print(f"baseline: placement claim alone:       {base_rate:8.1f} claims/s")
    print(f"scheduler, one request at a time:      {seq_rate:8.1f} placements/s")
    print(f"scheduler, 32 requests in flight:      {rate:8.1f} placements/s (target >= 500)")


def main() -> None:
    hosts = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    tmp = Path(tempfile.mkdtemp(prefix="bench-sched-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    asyncio.run(run(url, hosts, count))


if __name__ == "__main__":
    main()
