"""The agent's bookkeeping for its host: register the compute node and its resource provider,
keep the heartbeat, reconcile instances after a restart, and sync power states.

Reconcile (PROMISES 1, 2, 4) follows the restart rule of each transitional state in
`states.TRANSITIONAL`: a build the agent was doing is ERROR, a delete is finished, any other
action is cleared with the state read back from the hypervisor. Guests the hypervisor has
but no live instance owns are destroyed (orphans of deletes done while this host was down).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common.db import Database, utcnow
from ministack.common.models import ServiceRecord
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.agent import block_devices, delete, evacuate, migrate, volumes
from ministack.compute.agent.base import AgentBase
from ministack.compute.claims import node_uuid
from ministack.compute.instances import UNSET, Change
from ministack.compute.virt.driver import HostResources, PowerState
from ministack.placement.client import InventorySpec

log = logging.getLogger("ministack.compute.agent")
BINARY = "nova-compute"


def inventories(res: HostResources, agent: AgentBase) -> dict[str, InventorySpec]:
    """Placement inventories of a host from what its driver reports and the configured ratios."""
    cfg = agent.deps.settings.compute
    return {
        "VCPU": InventorySpec(total=res.vcpus, allocation_ratio=cfg.cpu_allocation_ratio),
        "MEMORY_MB": InventorySpec(
            total=res.memory_mb,
            reserved=min(cfg.reserved_host_memory_mb, res.memory_mb - 1),
            allocation_ratio=cfg.ram_allocation_ratio,
        ),
        "DISK_GB": InventorySpec(total=res.disk_gb, allocation_ratio=cfg.disk_allocation_ratio),
    }


async def service_row(s: AsyncSession, host: str, *, create: bool) -> ServiceRecord | None:
    """The host's nova-compute row in the services table; added (not yet flushed) when missing
    and `create` is set, else None when missing."""
    row = (
        await s.execute(
            select(ServiceRecord).where(ServiceRecord.host == host, ServiceRecord.binary == BINARY)
        )
    ).scalar_one_or_none()
    if row is None and create:
        now = utcnow()
        row = ServiceRecord(
            uuid=node_uuid(f"service:{host}"),
            host=host,
            binary=BINARY,
            topic="compute",
            disabled=False,
            forced_down=False,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
    return row


async def register(agent: AgentBase) -> None:
    """Create or refresh the host's service row, compute node and resource provider."""
    res = await agent.driver.host_resources()
    now = utcnow()
    async with agent.db.writer() as s:
        svc = await service_row(s, agent.host, create=True)
        assert svc is not None
        svc.updated_at = now
        node = (
            await s.execute(
                select(m.ComputeNode).where(m.ComputeNode.hypervisor_hostname == agent.node)
            )
        ).scalar_one_or_none()
        if node is None:
            node = m.ComputeNode(
                uuid=agent.provider_uuid,
                host=agent.host,
                hypervisor_hostname=agent.node,
                created_at=now,
            )
            s.add(node)
        node.hypervisor_type = res.hypervisor_type
        node.hypervisor_version = res.hypervisor_version
        node.vcpus, node.memory_mb, node.local_gb = res.vcpus, res.memory_mb, res.disk_gb
        node.cpu_info, node.architecture = res.cpu_info, res.architecture
        node.updated_at = now
    await agent.deps.placement.ensure_provider(
        agent.provider_uuid, agent.node, inventories(res, agent)
    )


async def heartbeat(db: Database, hosts: Sequence[str]) -> None:
    """Record that the compute agents of these hosts are alive now (one transaction)."""
    async with db.writer() as s:
        await s.execute(
            update(ServiceRecord)
            .where(ServiceRecord.host.in_(list(hosts)), ServiceRecord.binary == BINARY)
            .values(updated_at=utcnow())
        )


async def _owned(agent: AgentBase) -> list[m.Instance]:
    async with agent.db.session() as s:
        query = select(m.Instance).where(
            m.Instance.host == agent.host, m.Instance.deleted.is_(False)
        )
        return list((await s.execute(query)).scalars())


