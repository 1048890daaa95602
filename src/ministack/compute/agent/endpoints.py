"""The agent's RPC endpoints for shelve, soft delete, rescue, backup and crash dump (issue 15):
`ComputeAgent` inherits them; each delegates to the module of its life cycle and, like every
agent operation, never raises for an instance's failure."""

from __future__ import annotations

from ministack.common.rpc.payload import receives
from ministack.compute.agent import backup, rescue, shelve, softdelete
from ministack.compute.agent.base import AgentBase
from ministack.compute.rpcapi.agent_lifecycle import Backup, Rescue, Shelve, SoftDelete, Target


class LifecycleEndpoints(AgentBase):
    """What `compute.rpcapi.agent_lifecycle.LifecycleCasts` asks of this host."""

    @receives(Shelve)
    async def shelve_instance(self, req: Shelve) -> None:
        await shelve.shelve(self, req.instance_uuid, req.image_id, req.offload)

    @receives(Target)
    async def shelve_offload_instance(self, req: Target) -> None:
        await shelve.shelve_offload(self, req.instance_uuid)

    @receives(Target)
    async def unshelve_instance(self, req: Target) -> None:
        await shelve.unshelve(self, req.instance_uuid)

    @receives(SoftDelete)
    async def soft_delete_instance(self, req: SoftDelete) -> None:
        await softdelete.soft_delete(self, req.instance_uuid, req.from_vm_state)

    @receives(Target)
    async def restore_instance(self, req: Target) -> None:
        await softdelete.restore(self, req.instance_uuid)

    @receives(Rescue)
    async def rescue_instance(self, req: Rescue) -> None:
        await rescue.rescue(self, req)

    @receives(Target)
    async def unrescue_instance(self, req: Target) -> None:
        await rescue.unrescue(self, req.instance_uuid)

    @receives(Target)
    async def trigger_crash_dump(self, req: Target) -> None:
        await rescue.trigger_crash_dump(self, req.instance_uuid)

    @receives(Backup)
    async def backup_instance(self, req: Backup) -> None:
        await backup.backup(self, req)

    async def reconcile_lifecycle(self) -> None:
        """Start-up: the restart rules the host's reconcile cannot apply alone."""
        await shelve.resume_offloads(self)
        await softdelete.resume_soft_deletes(self)

    async def periodic_tasks(self) -> None:
        """The life-cycle passes the agent group runs (`group.lifecycle_interval`)."""
        await shelve.offload_expired(self)
        await softdelete.reclaim_expired(self)
