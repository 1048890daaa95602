"""Volume snapshots and transfers in a real browser against a real cloud: snapshot a volume
from its row, make a volume from the snapshot, delete the snapshot; offer a volume to another
project (id and key shown once) and accept it there after switching project."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.dashboard.conftest import DashCloud, log_in_member, screenshot

WAIT = 60_000


def _volume(dash: DashCloud, name: str) -> str:
    member = dash.member()
    volume = member.block_storage.create_volume(name=name, size=1)
    member.block_storage.wait_for_status(volume, "available", wait=60)
    return str(volume.id)


def test_snapshot_and_volume_from_snapshot(page: Page, dash: DashCloud) -> None:
    name = f"snapvol-{uuid.uuid4().hex[:6]}"
    volume_id = _volume(dash, name)
    log_in_member(page, dash)
    page.click("nav.side >> text=Volumes")
    row = page.locator("tr", has=page.locator(".volume-name", has_text=name))
    row.locator("button", has_text="Snapshot").click()
    expect(page.locator(".flash.ok")).to_contain_text("Creating snapshot snapshot of")
    snap = page.locator("tr.snapshot", has_text=volume_id)
    member = dash.member()
    found = next(s for s in member.block_storage.snapshots() if s.volume_id == volume_id)
    member.block_storage.wait_for_status(found, "available", wait=60)
    page.reload()
    expect(snap).to_have_attribute("data-status", "available")
    screenshot(page, "snapshots")
    restored = f"restored-{uuid.uuid4().hex[:6]}"
    snap.locator("input").fill(restored)
    snap.locator("button", has_text="Create volume").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"Creating volume {restored} from")
    made = page.locator("tr", has=page.locator(".volume-name", has_text=restored))
    expect(made).to_have_attribute("data-status", "available", timeout=WAIT)
    vol = member.block_storage.find_volume(restored)
    assert vol is not None and vol.snapshot_id == found.id
    page.click("nav.side >> text=Volume snapshots")
    page.once("dialog", lambda dialog: dialog.accept())
    snap.locator("button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text("Deleting the snapshot")


def test_transfer_a_volume_to_another_project(page: Page, dash: DashCloud) -> None:
    admin = dash.admin
    other = admin.identity.create_project(
        name=f"zz-xfer-{uuid.uuid4().hex[:6]}", domain_id="default"
    )
    user = admin.identity.find_user(dash.member_name, domain_id="default")
    admin.identity.assign_project_role_to_user(other, user, admin.identity.find_role("member"))
    name = f"xfer-{uuid.uuid4().hex[:6]}"
    volume_id = _volume(dash, name)
    log_in_member(page, dash)
    page.click("nav.side >> text=Volumes")
    row = page.locator("tr", has=page.locator(".volume-name", has_text=name))
    row.locator("button", has_text="Transfer").click()
    expect(page.locator("#transfer-created")).to_be_visible()
    transfer_id = page.locator("#transfer-id").inner_text()
    key = page.locator("#transfer-key").inner_text()
    assert transfer_id and key
    screenshot(page, "volume_transfers")
    page.select_option("#project-switch", other.id)
    expect(page.locator(".flash.ok")).to_contain_text(f"Now working in project {other.name}")
    page.click("nav.side >> text=Volume transfers")
    page.fill("#accept-id", transfer_id)
    page.fill("#accept-key", "wrong-key")
    page.click("#transfer-accept button")
    expect(page.locator(".flash.error")).to_be_visible()  # the API's refusal, as its message
    page.fill("#accept-id", transfer_id)
    page.fill("#accept-key", key)
    page.click("#transfer-accept button")
    expect(page.locator(".flash.ok")).to_contain_text("Transfer accepted")
    expect(page.locator(".volume-name", has_text=name)).to_have_count(1)
    moved = admin.block_storage.get_volume(volume_id)
    assert moved.project_id == other.id
