"""Soft delete on this host (Nova's deferred delete, `reclaim_instance_interval` > 0): a
deleted server is powered off and kept, SOFT_DELETED, holding its resources; `restore`
starts it again; the periodic `reclaim_expired` deletes the ones soft-deleted longer than the
interval (forceDelete deletes at once, through the usual delete)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ministack.common.db import utcnow
from ministack.compute import instances, states
from ministack.compute import models as m
from ministack.compute.agent import delete
from ministack.compute.agent.base import AgentBase
from ministack.compute.agent.task import InstanceTask, instance_task
from ministack.compute.instances import Change
from ministack.compute.virt.driver import PowerState

SOFT_DELETED_AT = "soft_deleted_at"


async def soft_delete(agent: AgentBase, uuid: str, from_vm_state: str) -> None:
    """Power the guest off and mark the server SOFT_DELETED (with the time, for the reclaim
    pass). On a driver failure the server is back in `from_vm_state`. Never raises."""

    async def back(task: InstanceTask, exc: Exception) -> None:
        restored = Change(vm_state=from_vm_state, task_state=None)
        await task.settle(restored, task_states=[states.SOFT_DELETING])

    event = "compute_soft_delete_instance"
    async with instance_task(agent, uuid, event, on_failure=back) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None:
            return
        await agent.driver.power_off(uuid)
        sysmeta = {**inst.system_metadata, SOFT_DELETED_AT: utcnow().isoformat()}
        done = Change(
            vm_state=states.SOFT_DELETED,
            task_state=None,
            power_state=int(PowerState.SHUTDOWN),
            system_metadata=sysmeta,
        )
        await task.settle(done, task_states=[states.SOFT_DELETING])


async def restore(agent: AgentBase, uuid: str) -> None:
    """Start the soft-deleted guest again: ACTIVE. On a driver failure the server stays
    SOFT_DELETED (the reason in the event). Never raises."""

    async def stay(task: InstanceTask, exc: Exception) -> None:
        await task.settle(Change(task_state=None), task_states=[states.RESTORING])

    async with instance_task(agent, uuid, "compute_restore_instance", on_failure=stay) as task:
        inst = await instances.get(agent.db, uuid)
        if inst is None:
            return
        await agent.driver.power_on(uuid)
        sysmeta = {k: v for k, v in inst.system_metadata.items() if k != SOFT_DELETED_AT}
        done = Change(
            vm_state=states.ACTIVE,
            task_state=None,
            power_state=int(PowerState.RUNNING),
            system_metadata=sysmeta,
        )
        await task.settle(done, task_states=[states.RESTORING])


async def reclaim_expired(agent: AgentBase) -> None:
    """The periodic pass: delete this host's servers soft-deleted longer than
    `reclaim_instance_interval` (nothing when it is 0)."""
    interval = agent.deps.settings.compute.reclaim_instance_interval
    if interval <= 0:
        return
    async with agent.db.session() as s:
        query = select(m.Instance).where(
            m.Instance.host == agent.host,
            m.Instance.deleted.is_(False),
            m.Instance.vm_state == states.SOFT_DELETED,
            m.Instance.task_state.is_(None),
        )
        rows = list((await s.execute(query)).scalars())
    now = utcnow()
    for inst in rows:
        since = dt.datetime.fromisoformat(str(inst.system_metadata.get(SOFT_DELETED_AT) or now))
        if (now - since).total_seconds() < interval:
            continue
        if await instances.cas(
            agent.db,
            inst.uuid,
            vm_states=[states.SOFT_DELETED],
            task_states=[None],
            change=Change(task_state=states.DELETING),
        ):
            await delete.terminate(agent, inst.uuid)


async def resume_soft_deletes(agent: AgentBase) -> None:
    """After a restart: a server caught in soft-deleting (its vm_state still the one it had)
    is soft-deleted again (power off is idempotent), so it ends SOFT_DELETED as the user
    asked, never a SHUTOFF to delete again. Runs before the host's reconcile."""
    async with agent.db.session() as s:
        query = select(m.Instance.uuid, m.Instance.vm_state).where(
            m.Instance.host == agent.host,
            m.Instance.deleted.is_(False),
            m.Instance.task_state == states.SOFT_DELETING,
        )
        rows = [(str(u), str(v)) for u, v in (await s.execute(query)).all()]
    for uuid, vm_state in rows:
        await soft_delete(agent, uuid, vm_state)
