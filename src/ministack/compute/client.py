"""The typed client other services use to reach compute: external events to instances.

Networking and block storage call this when a port is plugged or a volume attached, so the
compute agent of the instance's host learns about it (Nova's os-server-external-events); the
network agent's metadata proxy reads an instance's metadata through it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.compute import instances
from ministack.compute import models as m
from ministack.compute.rpcapi.agent import ComputeAgentAPI


class ComputeClient:
    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    async def external_event(
        self, instance_uuid: str, name: str, tag: str | None = None, status: str = "completed"
    ) -> bool:
        """Deliver one event (status completed or failed) to the instance's host; False when
        the instance is unknown or has no host yet."""
        inst = await instances.get(self.db, instance_uuid)
        if inst is None or inst.host is None:
            return False
        agent = ComputeAgentAPI(self.bus, inst.host)
        await agent.external_event(instance_uuid, name, tag, status)
        return True

    async def instance_metadata(self, instance_uuid: str) -> InstanceMetadata | None:
        """What the metadata service serves the instance; None when it does not exist."""
        return await instance_metadata(self.db, instance_uuid)

    async def hostnames(self, instance_uuids: Iterable[str]) -> dict[str, str]:
        """uuid → hostname of the live instances among `instance_uuids` (the DHCP server
        hands each port its instance's hostname)."""
        wanted = sorted(set(instance_uuids))
        if not wanted:
            return {}
        query = select(m.Instance.uuid, m.Instance.hostname).where(
            m.Instance.uuid.in_(wanted), m.Instance.deleted.is_(False)
        )
        async with self.db.session() as s:
            return {uuid: name for uuid, name in (await s.execute(query)).all() if name}


@dataclass(frozen=True)
class InstanceMetadata:
    """What the metadata service tells a guest about itself (Nova's instance metadata)."""

    uuid: str
    name: str
    hostname: str
    project_id: str
    availability_zone: str
    launch_index: int
    reservation_id: str
    ec2_id: int
    flavor_name: str
    image_ref: str
    metadata: dict[str, str] = field(default_factory=dict)
    key_name: str | None = None
    key_data: str | None = None
    user_data: bytes | None = None
    security_groups: tuple[str, ...] = ()


async def instance_metadata(db: Database, instance_uuid: str) -> InstanceMetadata | None:
    """The metadata of a live instance; None when there is no such instance (or it is gone)."""
    inst = await instances.get(db, instance_uuid)
    if inst is None:
        return None
    user_data = None
    if inst.user_data:
        try:
            user_data = base64.b64decode(inst.user_data)
        except ValueError:
            user_data = inst.user_data.encode()
    return InstanceMetadata(
        uuid=inst.uuid,
        name=inst.display_name,
        hostname=inst.hostname,
        project_id=inst.project_id,
        availability_zone=inst.availability_zone or "nova",
        launch_index=inst.launch_index,
        reservation_id=inst.reservation_id,
        ec2_id=inst.id,
        flavor_name=str(inst.flavor.get("name", "")),
        image_ref=inst.image_ref,
        metadata=dict(inst.metadata_ or {}),
        key_name=inst.key_name,
        key_data=inst.key_data,
        user_data=user_data,
        security_groups=tuple(inst.security_groups or ()),
    )