async def reconcile(agent: AgentBase) -> None:
    """Bring every instance this host owns out of transitional states; reap orphan guests."""
    guests = {g.uuid: g for g in await agent.driver.list_guests()}
    owned = await _owned(agent)
    discarded: set[str] = set()
    for inst in owned:
        rule = states.BY_TASK_STATE.get(inst.task_state or "")
        guest = guests.get(inst.uuid)
        if rule is not None and rule.restart == "resume":
            await delete.terminate(agent, inst.uuid)
        elif rule is not None and rule.restart == "error":
            await agent.driver.destroy(inst.uuid)
            await instances.set_error(
                agent.db,
                inst.uuid,
                f"The compute agent on {agent.host} restarted during {inst.task_state}; "
                "delete this server and create it again.",
            )
            if inst.vm_state == states.BUILDING:  # states.BDM_TRANSITIONAL: discard
                block_devices.discard_later(agent, inst.uuid)
                discarded.add(inst.uuid)
        elif inst.vm_state == states.BUILDING:
            continue
        elif guest is None:
            await instances.set_error(
                agent.db,
                inst.uuid,
                f"The guest is gone from the hypervisor on {agent.host}; delete this server.",
            )
        else:
            await _settle(agent, inst, guest.power_state, clear=rule is not None)
    live = {i.uuid for i in owned}
    volumes.resume_later(agent, sorted(live - discarded))
    await migrate.recover(agent)
    await evacuate.reap(agent)  # the host is back: the guests evacuated from it go
    for uuid in guests.keys() - live:
        log.info("reaping orphan guest %s on %s", uuid, agent.host)
        await agent.driver.destroy(uuid)


_VM_FOR_POWER = {
    PowerState.RUNNING: states.ACTIVE,
    PowerState.SHUTDOWN: states.STOPPED,
    PowerState.PAUSED: states.PAUSED,
    PowerState.SUSPENDED: states.SUSPENDED,
}


async def _settle(agent: AgentBase, inst: m.Instance, power: PowerState, clear: bool) -> None:
    change = Change(power_state=int(power))
    if clear:
        vm_state = _VM_FOR_POWER.get(power, inst.vm_state)
        change = Change(power_state=int(power), task_state=None, vm_state=vm_state)
    elif inst.vm_state == states.ACTIVE and power == PowerState.SHUTDOWN:
        # The guest shut itself down (Nova does the same).
        change = Change(power_state=int(power), vm_state=states.STOPPED)
    if inst.power_state != int(power) or change.vm_state is not UNSET:
        await instances.cas(
            agent.db, inst.uuid, task_states=[inst.task_state], on_host=agent.host, change=change
        )


async def sync_power_states(agent: AgentBase) -> None:
    """Copy the hypervisor's power state into instances with no task in progress, and reap
    guests no live instance of this host owns (deleted while the host was down)."""
    guests = {g.uuid: g for g in await agent.driver.list_guests()}
    owned = await _owned(agent)
    for inst in owned:
        guest = guests.get(inst.uuid)
        if inst.task_state is None and guest is not None and inst.vm_state != states.ERROR:
            await _settle(agent, inst, guest.power_state, clear=False)
    if await evacuate.back_up(agent):
        await evacuate.reap(agent)
    for uuid in guests.keys() - {i.uuid for i in owned}:
        await _reap_if_orphan(agent, uuid)


async def _reap_if_orphan(agent: AgentBase, uuid: str) -> None:
    lock = agent.locks.get(uuid)
    if lock is not None and lock.locked():
        return  # work in progress (a build or a resize) owns it
    inst = await instances.get(agent.db, uuid)
    if inst is not None and inst.system_metadata.get("source_host") == agent.host:
        return  # the stopped source guest of a resize awaiting confirm or revert
    if migrate.migrating_here(agent, inst) or await evacuate.awaits_reap(agent, uuid):
        return  # an incoming live migration; an evacuated guest left for the host's return
    log.info("reaping orphan guest %s on %s", uuid, agent.host)
    await agent.driver.destroy(uuid)
