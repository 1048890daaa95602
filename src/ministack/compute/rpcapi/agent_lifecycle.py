"""RPC API of one host's compute agent, the second half: shelve, unshelve, soft delete and
restore, rescue and unrescue, backup and crash dump (issue 15). `ComputeAgentAPI` inherits
these casts; the agent serves them through `compute.agent.endpoints`."""

from __future__ import annotations

from dataclasses import dataclass

from ministack.common.rpc.payload import Payload


@dataclass(frozen=True)
class Target(Payload):
    """An operation that needs only the instance."""

    instance_uuid: str


@dataclass(frozen=True)
class Shelve(Payload):
    """Stop the guest, upload its disk into `image_id` (None: a volume-backed server keeps
    no image), then offload at once when `offload`."""

    instance_uuid: str
    image_id: str | None
    offload: bool


@dataclass(frozen=True)
class SoftDelete(Payload):
    instance_uuid: str
    from_vm_state: str


@dataclass(frozen=True)
class Rescue(Payload):
    """Boot the rescue image `image_id` with the server's disk attached second."""

    instance_uuid: str
    image_id: str
    image_format: str = "qcow2"
    admin_password: str | None = None


@dataclass(frozen=True)
class Backup(Payload):
    """Upload the guest's disk into `image_id`, then keep only the newest `rotation` backups
    of `backup_type` for the instance."""

    instance_uuid: str
    image_id: str
    backup_type: str
    rotation: int


class LifecycleCasts:
    """Casts (each returns once the bus holds the message; NoConsumer when the agent of the
    host does not serve)."""

    async def _cast(self, method: str, payload: Payload) -> None:
        raise NotImplementedError  # ComputeAgentAPI's

    async def shelve_instance(
        self, instance_uuid: str, image_id: str | None, offload: bool
    ) -> None:
        await self._cast("shelve_instance", Shelve(instance_uuid, image_id, offload))

    async def shelve_offload_instance(self, instance_uuid: str) -> None:
        await self._cast("shelve_offload_instance", Target(instance_uuid))

    async def unshelve_instance(self, instance_uuid: str) -> None:
        await self._cast("unshelve_instance", Target(instance_uuid))

    async def soft_delete_instance(self, instance_uuid: str, from_vm_state: str) -> None:
        await self._cast("soft_delete_instance", SoftDelete(instance_uuid, from_vm_state))

    async def restore_instance(self, instance_uuid: str) -> None:
        await self._cast("restore_instance", Target(instance_uuid))

    async def rescue_instance(self, req: Rescue) -> None:
        await self._cast("rescue_instance", req)

    async def unrescue_instance(self, instance_uuid: str) -> None:
        await self._cast("unrescue_instance", Target(instance_uuid))

    async def backup_instance(self, req: Backup) -> None:
        await self._cast("backup_instance", req)

    async def trigger_crash_dump(self, instance_uuid: str) -> None:
        await self._cast("trigger_crash_dump", Target(instance_uuid))
