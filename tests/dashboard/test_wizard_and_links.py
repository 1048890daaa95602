"""The launch wizard's sources, security groups and quota costs, and an instance page's
volumes, interfaces, floating IPs and serial console, in a real browser against a real cloud
(fake compute driver)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import DashCloud, log_in_member, screenshot

WAIT = 60_000


@pytest.fixture(scope="module")
def external(dash: DashCloud) -> Iterator[str]:
    """An external network (admin-made, no agent runs in these tests) as the FIP pool."""
    net = dash.admin.network.create_network(
        name=f"links-ext-{uuid.uuid4().hex[:6]}", is_router_external=True
    )
    dash.admin.network.create_subnet(network_id=net.id, cidr="198.51.100.0/24", ip_version=4)
    try:
        yield str(net.id)
    finally:
        dash.admin.network.delete_network(net.id, ignore_missing=True)


def _server(dash: DashCloud, name: str, **kw: Any) -> Any:
    member = dash.member()
    server = member.compute.create_server(
        name=name, image_id=dash.image_id, flavor_id=dash.flavor_id, **kw
    )
    return member.compute.wait_for_server(server, status="ACTIVE", wait=60)


def test_wizard_shows_quota_costs_and_sends_security_groups(page: Page, dash: DashCloud) -> None:
    member = dash.member()
    suffix = uuid.uuid4().hex[:6]
    group = member.network.create_security_group(name=f"web-{suffix}")
    net = member.network.create_network(name=f"sgnet-{suffix}")
    member.network.create_subnet(network_id=net.id, cidr="10.79.0.0/24", ip_version=4)
    name = f"sgvm-{suffix}"
    try:
        log_in_member(page, dash)
        page.goto(f"{dash.url}/project/instances/launch")
        flavor = page.locator(f"#flavor option[value='{dash.flavor_id}']")
        expect(flavor).to_contain_text("quota: leaves")
        expect(flavor).to_contain_text("vCPUs")
        screenshot(page, "launch-wizard")
        page.fill("#name", name)
        page.select_option("#image", dash.image_id)
        page.select_option("#flavor", dash.flavor_id)
        page.locator(f"#launch-security-groups input[value='{group.name}']").check()
        page.locator(f"#launch-networks input[value='{net.id}']").check()
        page.click("#launch-submit")
        expect(page.locator(".flash.ok")).to_contain_text(f"Launching instance {name}")
        made = member.compute.find_server(name)
        assert made is not None
        made = member.compute.wait_for_server(made, status="ACTIVE", wait=60)
        names = sorted(g["name"] for g in made.security_groups or [])
        assert names == sorted(["default", group.name])
        ports = list(member.network.ports(device_id=made.id))
        assert len(ports) == 1
        default = member.network.find_security_group("default", project_id=made.project_id)
        assert sorted(ports[0].security_group_ids) == sorted([group.id, default.id])
        member.compute.delete_server(made)
        member.compute.wait_for_delete(made, wait=60)
    finally:
        member.network.delete_network(net, ignore_missing=True)
        member.network.delete_security_group(group, ignore_missing=True)


def test_volume_attach_detach_from_the_instance_page(page: Page, dash: DashCloud) -> None:
    member = dash.member()
    suffix = uuid.uuid4().hex[:6]
    server = _server(dash, f"volvm-{suffix}", networks="none")
    volume = member.block_storage.create_volume(name=f"pagevol-{suffix}", size=1)
    member.block_storage.wait_for_status(volume, "available", wait=60)
    try:
        log_in_member(page, dash)
        page.goto(f"{dash.url}/project/instances/{server.id}")
        page.select_option("#attach-volume", volume.id)
        page.locator("#attach-volume-form button").click()
        expect(page.locator(".flash.ok")).to_contain_text("Attaching the volume")
        member.block_storage.wait_for_status(volume, "in-use", wait=60)
        page.reload()
        row = page.locator("#instance-volumes tr", has_text=volume.id)
        expect(row).to_have_count(1)
        screenshot(page, "instance-links")
        page.once("dialog", lambda dialog: dialog.accept())
        row.locator("button", has_text="Detach").click()
        expect(page.locator(".flash.ok")).to_contain_text("Detaching the volume")
        member.block_storage.wait_for_status(volume, "available", wait=60)
    finally:
        member.compute.delete_server(server)
        member.compute.wait_for_delete(server, wait=60)
        member.block_storage.delete_volume(volume, ignore_missing=True)


def test_interface_and_floating_ip_from_the_instance_page(
    page: Page, dash: DashCloud, external: str
) -> None:
    member = dash.member()
    suffix = uuid.uuid4().hex[:6]
    net = member.network.create_network(name=f"ifnet-{suffix}")
    subnet = member.network.create_subnet(network_id=net.id, cidr="10.78.0.0/24", ip_version=4)
    router = member.network.create_router(
        name=f"ifr-{suffix}", external_gateway_info={"network_id": external}
    )
    member.network.add_interface_to_router(router, subnet=subnet.id)
    fip = member.network.create_ip(floating_network_id=external)
    server = _server(dash, f"ifvm-{suffix}", networks="none")
    try:
        log_in_member(page, dash)
        page.goto(f"{dash.url}/project/instances/{server.id}")
        page.select_option("#attach-network", net.id)
        page.locator("#attach-interface-form button").click()
        expect(page.locator(".flash.ok")).to_contain_text("Interface attached")
        ports = list(member.network.ports(device_id=server.id))
        assert [p.network_id for p in ports] == [net.id]
        page.reload()
        page.select_option("#associate-fip", fip.id)
        page.locator("#associate-fip-form button").click()
        expect(page.locator(".flash.ok")).to_contain_text("Floating IP associated")
        assert member.network.get_ip(fip.id).port_id == ports[0].id
        expect(page.locator("#instance-fips")).to_contain_text(fip.floating_ip_address)
        page.locator("#instance-fips button", has_text="Disassociate").click()
        expect(page.locator(".flash.ok")).to_contain_text("Floating IP disassociated")
        assert member.network.get_ip(fip.id).port_id is None
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#instance-interfaces tr", has_text=ports[0].id).locator("button").click()
        expect(page.locator(".flash.ok")).to_contain_text("Detaching the interface")
    finally:
        member.compute.delete_server(server)
        member.compute.wait_for_delete(server, wait=60)
        member.network.delete_ip(fip, ignore_missing=True)
        member.network.remove_interface_from_router(router, subnet=subnet.id)
        member.network.delete_router(router, ignore_missing=True)
        member.network.delete_network(net, ignore_missing=True)


def test_serial_console_in_xterm(page: Page, dash: DashCloud) -> None:
    """The fake guest's serial console greets with its login prompt and echoes what is typed:
    both show in xterm.js through the console proxy's websocket."""
    server = _server(dash, f"serialvm-{uuid.uuid4().hex[:6]}", networks="none")
    try:
        log_in_member(page, dash)
        page.goto(f"{dash.url}/project/instances/{server.id}")
        page.click("#open-serial")
        expect(page.locator("#serial-status")).to_have_text("Connected", timeout=WAIT)
        rows = page.locator("#serial-terminal .xterm-rows")
        expect(rows).to_contain_text("login:", timeout=WAIT)
        page.locator("#serial-terminal").click()
        page.keyboard.type("hello-serial")
        expect(rows).to_contain_text("hello-serial", timeout=WAIT)
        screenshot(page, "serial-console")
    finally:
        member = dash.member()
        member.compute.delete_server(server)
        member.compute.wait_for_delete(server, wait=60)


