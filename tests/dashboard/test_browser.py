"""The dashboard in a real browser (Playwright driving Debian's chromium) against a real cloud
with the fake compute driver: log in and out, launch and watch an instance, act on it, upload
an image, and what a member may not see."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from tests.dashboard.conftest import DashCloud, log_in_admin, log_in_member, screenshot

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBR4mqBt0Vd1kq8oK3d0Xy7kE+nHk0F5rC2dW7yJ9m8v test@dash"
)
ADMIN_URLS = (
    "/admin/instances",
    "/admin/hypervisors",
    "/admin/services",
    "/admin/flavors",
    "/admin/projects",
    "/admin/users",
    "/admin/roles",
    "/admin/groups",
    "/admin/images",
    "/admin/networks",
    "/admin/quotas",
    "/admin/doctor",
)


def test_log_in_and_out(page: Page, dash: DashCloud) -> None:
    log_in_member(page, dash)
    expect(page.locator("#current-user")).to_have_text(dash.member_name)
    expect(page.locator("#project-switch")).to_contain_text(dash.project_name)
    # quota usage from each service's quota API
    for key in ("instances", "cores", "ram", "volumes", "gigabytes", "floatingip", "router"):
        expect(page.locator(f"#usage-{key}")).to_contain_text(" of ")
    screenshot(page, "overview")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    expect(page.locator("nav.side")).to_contain_text("Instances")
    screenshot(page, "overview-phone")
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/auth/login$"))
    expect(page.locator(".flash.ok")).to_contain_text("logged out")
    # the old session is gone: a project page sends the browser back to the login form
    page.goto(f"{dash.url}/project/instances")
    assert "/auth/login" in page.url


def test_switch_project(page: Page, dash: DashCloud) -> None:
    admin = dash.admin
    other = admin.identity.create_project(
        name=f"zz-dash-{uuid.uuid4().hex[:6]}", domain_id="default"
    )
    user = admin.identity.find_user(dash.member_name, domain_id="default")
    admin.identity.assign_project_role_to_user(other, user, admin.identity.find_role("member"))
    log_in_member(page, dash)
    expect(page.locator("h1")).to_contain_text(dash.project_name)
    page.select_option("#project-switch", other.id)  # the page submits on change
    expect(page.locator(".flash.ok")).to_contain_text(f"Now working in project {other.name}")
    expect(page.locator("h1")).to_contain_text(other.name)
    openrc = page.context.request.get(f"{dash.url}/project/api_access/openrc").text()
    assert f"OS_PROJECT_ID={other.id}" in openrc


def test_wrong_password_shows_the_identity_message(page: Page, dash: DashCloud) -> None:
    page.goto(f"{dash.url}/auth/login")
    page.fill("#username", dash.member_name)
    page.fill("#password", "not-the-password")
    page.click("#login")
    expect(page.locator("#login-error")).to_contain_text("requires authentication")
    assert page.locator("#current-user").count() == 0


def test_member_launches_an_instance_and_sees_it_go_active(page: Page, dash: DashCloud) -> None:
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances/launch")
    name = f"web-{uuid.uuid4().hex[:6]}"
    page.fill("#name", name)
    page.select_option("#image", dash.image_id)
    page.select_option("#flavor", dash.flavor_id)
    page.click("#launch-submit")
    page.wait_for_url(re.compile(r".*/project/instances$"))
    row = page.locator("tr", has=page.locator("a.server-name", has_text=name))
    expect(row).to_have_attribute("data-status", "BUILD")
    # a mark on the window survives only if the page is never reloaded
    page.evaluate("window.__notReloaded = true")
    expect(row).to_have_attribute("data-status", "ACTIVE", timeout=60_000)
    assert page.evaluate("window.__notReloaded === true")
    screenshot(page, "instances")
    servers = list(dash.member().compute.servers(name=name))
    assert [s.status for s in servers] == ["ACTIVE"]
    # the row's own buttons: stop, then delete (after the page's confirmation)
    row.locator("button[value^=stop]").click()
    expect(row).to_have_attribute("data-status", "SHUTOFF", timeout=60_000)
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[value^=delete]").click()
    expect(row).to_have_count(0, timeout=60_000)


def test_an_action_changes_the_state_on_the_detail_page(page: Page, dash: DashCloud) -> None:
    member = dash.member()
    server = member.compute.create_server(
        name=f"act-{uuid.uuid4().hex[:6]}",
        image_id=dash.image_id,
        flavor_id=dash.flavor_id,
        networks="none",
    )
    member.compute.wait_for_server(server, status="ACTIVE", wait=60)
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances/{server.id}")
    expect(page.locator("#server-status")).to_have_text("ACTIVE")
    page.click("#action-stop")
    expect(page.locator(".flash.ok")).to_contain_text("Stop")
    expect(page.locator("#server-status")).to_have_text("SHUTOFF", timeout=60_000)
    expect(page.locator("#timeline")).to_contain_text("stop")
    screenshot(page, "instance-detail")
    page.click("#action-start")
    expect(page.locator("#server-status")).to_have_text("ACTIVE", timeout=60_000)
    assert member.compute.get_server(server.id).status == "ACTIVE"


def test_resize_confirm_rebuild_and_snapshot_from_the_detail_page(
    page: Page, dash: DashCloud
) -> None:
    bigger = dash.admin.compute.create_flavor(
        name=f"dash-small-{uuid.uuid4().hex[:6]}", ram=128, vcpus=1, disk=1
    )
    member = dash.member()
    server = member.compute.create_server(
        name=f"resize-{uuid.uuid4().hex[:6]}",
        image_id=dash.image_id,
        flavor_id=dash.flavor_id,
        networks="none",
    )
    member.compute.wait_for_server(server, status="ACTIVE", wait=60)
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances/{server.id}")
    page.select_option("select[name=flavor]", bigger.id)
    page.click("button[value=resize]")
    expect(page.locator("#server-status")).to_have_text("VERIFY_RESIZE", timeout=60_000)
    page.click("#action-confirm_resize")
    expect(page.locator("#server-status")).to_have_text("ACTIVE", timeout=60_000)
    assert member.compute.get_server(server.id).flavor.name == bigger.name
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[value=rebuild]")
    expect(page.locator(".flash.ok")).to_contain_text("Rebuild requested")
    expect(page.locator("#server-status")).to_have_text("ACTIVE", timeout=60_000)
    expect(page.locator("#timeline")).to_contain_text("rebuild")
    snapshot = f"snap-{uuid.uuid4().hex[:6]}"
    page.fill("input[name=snapshot_name]", snapshot)
    page.click("button[value=snapshot]")
    expect(page.locator(".flash.ok")).to_contain_text("Snapshot requested")
    page.goto(f"{dash.url}/project/images")
    expect(page.locator(".image-name", has_text=snapshot)).to_have_count(1)


def test_a_failed_build_shows_its_fault_and_why_hosts_were_refused(
    page: Page, dash: DashCloud
) -> None:
    huge = dash.admin.compute.create_flavor(
        name=f"dash-huge-{uuid.uuid4().hex[:6]}", ram=64, vcpus=1, disk=5000
    )
    member = dash.member()
    server = member.compute.create_server(
        name=f"nohost-{uuid.uuid4().hex[:6]}",
        image_id=dash.image_id,
        flavor_id=huge.id,
        networks="none",
    )
    member.compute.wait_for_server(server, status="ERROR", failures=[], wait=60)
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances/{server.id}")
    expect(page.locator("#server-status")).to_have_text("ERROR")
    fault = page.locator("#server-fault")
    expect(fault).to_contain_text("No valid host was found")
    expect(fault).to_contain_text("DiskFilter: 2 of 2 hosts")
    expect(page.locator("#timeline")).to_contain_text("create")
    screenshot(page, "instance-fault")


def test_web_console_link_from_the_compute_api(
    context: BrowserContext, page: Page, dash: DashCloud
) -> None:
    member = dash.member()
    server = member.compute.create_server(
        name=f"console-{uuid.uuid4().hex[:6]}",
        image_id=dash.image_id,
        flavor_id=dash.flavor_id,
        networks="none",
    )
    member.compute.wait_for_server(server, status="ACTIVE", wait=60)
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances/{server.id}")
    page.click("#open-console")
    link = page.locator("#console-url")
    expect(link).to_have_attribute("href", re.compile(r"^http://.*token"))
    url = link.get_attribute("href")
    assert url is not None and context.request.get(url).status == 200
    page.goto(f"{dash.url}/project/instances/{server.id}/console_log")
    expect(page.locator("#console-log")).to_contain_text("login:")


def test_image_upload_shows_progress(page: Page, dash: DashCloud, tmp_path: Path) -> None:
    data = tmp_path / "disk.raw"
    data.write_bytes(bytes(range(256)) * 4096 * 8)  # 8 MiB
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/images/create")
    name = f"upload-{uuid.uuid4().hex[:6]}"
    page.fill("#image-name", name)
    page.set_input_files("#image-file", str(data))
    page.select_option("#disk_format", "raw")
    page.select_option("#container_format", "bare")
    # record every value the progress bar takes (the page navigates away when done)
    page.evaluate(
        """() => {
            window.__progress = [];
            const bar = document.querySelector('#upload-progress');
            new MutationObserver(() => {
                sessionStorage.setItem('progress',
                    JSON.stringify([...JSON.parse(sessionStorage.getItem('progress') || '[]'),
                                    bar.value, bar.hidden]));
            }).observe(bar, {attributes: true});
        }"""
    )
    page.click("#image-submit")
    page.wait_for_url(re.compile(r".*/project/images$"))
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('progress') || '[]')")
    values = [v for v in seen if isinstance(v, int | float) and not isinstance(v, bool)]
    assert values and max(values) == 100, seen
    row = page.locator("tr", has=page.locator(".image-name", has_text=name))
    expect(row.locator(".status")).to_have_text("active")
    screenshot(page, "images")
    image = next(dash.admin.image.images(name=name))
    assert image.size == data.stat().st_size and image.status == "active"
    # edit, then delete
    row.locator("a", has_text="Edit").click()
    renamed = f"{name}-renamed"
    page.fill("input[name=name]", renamed)
    page.fill("input[name=min_ram]", "128")
    page.click("button[type=submit].primary")
    expect(page.locator(".flash.ok")).to_contain_text("Image updated")
    edited = dash.admin.image.get_image(image.id)
    assert (edited.name, edited.min_ram) == (renamed, 128)
    row = page.locator("tr", has=page.locator(".image-name", has_text=renamed))
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text("Image deleted")
    assert dash.admin.image.find_image(image.id) is None


def test_volumes_create_extend_delete(page: Page, dash: DashCloud) -> None:
    log_in_member(page, dash)
    page.click("nav.side >> text=Volumes")
    name = f"vol-{uuid.uuid4().hex[:6]}"
    page.fill("#volume-name", name)
    page.fill("#volume-size", "1")
    page.click("#volume-create button")
    expect(page.locator(".flash.ok")).to_contain_text(f"Creating volume {name}")
    row = page.locator("tr", has=page.locator(".volume-name", has_text=name))
    expect(row).to_have_attribute("data-status", "available", timeout=60_000)
    screenshot(page, "volumes")
    row.locator("input[type=number]").fill("2")
    row.locator("button[value^=extend]").click()
    expect(page.locator(".flash.ok")).to_contain_text("Extending the volume to 2 GB")
    expect(row.locator(".size")).to_have_text("2", timeout=60_000)
    expect(row).to_have_attribute("data-status", "available", timeout=60_000)
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[value^=delete]").click()
    expect(row).to_have_count(0, timeout=60_000)


def test_member_sees_no_admin_panels_and_gets_403(page: Page, dash: DashCloud) -> None:
    log_in_member(page, dash)
    nav = page.locator("nav.side")
    expect(nav).to_contain_text("Instances")
    expect(nav).not_to_contain_text("Hypervisors")
    expect(nav).not_to_contain_text("Admin")
    for url in ADMIN_URLS:
        response = page.goto(f"{dash.url}{url}")
        assert response is not None and response.status == 403, url
        expect(page.locator("#error-message")).to_contain_text("admins only")


def test_admin_sees_the_admin_panels(page: Page, dash: DashCloud) -> None:
    log_in_admin(page, dash)
    expect(page.locator("nav.side")).to_contain_text("Hypervisors")
    for url in ADMIN_URLS:
        response = page.goto(f"{dash.url}{url}")
        assert response is not None and response.status == 200, url
    page.goto(f"{dash.url}/admin/services")
    expect(page.locator("table")).to_contain_text("nova-compute")
    page.goto(f"{dash.url}/admin/hypervisors")
    screenshot(page, "admin-hypervisors")
    expect(page.locator("tbody tr")).to_have_count(2)


def test_key_pair_created_in_the_browser_is_downloaded_once(
    page: Page, dash: DashCloud, tmp_path: Path
) -> None:
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/key_pairs")
    name = f"key-{uuid.uuid4().hex[:6]}"
    page.fill("#keypair-create input[name=name]", name)
    with page.expect_download() as download:
        page.click("#keypair-create button[type=submit]")
    saved = tmp_path / "key.pem"
    download.value.save_as(saved)
    assert saved.read_text().startswith("-----BEGIN")
    page.goto(f"{dash.url}/project/key_pairs")
    expect(page.locator(".key-name", has_text=name)).to_have_count(1)
    screenshot(page, "key-pairs")
    # the private key is not kept anywhere: the API never shows it again
    assert dash.member().compute.get_keypair(name).private_key is None


def test_launch_form_makes_key_pairs_on_the_spot(
    page: Page, dash: DashCloud, tmp_path: Path
) -> None:
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances/launch")
    page.click("#new-keypair summary")
    created = f"made-{uuid.uuid4().hex[:6]}"
    page.fill("#launch-keypair-create input[name=name]", created)
    with page.expect_download() as download:
        page.click("#launch-keypair-create button")
    download.value.save_as(tmp_path / "made.pem")
    assert (tmp_path / "made.pem").read_text().startswith("-----BEGIN")
    expect(page.locator("#key_name option", has_text=created)).to_have_count(1)
    # the same name again: the API's refusal is shown on the page
    page.fill("#launch-keypair-create input[name=name]", created)
    page.click("#launch-keypair-create button")
    expect(page.locator("#keypair-status .flash.error")).to_contain_text("already exists")
    imported = f"imported-{uuid.uuid4().hex[:6]}"
    page.fill("#launch-keypair-import input[name=name]", imported)
    page.fill("#launch-keypair-import textarea", PUBLIC_KEY)
    page.click("#launch-keypair-import button")
    expect(page.locator("#keypair-status")).to_contain_text(f"Key pair {imported} imported")
    expect(page.locator("#key_name option", has_text=imported)).to_have_count(1)
    screenshot(page, "launch")
    name = f"keyed-{uuid.uuid4().hex[:6]}"
    page.fill("#name", name)
    page.select_option("#image", dash.image_id)
    page.select_option("#flavor", dash.flavor_id)
    page.select_option("#key_name", created)
    page.click("#launch-submit")
    page.wait_for_url(re.compile(r".*/project/instances$"))
    servers = list(dash.member().compute.servers(name=name))
    assert [s.key_name for s in servers] == [created]


def test_api_access_downloads_openrc_and_clouds_yaml(
    context: BrowserContext, page: Page, dash: DashCloud
) -> None:
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/api_access")
    expect(page.locator("table")).to_contain_text(dash.cloud.url("compute"))
    screenshot(page, "api-access")
    openrc = context.request.get(f"{dash.url}/project/api_access/openrc").text()
    assert f"export OS_USERNAME={dash.member_name}" in openrc
    assert f"export OS_PROJECT_NAME={dash.project_name}" in openrc
    assert "OS_PASSWORD=" not in openrc
    clouds = context.request.get(f"{dash.url}/project/api_access/clouds.yaml").text()
    assert dash.cloud.auth_url in clouds and "password" not in clouds.split("\n", 1)[1]
