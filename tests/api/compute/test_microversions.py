"""A server body has exactly the fields of the requested microversion (clients validate
strictly): fields appear from the version that introduced them, admin-only ones for admins."""

from __future__ import annotations

from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot

BASE = {
    "id",
    "name",
    "status",
    "tenant_id",
    "user_id",
    "metadata",
    "hostId",
    "image",
    "flavor",
    "created",
    "updated",
    "addresses",
    "accessIPv4",
    "accessIPv6",
    "links",
    "OS-DCF:diskConfig",
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at",
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
    "os-extended-volumes:volumes_attached",
    "security_groups",
    "progress",
    "OS-EXT-SRV-ATTR:host",
    "OS-EXT-SRV-ATTR:instance_name",
    "OS-EXT-SRV-ATTR:hypervisor_hostname",
}
V2_3 = {
    "OS-EXT-SRV-ATTR:reservation_id",
    "OS-EXT-SRV-ATTR:launch_index",
    "OS-EXT-SRV-ATTR:hostname",
    "OS-EXT-SRV-ATTR:kernel_id",
    "OS-EXT-SRV-ATTR:ramdisk_id",
    "OS-EXT-SRV-ATTR:root_device_name",
    "OS-EXT-SRV-ATTR:user_data",
}


def test_server_fields_per_microversion(compute: Compute) -> None:
    server = boot(compute)
    path = f"/servers/{server.id}"
    body = compute.api("GET", path, version="2.1").json()["server"]
    assert set(body) == BASE
    assert body["OS-EXT-SRV-ATTR:instance_name"] == f"instance-{server.id}"  # as in `virsh list`
    assert set(compute.api("GET", path, version="2.3").json()["server"]) == BASE | V2_3
    latest = set(compute.api("GET", path, version="2.38").json()["server"])
    assert latest == BASE | V2_3 | {"locked", "host_status", "description", "tags"}
    compute.conn.compute.delete_server(server)


def test_keypair_and_services_fields_per_microversion(compute: Compute) -> None:
    old = compute.api("GET", "/os-keypairs", version="2.1").json()["keypairs"]
    new = compute.api("GET", "/os-keypairs", version="2.2").json()["keypairs"]
    assert all("type" not in k["keypair"] for k in old)
    assert all("type" in k["keypair"] for k in new)
    services = compute.api("GET", "/os-services", version="2.10").json()["services"]
    assert all("forced_down" not in s for s in services)
    services = compute.api("GET", "/os-services", version="2.11").json()["services"]
    assert all("forced_down" in s for s in services)
