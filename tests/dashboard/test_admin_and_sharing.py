"""Admin panels for every project's images and networks, groups, quotas (changed in the
browser) and the doctor; and an image shared with another project, accepted there."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.dashboard.conftest import DashCloud, log_in_admin, log_in_member, screenshot


def test_admin_sees_every_projects_images_networks_and_groups(page: Page, dash: DashCloud) -> None:
    admin = dash.admin
    suffix = uuid.uuid4().hex[:6]
    member = dash.member()
    image = member.image.create_image(
        name=f"memberimg-{suffix}", disk_format="raw", container_format="bare"
    )
    net = member.network.create_network(name=f"membernet-{suffix}")
    group = admin.identity.create_group(name=f"grp-{suffix}", domain_id="default")
    try:
        log_in_admin(page, dash)
        page.goto(f"{dash.url}/admin/images")
        expect(page.locator("table")).to_contain_text(image.name)
        expect(page.locator("table")).to_contain_text(dash.project_name)
        page.goto(f"{dash.url}/admin/networks")
        expect(page.locator("table")).to_contain_text(net.name)
        page.goto(f"{dash.url}/admin/groups")
        expect(page.locator("table")).to_contain_text(group.name)
    finally:
        member.image.delete_image(image, ignore_missing=True)
        member.network.delete_network(net, ignore_missing=True)
        admin.identity.delete_group(group, ignore_missing=True)


def test_admin_changes_a_projects_quotas(page: Page, dash: DashCloud) -> None:
    admin = dash.admin
    project = admin.identity.find_project(dash.project_name, domain_id="default")
    before = admin.compute.get_quota_set(project.id)
    try:
        log_in_admin(page, dash)
        page.goto(f"{dash.url}/admin/quotas")
        page.select_option("#quota-project", project.id)
        page.locator("#quota-project-form button").click()
        field = page.locator("#quota-compute-instances")
        expect(field).to_have_value(str(before.instances))
        screenshot(page, "admin-quotas")
        field.fill("7")
        page.locator("#quotas-compute button").click()
        expect(page.locator(".flash.ok")).to_contain_text("Compute quotas updated")
        assert admin.compute.get_quota_set(project.id).instances == 7
        port = page.locator("#quota-network-port")
        port.evaluate("el => el.removeAttribute('min')")  # what a stale or forged form sends
        port.fill("-2")
        page.locator("#quotas-network button").click()
        expect(page.locator(".flash.error")).to_contain_text("-1 for unlimited")
        page.locator("#quota-network-port").fill("321")
        page.locator("#quotas-network button").click()
        expect(page.locator(".flash.ok")).to_contain_text("Networking quotas updated")
        assert admin.network.get_quota(project.id).ports == 321
    finally:
        admin.compute.update_quota_set(project.id, instances=before.instances)
        admin.network.update_quota(project.id, ports=500)


def test_doctor_results_for_admins(page: Page, dash: DashCloud) -> None:
    log_in_admin(page, dash)
    page.goto(f"{dash.url}/admin/doctor")
    table = page.locator("table")
    expect(table).to_contain_text("python")
    expect(table).to_contain_text("qemu-img")
    expect(page.locator("tbody tr").first).to_contain_text("ok")
    screenshot(page, "admin-doctor")


def test_image_shared_with_another_project_is_accepted_there(page: Page, dash: DashCloud) -> None:
    admin = dash.admin
    suffix = uuid.uuid4().hex[:6]
    other = admin.identity.create_project(name=f"zz-share-{suffix}", domain_id="default")
    user = admin.identity.find_user(dash.member_name, domain_id="default")
    admin.identity.assign_project_role_to_user(other, user, admin.identity.find_role("member"))
    member = dash.member()
    image = member.image.create_image(
        name=f"shared-{suffix}", disk_format="raw", container_format="bare", visibility="shared"
    )
    try:
        log_in_member(page, dash)
        page.goto(f"{dash.url}/project/images/{image.id}/members")
        page.fill("#share-project", other.id)
        page.locator("#share-form button").click()
        expect(page.locator(".flash.ok")).to_contain_text(f"shared with project {other.id}")
        expect(page.locator("#member-rows")).to_contain_text("pending")
        page.select_option("#project-switch", other.id)  # the page submits on change
        expect(page.locator("#project-switch")).to_have_value(other.id)
        page.goto(f"{dash.url}/project/images")
        offer = page.locator(f"#offer-{image.id}")
        expect(offer).to_contain_text(image.name)
        offer.locator("button", has_text="Accept").click()
        expect(page.locator(".flash.ok")).to_contain_text("Image share accepted")
        expect(page.locator(f"#image-{image.id}")).to_contain_text(image.name)
        members = list(admin.image.members(image))
        assert [(m.member_id, m.status) for m in members] == [(other.id, "accepted")]
    finally:
        member.image.delete_image(image, ignore_missing=True)
        admin.identity.delete_project(other, ignore_missing=True)


def test_admin_makes_a_flavor_project_and_user_and_grants_a_role(
    page: Page, dash: DashCloud
) -> None:
    admin = dash.admin
    suffix = uuid.uuid4().hex[:6]
    log_in_admin(page, dash)
    page.goto(f"{dash.url}/admin/flavors")
    page.fill("#field-name", f"fl-{suffix}")
    page.fill("#field-vcpus", "2")
    page.fill("#field-ram", "256")
    page.fill("#field-disk", "3")
    page.click("#admin-submit")
    expect(page.locator(".flash.ok")).to_contain_text(f"Flavor fl-{suffix} created")
    flavor = admin.compute.find_flavor(f"fl-{suffix}")
    assert (flavor.vcpus, flavor.ram, flavor.disk) == (2, 256, 3)
    page.fill("#field-name", f"bad-{suffix}")
    page.locator("#field-vcpus").evaluate("el => el.removeAttribute('min')")
    page.fill("#field-vcpus", "-1")
    page.fill("#field-ram", "256")
    page.fill("#field-disk", "1")
    page.click("#admin-submit")
    expect(page.locator(".flash.error")).to_contain_text("vCPUs must be a whole number")
    assert admin.compute.find_flavor(f"bad-{suffix}", ignore_missing=True) is None

    page.goto(f"{dash.url}/admin/projects")
    page.fill("#field-name", f"proj-{suffix}")
    page.click("#admin-submit")
    expect(page.locator(".flash.ok")).to_contain_text(f"Project proj-{suffix} created")
    project = admin.identity.find_project(f"proj-{suffix}", domain_id="default")
    page.goto(f"{dash.url}/admin/users")
    page.fill("#field-name", f"user-{suffix}")
    page.fill("#field-password", "a-long-secret-pw")
    page.select_option("#field-default_project_id", project.id)
    page.click("#admin-submit")
    expect(page.locator(".flash.ok")).to_contain_text(f"User user-{suffix} created")
    user = admin.identity.find_user(f"user-{suffix}", domain_id="default")
    assert user.default_project_id == project.id

    page.goto(f"{dash.url}/admin/roles")
    page.select_option("#role-user", user.id)
    page.select_option("#role-project", project.id)
    page.select_option("#role-role", label="member")
    page.click("#role-grant")
    expect(page.locator(".flash.ok")).to_contain_text("Role granted")
    conn = dash.cloud.connect(f"user-{suffix}", "a-long-secret-pw", f"proj-{suffix}")
    assert conn.current_project_id == project.id
    screenshot(page, "admin-roles")

    page.goto(f"{dash.url}/admin/projects")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#row-{project.id} button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text("Project deleted")
    assert admin.identity.find_project(project.id, ignore_missing=True) is None
    page.goto(f"{dash.url}/admin/flavors")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#row-{flavor.id} button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text("Flavor deleted")
    admin.identity.delete_user(user, ignore_missing=True)
