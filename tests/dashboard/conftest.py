"""A cloud with the dashboard for the browser tests, and a real browser (Debian's chromium,
driven by Playwright: browsers cannot be downloaded here, so Playwright is pointed at
/usr/bin/chromium). Screenshots of the main pages go to tmp/artifacts/dashboard/ (not in git).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openstack.connection
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.cloud import ADMIN_PASSWORD, ROOT, Cloud, running_cloud

SERVICES = ("identity", "image", "placement", "compute", "network", "volume", "object", "dashboard")
# a slow spawn, so the instances table is seen in BUILD before it turns ACTIVE by itself
FAKE_ENV = {"MINISTACK_COMPUTE_FAKE_DELAYS": "spawn=3.0", "MINISTACK_COMPUTE_FAKE_HOSTS": "2"}
CHROMIUM = os.environ.get("MINISTACK_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = (
    Path(os.environ.get("MINISTACK_TEST_ARTIFACTS", ROOT / "tmp" / "artifacts")) / "dashboard"
)
MEMBER_PASSWORD = "member-secret-pw"


@dataclass
class DashCloud:
    """The running cloud, its admin connection, a member of a project, an image and a flavor."""

    cloud: Cloud
    admin: openstack.connection.Connection
    member_name: str
    project_name: str
    image_id: str
    flavor_id: str

    @property
    def url(self) -> str:
        return self.cloud.url("dashboard")

    def member(self) -> openstack.connection.Connection:
        return self.cloud.connect(self.member_name, MEMBER_PASSWORD, self.project_name)


# package scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while the browser lives, which would break every later asyncio test in the session
@pytest.fixture(scope="package")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashCloud]:
    tmp: Path = tmp_path_factory.mktemp("dashboard")
    with running_cloud(tmp, services=SERVICES, extra_env=FAKE_ENV) as cloud:
        admin = cloud.connect()
        suffix = uuid.uuid4().hex[:6]
        project = admin.identity.create_project(name=f"dash-{suffix}", domain_id="default")
        user = admin.identity.create_user(
            name=f"dash-member-{suffix}", password=MEMBER_PASSWORD, domain_id="default"
        )
        admin.identity.assign_project_role_to_user(
            project, user, admin.identity.find_role("member")
        )
        image = admin.image.create_image(
            name="dash-image",
            data=b"\0" * 4096,
            disk_format="raw",
            container_format="bare",
            visibility="public",
        )
        flavor = admin.compute.create_flavor(name=f"dash-tiny-{suffix}", ram=64, vcpus=1, disk=1)
        yield DashCloud(cloud, admin, user.name, project.name, image.id, flavor.id)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def log_in(page: Page, base: str, user: str, password: str, domain: str = "Default") -> None:
    """Log in through the login form and land on the overview."""
    page.goto(f"{base}/auth/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.fill("#domain", domain)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/project/$"))


def log_in_member(page: Page, dash: DashCloud) -> None:
    log_in(page, dash.url, dash.member_name, MEMBER_PASSWORD)


def log_in_admin(page: Page, dash: DashCloud) -> None:
    log_in(page, dash.url, "admin", ADMIN_PASSWORD)


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
