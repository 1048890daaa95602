"""What every part of the compute agent shares: its host, driver, database, bus, placement,
one lock per instance (a delete waits for a build in progress), and the instance's GuestSpec."""

from __future__ import annotations

import asyncio
import base64
import uuid as uuidlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ministack.common.db import Database
from ministack.compute import instances
from ministack.compute import models as m
from ministack.compute.virt.driver import GuestSpec, VirtDriver
from ministack.config import Settings
from ministack.placement.client import PlacementClient

NODE_NAMESPACE = uuidlib.UUID("6f1b3f8e-5c1a-4d8e-9b59-2f3c8e1a7d40")


def node_uuid(hypervisor_hostname: str) -> str:
    """The compute node's (and its resource provider's) uuid, stable across restarts."""
    return str(uuidlib.uuid5(NODE_NAMESPACE, hypervisor_hostname))


@dataclass
class AgentDeps:
    """What the agents of one process share."""

    settings: Settings
    db: Database
    bus: Any
    placement: PlacementClient
    images: Any = None
    """The image client (upload/delete) used by snapshots; None when unavailable."""


@dataclass
class AgentBase:
    host: str
    driver: VirtDriver
    deps: AgentDeps
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    @property
    def db(self) -> Database:
        return self.deps.db

    @property
    def node(self) -> str:
        return self.host

    @property
    def provider_uuid(self) -> str:
        return node_uuid(self.node)


def guest_spec(inst: m.Instance) -> GuestSpec:
    """The GuestSpec of an instance row (its flavor, image, keys, user data, metadata)."""
    flavor = inst.flavor
    spec = inst.request_spec or {}
    user_data = base64.b64decode(inst.user_data) if inst.user_data else None
    keys = {inst.key_name: inst.key_data} if inst.key_name and inst.key_data else {}
    return GuestSpec(
        uuid=inst.uuid,
        name=f"instance-{inst.id:08x}",
        hostname=inst.hostname,
        vcpus=int(flavor["vcpus"]),
        memory_mb=int(flavor["ram"]),
        root_gb=int(flavor["disk"]),
        ephemeral_gb=int(flavor.get("ephemeral", 0)),
        swap_mb=int(flavor.get("swap", 0) or 0),
        image_id=inst.image_ref or None,
        image_format=str(spec.get("image_disk_format") or "qcow2"),
        image_properties=dict(spec.get("image_properties") or {}),
        flavor_extra_specs=dict(flavor.get("extra_specs") or {}),
        user_data=user_data,
        metadata=dict(inst.metadata_ or {}),
        public_keys=keys,
        admin_password=(inst.system_metadata or {}).get(instances.ADMIN_PASS_KEY) or None,
        project_id=inst.project_id,
        availability_zone=inst.availability_zone or "nova",
    )
