"""Object storage panels in a real browser against a real cloud: a member creates a container,
uploads a file chosen in the browser into a folder, browses the folder, downloads the object,
makes the container public (anonymous read works, then stops), makes a temp URL that works
without a token, deletes the object and the container."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import DashCloud, log_in_member, screenshot


def test_containers_objects_public_and_temp_url(
    page: Page, dash: DashCloud, tmp_path: Path
) -> None:
    name = f"box-{uuid.uuid4().hex[:6]}"
    data = uuid.uuid4().bytes * 40_000  # 640 kB
    upload = tmp_path / "hello report.bin"
    upload.write_bytes(data)
    log_in_member(page, dash)
    page.click("nav.side >> text=Containers")
    page.fill("#container-name", name)
    page.click("#container-create button")
    expect(page.locator(".flash.ok")).to_contain_text(f"Container {name} created")
    page.locator(".container-name a", has_text=name).click()
    expect(page.locator("#container-title")).to_have_text(name)

    page.fill("#object-prefix", "docs/2026")
    page.set_input_files("#object-file", str(upload))
    page.click("#object-upload button")
    expect(page.locator(".flash.ok")).to_contain_text("Object docs/2026/hello report.bin uploaded")
    expect(page.locator(".object-name")).to_have_text(["hello report.bin"])
    page.locator(".crumbs a", has_text=name).click()
    expect(page.locator(".folder-name")).to_have_text(["docs/"])
    page.locator(".folder-name a").click()
    expect(page.locator(".folder-name")).to_have_text(["2026/"])
    page.locator(".folder-name a").click()
    screenshot(page, "objects")

    with page.expect_download() as got:
        page.locator(".object-name a").click()
    assert got.value.suggested_filename == "hello report.bin"
    assert Path(got.value.path()).read_bytes() == data

    swift = dash.member().object_store.get_endpoint()
    public_url = f"{swift}/{name}/docs/2026/hello%20report.bin"
    assert httpx.get(public_url).status_code in (401, 403)
    page.click("#public-toggle button")
    expect(page.locator("#access")).to_contain_text("Public")
    anonymous = httpx.get(public_url)
    assert anonymous.status_code == 200 and anonymous.content == data
    page.click("#public-toggle button")
    expect(page.locator("#access")).to_have_text("Private")
    assert httpx.get(public_url).status_code in (401, 403)

    page.locator("tr.object button", has_text="Temp URL").click()
    flash = page.locator(".flash.ok")
    expect(flash).to_contain_text("Temp URL")
    found = re.search(r"(http\S+temp_url_expires=\d+)", flash.inner_text())
    assert found is not None
    signed = httpx.get(found.group(1))
    assert signed.status_code == 200 and signed.content == data
    tampered = found.group(1).replace("hello%20report.bin", "other.bin")
    assert httpx.get(tampered).status_code == 401

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr.object button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text("deleted")
    page.click("nav.side >> text=Containers")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr.container-row", has_text=name).locator("button", has_text="Delete").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"Container {name} deleted")
    expect(page.locator(".container-name", has_text=name)).to_have_count(0)
