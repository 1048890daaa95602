"""The typed client other services use for placement: providers, inventories, allocations.

It works on the placement tables directly (same database), so it is usable from any process
that runs compute agents or the scheduler. Claims are atomic: the provider row is locked
(BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on PostgreSQL) while usage is summed and the
allocation written, so concurrent claims never over-commit a provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common.db import Database, utcnow
from ministack.placement import models as m


@dataclass(frozen=True)
class InventorySpec:
    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: int | None = None
    step_size: int = 1

    def capacity(self) -> int:
        """How much may be allocated in all: (total - reserved) * allocation_ratio."""
        return int((self.total - self.reserved) * self.allocation_ratio)


@dataclass(frozen=True)
class _Claim:
    consumer_id: str
    provider_uuid: str
    resources: dict[str, int]
    project_id: str
    user_id: str


@dataclass
class _Provider:
    """A provider's capacity and usage while a batch of claims is checked."""

    id: int
    name: str
    capacity: dict[str, int] = field(default_factory=dict)
    max_unit: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)

    def check(self, claim: _Claim, mine: dict[tuple[str, int, str], int]) -> str | None:
        for rc, amount in claim.resources.items():
            if amount <= 0:
                continue
            if rc not in self.capacity:
                return f"{self.name} has no {rc} inventory"
            used = self.used.get(rc, 0) - mine.get((claim.consumer_id, self.id, rc), 0)
            if used + amount > self.capacity[rc] or amount > self.max_unit[rc]:
                return f"{self.name} has {self.capacity[rc] - used} {rc} free, {amount} requested"
        return None

    def take(self, claim: _Claim, mine: dict[tuple[str, int, str], int]) -> list[dict[str, Any]]:
        out = []
        for rc, amount in claim.resources.items():
            key = (claim.consumer_id, self.id, rc)
            self.used[rc] = self.used.get(rc, 0) - mine.get(key, 0) + max(amount, 0)
            mine[key] = max(amount, 0)
            out.append(
                {
                    "provider_id": self.id,
                    "consumer_id": claim.consumer_id,
                    "resource_class": rc,
                    "used": max(amount, 0),
                    "project_id": claim.project_id,
                    "user_id": claim.user_id,
                }
            )
        return out


BATCH = 200
"""Most claims committed in one transaction."""


