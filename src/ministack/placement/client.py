"""The typed client other services use for placement: providers, inventories, allocations.

It works on the placement tables directly (same database), so it is usable from any process
that runs compute agents or the scheduler. Claims are atomic: the provider row is locked
(BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on PostgreSQL) while usage is summed and the
allocation written, so concurrent claims never over-commit a provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, select

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


class PlacementClient:
    """Resource providers and allocations. Every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        reason in words (nothing is written then)."""
        async with self.db.writer() as s:
            query = select(m.ResourceProvider).where(m.ResourceProvider.uuid == provider_uuid)
            if not self.db.is_sqlite:
                query = query.with_for_update()
            rp = (await s.execute(query)).scalar_one_or_none()
            if rp is None:
                return f"resource provider {provider_uuid} does not exist"
            invs = {
                i.resource_class: i
                for i in (
                    await s.execute(select(m.Inventory).where(m.Inventory.provider_id == rp.id))
                ).scalars()
            }
            used_rows = (
                await s.execute(
                    select(m.Allocation.resource_class, func.sum(m.Allocation.used))
                    .where(
                        m.Allocation.provider_id == rp.id,
                        m.Allocation.consumer_id != consumer_id,
                    )
                    .group_by(m.Allocation.resource_class)
                )
            ).tuples()
            used = {rc: int(n) for rc, n in used_rows}
            for rc, amount in resources.items():
                if amount <= 0:
                    continue
                inv = invs.get(rc)
                if inv is None:
                    return f"{rp.name} has no {rc} inventory"
                capacity = int((inv.total - inv.reserved) * inv.allocation_ratio)
                if used.get(rc, 0) + amount > capacity or amount > inv.max_unit:
                    free = capacity - used.get(rc, 0)
                    return f"{rp.name} has {free} {rc} free, {amount} requested"
            await s.execute(
                delete(m.Allocation).where(
                    m.Allocation.consumer_id == consumer_id, m.Allocation.provider_id == rp.id
                )
            )
            for rc, amount in resources.items():
                if amount > 0:
                    s.add(
                        m.Allocation(
                            provider_id=rp.id,
                            consumer_id=consumer_id,
                            resource_class=rc,
                            used=amount,
                            project_id=project_id,
                            user_id=user_id,
                        )
                    )
            rp.generation += 1
        return None

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
