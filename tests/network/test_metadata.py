"""The metadata service: signatures checked, each path rendered from the instance's data."""

from __future__ import annotations

import json

from ministack.compute.client import InstanceMetadata
from ministack.network.agent.desired import PortSpec
from ministack.network.agent.metadata import MetadataService, Signer

INSTANCE = InstanceMetadata(
    uuid="1" * 36,
    name="web",
    hostname="web",
    project_id="p" * 32,
    availability_zone="nova",
    launch_index=0,
    reservation_id="r-abc",
    ec2_id=26,
    flavor_name="m1.tiny",
    image_ref="img",
    metadata={"role": "db"},
    key_name="k",
    key_data="ssh-ed25519 AAAA k",
    user_data=b"#cloud-config\n",
)
PORTS = (PortSpec("a" * 36, "fa:16:3e:00:00:11", (("s", "10.0.0.11"),), device_id="1" * 36),)


async def _lookup(instance_id: str) -> InstanceMetadata | None:
    return INSTANCE if instance_id == INSTANCE.uuid else None


SIGNER = Signer(b"secret")
SERVICE = MetadataService(SIGNER, _lookup)


async def get(path: str, instance_id: str = INSTANCE.uuid) -> tuple[int, bytes]:
    reply = await SERVICE.answer(instance_id, SIGNER.sign(instance_id), path, PORTS)
    return reply.status, reply.body


def test_a_signature_is_checked_under_the_shared_secret() -> None:
    signature = SIGNER.sign(INSTANCE.uuid)
    assert SIGNER.verify(INSTANCE.uuid, signature)
    assert not SIGNER.verify("2" * 36, signature)
    assert not Signer(b"other").verify(INSTANCE.uuid, signature)


async def test_a_bad_signature_is_refused() -> None:
    reply = await SERVICE.answer(INSTANCE.uuid, "0" * 64, "/openstack/latest/meta_data.json", ())
    assert reply.status == 403


async def test_openstack_paths() -> None:
    status, body = await get("/openstack/latest/meta_data.json")
    data = json.loads(body)
    assert status == 200
    assert (data["uuid"], data["hostname"], data["meta"]) == (INSTANCE.uuid, "web", {"role": "db"})
    assert data["public_keys"] == {"k": "ssh-ed25519 AAAA k"}
    assert await get("/openstack/latest/user_data") == (200, b"#cloud-config\n")
    status, body = await get("/openstack/latest/network_data.json")
    assert json.loads(body)["links"][0]["ethernet_mac_address"] == "fa:16:3e:00:00:11"
    assert await get("/openstack/latest/vendor_data2.json") == (200, b"{}")
    status, body = await get("/openstack/latest")
    assert body.decode().splitlines() == list(
        ("meta_data.json", "network_data.json", "user_data", "vendor_data2.json")
    )


async def test_ec2_paths() -> None:
    assert await get("/latest/meta-data/instance-id") == (200, b"i-0000001a")
    assert await get("/latest/meta-data/local-ipv4") == (200, b"10.0.0.11")
    assert await get("/latest/meta-data/placement/availability-zone") == (200, b"nova")
    assert await get("/latest/meta-data/public-keys/0/openssh-key") == (
        200,
        b"ssh-ed25519 AAAA k",
    )
    assert await get("/latest/user-data") == (200, b"#cloud-config\n")


async def test_unknown_instance_or_path_is_404() -> None:
    assert (await get("/openstack/latest/meta_data.json", "9" * 36))[0] == 404
    assert (await get("/openstack/latest/nothing"))[0] == 404
    assert (await get("/latest/meta-data/nothing"))[0] == 404