def test_launch_from_a_volume_a_snapshot_and_into_a_new_volume(page: Page, dash: DashCloud) -> None:
    """Each volume source of the wizard becomes the block_device_mapping_v2 the CLI would
    send: the instance is volume-backed (image "") with its root volume as asked."""
    member = dash.member()
    suffix = uuid.uuid4().hex[:6]
    boot = member.block_storage.create_volume(name=f"boot-{suffix}", size=1, image_id=dash.image_id)
    member.block_storage.wait_for_status(boot, "available", wait=120)
    snap = member.block_storage.create_snapshot(volume_id=boot.id, name=f"bsnap-{suffix}")
    member.block_storage.wait_for_status(snap, "available", wait=60)
    made: list[Any] = []

    def launch(name: str, source: str) -> Any:
        page.goto(f"{dash.url}/project/instances/launch")
        page.fill("#name", name)
        if source == "volume":
            page.check("#source-volume")
            page.select_option("#volume", boot.id)
            page.uncheck("#delete_on_termination")
        elif source == "snapshot":
            page.check("#source-snapshot")
            page.select_option("#snapshot", snap.id)
        else:
            page.select_option("#image", dash.image_id)
            page.check("#new_volume")
        page.select_option("#flavor", dash.flavor_id)
        page.click("#launch-submit")
        expect(page.locator(".flash.ok")).to_contain_text(f"Launching instance {name}")
        server = member.compute.find_server(name)
        assert server is not None
        made.append(server)
        return member.compute.wait_for_server(server, status="ACTIVE", wait=120)

    try:
        log_in_member(page, dash)
        on_volume = launch(f"fromvol-{suffix}", "volume")
        assert not (on_volume.image and on_volume.image.get("id"))
        attached = [a["id"] for a in on_volume.attached_volumes]
        assert attached == [boot.id]
        from_snap = launch(f"fromsnap-{suffix}", "snapshot")
        root = member.block_storage.get_volume(from_snap.attached_volumes[0]["id"])
        assert root.snapshot_id == snap.id
        into_new = launch(f"newvol-{suffix}", "image")
        root = member.block_storage.get_volume(into_new.attached_volumes[0]["id"])
        assert root.volume_image_metadata["image_id"] == dash.image_id
        screenshot(page, "launch-from-volume")
    finally:
        for server in made:
            member.compute.delete_server(server)
            member.compute.wait_for_delete(server, wait=60)
        member.block_storage.wait_for_status(boot, "available", wait=60)
        member.block_storage.delete_snapshot(snap, ignore_missing=True)
        member.block_storage.wait_for_delete(snap, wait=60)
        member.block_storage.delete_volume(boot, ignore_missing=True)
