"""The metadata service behind 169.254.169.254: signing the instance's identity and rendering
the OpenStack and EC2 paths.

Request flow: a guest's GET reaches the listener of its network's DHCP namespace
(`linux/metadata_proxy.py`), which finds the instance by (network, source address) → port →
device_id and passes the instance id with its HMAC signature (as Neutron's proxy sends
X-Instance-ID and X-Instance-ID-Signature to Nova). `MetadataService.answer` checks the signature
in constant time, reads the instance through the compute client and renders the path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ministack.compute.client import InstanceMetadata
from ministack.network.agent.desired import NetworkSpec, PortSpec

OPENSTACK_FILES = ("meta_data.json", "network_data.json", "user_data", "vendor_data2.json")
EC2_META = (
    "ami-id",
    "hostname",
    "instance-id",
    "instance-type",
    "local-hostname",
    "local-ipv4",
    "placement/",
    "public-keys/",
    "reservation-id",
    "security-groups",
)

Lookup = Callable[[str], Awaitable[InstanceMetadata | None]]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain"


NOT_FOUND = Reply(404, b"404 Not Found\n")


class Signer:
    """HMAC-SHA256 of an instance id under the deployment's shared secret."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def sign(self, instance_id: str) -> str:
        return hmac.new(self.secret, instance_id.encode(), hashlib.sha256).hexdigest()

    def verify(self, instance_id: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(instance_id), signature)


def _json(data: object) -> Reply:
    return Reply(200, json.dumps(data, sort_keys=True).encode(), "application/json")


def _text(lines: list[str] | str) -> Reply:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    return Reply(200, text.encode())


class MetadataService:
    """Answers one guest request once the proxy has identified (and signed) the instance."""

    def __init__(self, signer: Signer, lookup: Lookup) -> None:
        self.signer = signer
        self.lookup = lookup

    async def answer(
        self, instance_id: str, signature: str, path: str, ports: tuple[PortSpec, ...]
    ) -> Reply:
        """The reply for `path`; 403 for a bad signature, 404 for an unknown instance or path.
        `ports` are the instance's ports (for network_data.json and local-ipv4)."""
        if not self.signer.verify(instance_id, signature):
            return Reply(403, b"403 Forbidden: invalid instance signature\n")
        inst = await self.lookup(instance_id)
        if inst is None:
            return NOT_FOUND
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] == ["openstack"]:
            return _openstack(inst, parts[1:], ports)
        if parts[:1] and parts[0] in ("latest", "2009-04-04"):
            return _ec2(inst, parts[1:], ports)
        if not parts:
            return _text(["latest", "openstack"])
        return NOT_FOUND


def _openstack(inst: InstanceMetadata, parts: list[str], ports: tuple[PortSpec, ...]) -> Reply:
    if not parts:
        return _text(["latest"])
    if parts[0] != "latest":
        return NOT_FOUND
    name = parts[1] if len(parts) == 2 else None
    if len(parts) == 1:
        files = [f for f in OPENSTACK_FILES if f != "user_data" or inst.user_data is not None]
        return _text(files)
    if name == "meta_data.json":
        return _json(meta_data(inst))
    if name == "network_data.json":
        return _json(network_data(ports))
    if name == "vendor_data2.json":
        return _json({})
    if name == "user_data" and inst.user_data is not None:
        return Reply(200, inst.user_data, "application/octet-stream")
    return NOT_FOUND


def meta_data(inst: InstanceMetadata) -> dict[str, object]:
    keys = []
    public_keys = {}
    if inst.key_name and inst.key_data:
        public_keys[inst.key_name] = inst.key_data
        keys.append({"name": inst.key_name, "type": "ssh", "data": inst.key_data})
    return {
        "uuid": inst.uuid,
        "name": inst.name,
        "hostname": inst.hostname,
        "launch_index": inst.launch_index,
        "availability_zone": inst.availability_zone,
        "project_id": inst.project_id,
        "meta": inst.metadata,
        "public_keys": public_keys,
        "keys": keys,
        "devices": [],
    }


def network_data(ports: tuple[PortSpec, ...]) -> dict[str, object]:
    """Nova's network_data.json for the instance's ports (DHCP on every network)."""
    links, networks = [], []
    for i, port in enumerate(ports):
        link = f"tap{port.port_id[:11]}"
        links.append({"id": link, "type": "bridge", "ethernet_mac_address": port.mac, "mtu": None})
        networks.append(
            {"id": f"network{i}", "link": link, "type": "ipv4_dhcp", "network_id": port.port_id}
        )
    return {"links": links, "networks": networks, "services": []}


def _ec2(inst: InstanceMetadata, parts: list[str], ports: tuple[PortSpec, ...]) -> Reply:
    if not parts:
        return _text(["meta-data/"] + (["user-data"] if inst.user_data is not None else []))
    if parts == ["user-data"]:
        return (
            Reply(200, inst.user_data, "application/octet-stream") if inst.user_data else NOT_FOUND
        )
    if parts[0] != "meta-data":
        return NOT_FOUND
    local = ports[0].ips()[0] if ports and ports[0].ips() else ""
    values: dict[str, str] = {
        "ami-id": inst.image_ref,
        "hostname": inst.hostname,
        "local-hostname": inst.hostname,
        "instance-id": f"i-{inst.ec2_id:08x}",
        "instance-type": inst.flavor_name,
        "local-ipv4": local,
        "reservation-id": inst.reservation_id,
        "security-groups": "\n".join(inst.security_groups),
        "placement/availability-zone": inst.availability_zone,
    }
    key = "/".join(parts[1:])
    if not key:
        return _text(list(EC2_META))
    if key == "placement":
        return _text(["availability-zone"])
    if key == "public-keys":
        return _text([f"0={inst.key_name}"] if inst.key_name and inst.key_data else [])
    if key in ("public-keys/0", "public-keys/0/openssh-key") and inst.key_data:
        return _text(["openssh-key"] if key.endswith("0") else inst.key_data)
    if key in values:
        return _text(values[key])
    return NOT_FOUND


def instance_ports(nets: tuple[NetworkSpec, ...], device_id: str) -> tuple[PortSpec, ...]:
    return tuple(p for n in nets for p in n.ports if p.device_id == device_id)