class PlacementClient:
    """Resource providers and allocations. Every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[_Claim, asyncio.Future[str | None]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def ensure_provider(
        self, uuid: str, name: str, inventories: Mapping[str, InventorySpec]
    ) -> None:
        """Create the provider if missing and set its inventories. Idempotent."""
        async with self.db.writer() as s:
            rp = (
                await s.execute(select(m.ResourceProvider).where(m.ResourceProvider.uuid == uuid))
            ).scalar_one_or_none()
            if rp is None:
                rp = m.ResourceProvider(uuid=uuid, name=name, generation=0)
                s.add(rp)
                await s.flush()
            rp.generation += 1
            rp.updated_at = utcnow()
            await s.execute(delete(m.Inventory).where(m.Inventory.provider_id == rp.id))
            for rc, inv in inventories.items():
                s.add(
                    m.Inventory(
                        provider_id=rp.id,
                        resource_class=rc,
                        total=inv.total,
                        reserved=inv.reserved,
                        min_unit=inv.min_unit,
                        max_unit=inv.max_unit if inv.max_unit is not None else inv.total,
                        step_size=inv.step_size,
                        allocation_ratio=inv.allocation_ratio,
                    )
                )

    async def claim(
        self,
        consumer_id: str,
        provider_uuid: str,
        resources: Mapping[str, int],
        *,
        project_id: str = "",
        user_id: str = "",
    ) -> str | None:
        """Allocate `resources` on the provider to the consumer, replacing the consumer's
        allocations there. Atomic. Returns None on success or, when it does not fit, the
        reason in words (nothing is written then).

        Claims made concurrently are committed together (group commit): each is checked and
        written in turn inside one write transaction, so the answer is the same as one by one.
        """
        claim = _Claim(consumer_id, provider_uuid, dict(resources), project_id, user_id)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._pending.append((claim, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="placement-claims")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[:BATCH]
            del self._pending[:BATCH]
            try:
                async with self.db.writer() as s:
                    results = await self._claim_batch(s, [c for c, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _claim_batch(self, s: AsyncSession, claims: list[_Claim]) -> list[str | None]:
        """Check and write claims in order inside one transaction (four statements in all):
        lock and read the providers' inventories and usage, check each claim against what
        the claims before it took, upsert the allocations, bump the generations."""
        rp_t, inv_t, alloc_t = (
            m.ResourceProvider.__table__,
            m.Inventory.__table__,
            m.Allocation.__table__,
        )
        uuids = sorted({c.provider_uuid for c in claims})
        query = (
            select(
                rp_t.c.id,
                rp_t.c.uuid,
                rp_t.c.name,
                inv_t.c.resource_class,
                inv_t.c.total,
                inv_t.c.reserved,
                inv_t.c.allocation_ratio,
                inv_t.c.max_unit,
            )
            .select_from(rp_t.join(inv_t, inv_t.c.provider_id == rp_t.c.id))
            .where(rp_t.c.uuid.in_(uuids))
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(of=rp_t)
        providers: dict[str, _Provider] = {}
        for row in await s.execute(query):
            found = providers.setdefault(row[1], _Provider(int(row[0]), row[2]))
            found.capacity[row[3]] = int((row[4] - row[5]) * row[6])
            found.max_unit[row[3]] = int(row[7])
        by_id = {p.id: p for p in providers.values()}
        ids = list(by_id)
        mine: dict[tuple[str, int, str], int] = {}
        if ids:
            for pid, rc, total in await s.execute(
                select(alloc_t.c.provider_id, alloc_t.c.resource_class, func.sum(alloc_t.c.used))
                .where(alloc_t.c.provider_id.in_(ids))
                .group_by(alloc_t.c.provider_id, alloc_t.c.resource_class)
            ):
                by_id[pid].used[rc] = int(total)
            for consumer, pid, rc, used in await s.execute(
                select(
                    alloc_t.c.consumer_id,
                    alloc_t.c.provider_id,
                    alloc_t.c.resource_class,
                    alloc_t.c.used,
                ).where(
                    alloc_t.c.consumer_id.in_({c.consumer_id for c in claims}),
                    alloc_t.c.provider_id.in_(ids),
                )
            ):
                mine[(consumer, pid, rc)] = int(used)
        results: list[str | None] = []
        values: list[dict[str, Any]] = []
        for claim in claims:
            prov = providers.get(claim.provider_uuid)
            problem = (
                f"resource provider {claim.provider_uuid} does not exist"
                if prov is None
                else prov.check(claim, mine)
            )
            results.append(problem)
            if problem is None and prov is not None:
                values += prov.take(claim, mine)
        if values:
            await s.execute(self._upsert(), values)
            touched = {v["provider_id"] for v in values}
            await s.execute(
                update(m.ResourceProvider)
                .where(m.ResourceProvider.id.in_(touched))
                .values(generation=m.ResourceProvider.generation + 1)
            )
        return results

    def _upsert(self) -> Any:
        """INSERT ... ON CONFLICT (consumer, provider, class) DO UPDATE SET used."""
        dialect_insert: Any = sqlite_insert if self.db.is_sqlite else pg_insert
        stmt = dialect_insert(m.Allocation)
        return stmt.on_conflict_do_update(
            index_elements=["consumer_id", "provider_id", "resource_class"],
            set_={"used": stmt.excluded.used},
        )

    async def release(self, consumer_id: str, provider_uuid: str | None = None) -> None:
        """Remove the consumer's allocations (on one provider, or everywhere). Idempotent."""
        async with self.db.writer() as s:
            query = delete(m.Allocation).where(m.Allocation.consumer_id == consumer_id)
            if provider_uuid is not None:
                rp_id = select(m.ResourceProvider.id).where(
                    m.ResourceProvider.uuid == provider_uuid
                )
                query = query.where(m.Allocation.provider_id.in_(rp_id.scalar_subquery()))
            await s.execute(query)

    async def move(self, from_consumer: str, to_consumer: str, provider_uuid: str) -> None:
        """Hand `from_consumer`'s allocations on the provider to `to_consumer` (replacing what
        that one held there), as Nova moves a migrating server's source allocation to the
        migration. Usage is unchanged, so it never fails for capacity. Idempotent."""
        rp_id = select(m.ResourceProvider.id).where(m.ResourceProvider.uuid == provider_uuid)
        on_rp = m.Allocation.provider_id.in_(rp_id.scalar_subquery())
        async with self.db.writer() as s:
            held = await s.scalar(
                select(func.count()).where(m.Allocation.consumer_id == from_consumer, on_rp)
            )
            if not held:
                return
            await s.execute(
                delete(m.Allocation).where(m.Allocation.consumer_id == to_consumer, on_rp)
            )
            await s.execute(
                update(m.Allocation)
                .where(m.Allocation.consumer_id == from_consumer, on_rp)
                .values(consumer_id=to_consumer)
            )

    async def usages(self) -> dict[str, dict[str, int]]:
        """Allocated amounts per provider uuid and resource class."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(
                        m.ResourceProvider.uuid,
                        m.Allocation.resource_class,
                        func.sum(m.Allocation.used),
                    )
                    .join(m.Allocation, m.Allocation.provider_id == m.ResourceProvider.id)
                    .group_by(m.ResourceProvider.uuid, m.Allocation.resource_class)
                )
            ).tuples()
            out: dict[str, dict[str, int]] = {}
            for uuid, rc, used in rows:
                out.setdefault(uuid, {})[rc] = int(used)
            return out

    async def inventories(self) -> dict[str, dict[str, InventorySpec]]:
        """Every provider's inventories, by provider uuid and resource class."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(m.ResourceProvider.uuid, m.Inventory).join(
                        m.Inventory, m.Inventory.provider_id == m.ResourceProvider.id
                    )
                )
            ).tuples()
            out: dict[str, dict[str, InventorySpec]] = {}
            for uuid, inv in rows:
                out.setdefault(uuid, {})[inv.resource_class] = InventorySpec(
                    total=inv.total,
                    reserved=inv.reserved,
                    allocation_ratio=inv.allocation_ratio,
                    min_unit=inv.min_unit,
                    max_unit=inv.max_unit,
                    step_size=inv.step_size,
                )
            return out
