"""The network panels in a real browser against a real cloud: a member creates a network with
a subnet and a router with an external gateway and an interface, sees them and an instance on
the network in the topology picture, allocates, associates and releases a floating IP, and edits a
security group's rules; then tears it all down through the same pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.dashboard.conftest import DashCloud, log_in_member, screenshot
from tests.nothing_made import nothing_made


@pytest.fixture(scope="module")
def external(dash: DashCloud) -> Iterator[str]:
    """An external network (admin-made) with a subnet, the floating IPs' pool."""
    name = f"dash-ext-{uuid.uuid4().hex[:6]}"
    net = dash.admin.network.create_network(name=name, is_router_external=True)
    dash.admin.network.create_subnet(
        network_id=net.id, cidr="203.0.113.0/24", ip_version=4, name=f"{name}-subnet"
    )
    try:
        yield name
    finally:
        dash.admin.network.delete_network(net.id, ignore_missing=True)


def _accept_next_dialog(page: Page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())


def test_network_router_topology_floating_ip(page: Page, dash: DashCloud, external: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    net_name, router_name = f"net-{suffix}", f"rtr-{suffix}"
    log_in_member(page, dash)
    page.click("nav.side >> text=Networks")
    page.fill("#network-name", net_name)
    page.fill("#network-cidr", "10.42.0.0/24")
    page.click("#network-create button")
    expect(page.locator(".flash.ok")).to_contain_text(f"Network {net_name} created")
    row = page.locator("tr", has=page.locator(".network-name", has_text=net_name))
    expect(row.locator(".subnets")).to_contain_text("10.42.0.0/24")
    screenshot(page, "networks")

    member = dash.member()
    net = member.network.find_network(net_name)
    assert net is not None
    server = member.compute.create_server(
        name=f"vm-{suffix}",
        image_id=dash.image_id,
        flavor_id=dash.flavor_id,
        networks=[{"uuid": net.id}],
    )
    member.compute.wait_for_server(server, status="ACTIVE", wait=60)
    vm_id = server.id

    page.click("nav.side >> text=Routers")
    expect(page.locator("h1")).to_have_text("Routers")
    page.fill("#router-name", router_name)
    page.select_option("#router-external", label=external)
    page.click("#router-create button")
    expect(page.locator(".flash.ok")).to_contain_text(f"Router {router_name} created")
    router_row = page.locator("tr", has=page.locator(".router-name", has_text=router_name))
    expect(router_row.locator(".gateway")).to_have_text(external)
    router_row.locator(".router-name a").click()
    page.select_option("#interface-subnet", label=f"{net_name}-subnet (10.42.0.0/24)")
    page.click("#router-interface button")
    expect(page.locator(".flash.ok")).to_contain_text("Interface added")
    expect(page.locator(".interface-subnet", has_text="10.42.0.0/24")).to_have_count(1)
    screenshot(page, "router")

    page.click("nav.side >> text=Network topology")
    svg = page.locator("svg#topology")
    for kind, ident in (("network", net.id), ("instance", vm_id)):
        expect(svg.locator(f"a[data-kind={kind}][data-id='{ident}']")).to_have_count(1)
    expect(svg.locator("a[data-kind=instance]")).to_contain_text(f"vm-{suffix}")
    expect(svg.locator("a[data-kind=router]", has_text=router_name)).to_have_count(1)
    expect(svg.locator("a[data-kind=network]", has_text=external)).to_have_count(1)
    # router-network (interface), router-external (gateway), instance-network (port)
    expect(svg.locator("line.link")).to_have_count(3)
    expect(svg.locator("line.link.gateway")).to_have_count(1)
    screenshot(page, "topology")
    svg.locator("a[data-kind=network]", has_text=net_name).click()
    expect(page.locator("#network-title")).to_have_text(net_name)

    page.click("nav.side >> text=Floating IPs")
    page.select_option("#fip-pool", label=external)
    page.click("#fip-allocate button")
    expect(page.locator(".flash.ok")).to_contain_text("allocated")
    fip = page.locator("tr.fip").first
    fip.locator("button", has_text="Associate").click()
    expect(page.locator(".flash.ok")).to_contain_text("Floating IP associated")
    expect(page.locator("tr.fip .mapped").first).to_contain_text("10.42.0.")
    screenshot(page, "floating_ips")
    page.locator("tr.fip button", has_text="Disassociate").click()
    expect(page.locator(".flash.ok")).to_contain_text("disassociated")
    _accept_next_dialog(page)
    page.locator("tr.fip button", has_text="Release").click()
    expect(page.locator(".flash.ok")).to_contain_text("released")
    assert list(member.network.ips()) == []

    member.compute.delete_server(server)
    member.compute.wait_for_delete(server, wait=60)
    page.click("nav.side >> text=Routers")
    page.locator(".router-name a", has_text=router_name).click()
    page.locator(".interface button", has_text="Remove").click()
    expect(page.locator(".flash.ok")).to_contain_text("Interface removed")
    _accept_next_dialog(page)
    page.click("text=Delete router")
    expect(page.locator(".flash.ok")).to_contain_text("Router deleted")
    page.click("nav.side >> text=Networks")
    _accept_next_dialog(page)
    row.locator("button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text("Network deleted")
    assert member.network.find_network(net_name) is None


def test_security_group_rules(page: Page, dash: DashCloud) -> None:
    name = f"sg-{uuid.uuid4().hex[:6]}"
    log_in_member(page, dash)
    page.click("nav.side >> text=Security groups")
    page.fill("#sg-name", name)
    page.click("#sg-create button")
    expect(page.locator("#sg-title")).to_have_text(name)
    page.select_option("#rule-protocol", "tcp")
    page.fill("#rule-port-min", "22")
    page.fill("#rule-port-max", "22")
    page.fill("#rule-remote", "192.0.2.0/24")
    page.click("#rule-create button")
    expect(page.locator(".flash.ok")).to_contain_text("Rule added")
    ssh = page.locator("tr.rule", has=page.locator(".ports", has_text="22"))
    expect(ssh).to_have_count(1)
    screenshot(page, "security_group")
    # a bad rule shows the networking API's own message
    page.select_option("#rule-protocol", "tcp")
    page.fill("#rule-port-min", "30")
    page.fill("#rule-port-max", "20")
    page.click("#rule-create button")
    expect(page.locator(".flash.error")).to_be_visible()
    ssh.locator("button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text("Rule deleted")
    expect(ssh).to_have_count(0)
    _accept_next_dialog(page)
    page.click("text=Delete group")
    expect(page.locator(".flash.ok")).to_contain_text("Security group deleted")
    expect(page.locator(".sg-name", has_text=name)).to_have_count(0)


def test_launch_form_passes_the_chosen_network(page: Page, dash: DashCloud) -> None:
    """The launch form lists the project's networks and sends the chosen one as
    ``networks: [{"uuid": ...}]``: the instance gets a port on it. A network the compute API
    refuses shows the compute API's own message (and nothing is made)."""
    suffix = uuid.uuid4().hex[:6]
    member = dash.member()
    net = member.network.create_network(name=f"lnet-{suffix}")
    member.network.create_subnet(network_id=net.id, cidr="10.77.0.0/24", ip_version=4)
    name = f"netvm-{suffix}"

    def launch(server_name: str, network_value: str | None = None) -> None:
        page.goto(f"{dash.url}/project/instances/launch")
        page.fill("#name", server_name)
        page.select_option("#image", dash.image_id)
        page.select_option("#flavor", dash.flavor_id)
        box = page.locator(f"#launch-networks input[value='{net.id}']")
        box.check()
        if network_value:  # what a stale form would send: a network that is gone
            box.evaluate("(el, v) => { el.value = v; }", network_value)
        page.click("#launch-submit")

    try:
        log_in_member(page, dash)
        launch(name)
        expect(page.locator(".flash.ok")).to_contain_text(f"Launching instance {name}")
        made = member.compute.find_server(name)
        assert made is not None
        member.compute.wait_for_server(made, status="ACTIVE", wait=60)
        ports = list(member.network.ports(device_id=made.id))
        assert [p.network_id for p in ports] == [net.id]
        member.compute.delete_server(made)
        member.compute.wait_for_delete(made, wait=60)

        gone = str(uuid.uuid4())
        refused = f"refused-{suffix}"
        with nothing_made(dash.cloud):
            launch(refused, gone)
            expect(page.locator(".flash.error")).to_have_count(1)
            server = {
                "name": refused,
                "imageRef": dash.image_id,
                "flavorRef": dash.flavor_id,
                "networks": [{"uuid": gone}],
            }
            direct = member.compute.post("/servers", json={"server": server})
            assert direct.status_code in (400, 404)
            message = next(iter(direct.json().values()))["message"]
            expect(page.locator(".flash.error")).to_have_text(message)
        assert list(member.compute.servers(name=refused)) == []
    finally:
        member.network.delete_network(net.id, ignore_missing=True)


def test_names_are_text_in_the_network_pages_and_picture(page: Page, dash: DashCloud) -> None:
    xss = "<script>alert(1)</script>"
    member = dash.member()
    net = member.network.create_network(name=xss)
    router = member.network.create_router(name=xss)
    seen: list[str] = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.dismiss()))
    try:
        log_in_member(page, dash)
        page.goto(f"{dash.url}/project/networks")
        expect(page.locator(f"#network-{net.id} .network-name")).to_have_text(xss)
        page.goto(f"{dash.url}/project/network_topology")
        svg = page.locator("svg#topology")
        expect(svg.locator(f"a[data-id='{net.id}'] text")).to_have_text(xss)
        expect(svg.locator(f"a[data-id='{router.id}'] text")).to_have_text(xss)
        assert page.locator("script:not([src])").count() == 0
        assert seen == []
    finally:
        member.network.delete_router(router.id)
        member.network.delete_network(net.id)


def test_new_forms_refuse_a_post_without_the_csrf_token(
    context: BrowserContext, page: Page, dash: DashCloud
) -> None:
    log_in_member(page, dash)
    with nothing_made(dash.cloud):
        for path, form in (
            ("/project/networks/create", {"name": "forged", "cidr": "10.9.0.0/24"}),
            ("/project/routers/create", {"name": "forged"}),
            ("/project/security_groups/create", {"name": "forged"}),
            ("/project/containers/create", {"name": "forged"}),
            ("/project/snapshots/create", {"volume_id": str(uuid.uuid4())}),
        ):
            resp = context.request.post(f"{dash.url}{path}", form=form)
            assert resp.status == 403, path
        resp = context.request.put(f"{dash.url}/project/containers/forged/upload?name=x", data=b"x")
        assert resp.status == 403
    assert dash.member().network.find_network("forged") is None
