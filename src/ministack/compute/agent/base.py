"""What every part of the compute agent shares: its host, driver, database, bus, placement,
one lock per instance (a delete waits for a build in progress), and the instance's GuestSpec."""

from __future__ import annotations

import asyncio
import base64
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.compute import instances, network_info
from ministack.compute import models as m
from ministack.compute.agent.console_relay import ConsoleRelays
from ministack.compute.agent.events import InstanceEvents
from ministack.compute.claims import node_uuid
from ministack.compute.images import Images
from ministack.compute.rpcapi import RpcPeers
from ministack.compute.virt.driver import GuestSpec, Vif, VirtDriver
from ministack.config import Settings
from ministack.network.client import NetworkApi
from ministack.placement.client import PlacementClient
from ministack.volume.client import VolumeApi


@dataclass
class AgentDeps(RpcPeers):
    """What the agents of one process share."""

    settings: Settings
    db: Database
    bus: Bus
    placement: PlacementClient
    images: Images
    """Compute's image client: downloads into the image cache, snapshot uploads."""
    network: NetworkApi | None = None
    """The network service's client (None: this cloud has none; servers get no NICs)."""
    volumes: VolumeApi | None = None
    """Compute's volume client (None: no volume service configured)."""


@dataclass
class AgentBase:
    host: str
    driver: VirtDriver
    deps: AgentDeps
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    events: InstanceEvents = field(default_factory=InstanceEvents)
    """What running operations wait for (network-vif-plugged), delivered by external_event."""
    relays: ConsoleRelays = field(default_factory=ConsoleRelays)
    """The console relays open for the controller's console proxy (agent/console_relay.py)."""

    @property
    def db(self) -> Database:
        return self.deps.db

    @property
    def node(self) -> str:
        return self.host

    @property
    def provider_uuid(self) -> str:
        return node_uuid(self.node)


def vifs_of(info: list[dict[str, Any]]) -> tuple[Vif, ...]:
    """The driver's Vifs of info-cache entries (compute/network_info.py)."""
    return tuple(
        Vif(port_id=e["port_id"], mac=e["mac"], bridge=e["bridge"], tap=e["tap"], mtu=e["mtu"])
        for e in info
    )


CHECKSUM_KEYS = ("os_hash_algo", "os_hash_value", "checksum")


def from_image(spec: GuestSpec, image: dict[str, Any]) -> GuestSpec:
    """`spec` booting `image` (a driver's snapshot: a shelved or migration image) instead of
    the instance's own: its id, its disk format and its checksum, which the driver's image
    cache verifies (the instance's image properties keep the original image's otherwise)."""
    props = {k: v for k, v in spec.image_properties.items() if k not in CHECKSUM_KEYS}
    props.update({k: str(image[k]) for k in CHECKSUM_KEYS if isinstance(image.get(k), str)})
    disk_format = str(image.get("disk_format") or spec.image_format)
    return replace(
        spec, image_id=str(image["id"]), image_format=disk_format, image_properties=props
    )


def guest_spec(inst: m.Instance) -> GuestSpec:
    """The GuestSpec of an instance row (its flavor, image, keys, user data, metadata, and
    the NICs of its info cache: a rebuild or resize keeps them)."""
    flavor = inst.flavor
    spec = inst.request_spec or {}
    user_data = base64.b64decode(inst.user_data) if inst.user_data else None
    keys = {inst.key_name: inst.key_data} if inst.key_name and inst.key_data else {}
    info = network_info.info_of(inst)
    return GuestSpec(
        uuid=inst.uuid,
        name=inst.display_name or inst.hostname,  # meta_data.json "name", as nova
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
        vifs=vifs_of(info),
        network_data=network_info.network_data(info) if info else {},
    )
