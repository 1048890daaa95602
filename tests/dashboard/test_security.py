"""The dashboard's security promises (23, 24) in a real browser: user text is escaped, a POST
without the session's CSRF token is refused, the headers and cookie flags are sent, API errors
show the API's message; logins are throttled and logout revokes the tokens."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, expect

from ministack.config import load
from ministack.dashboard.app import build
from ministack.dashboard.cloud import Cloud as DashboardCloud
from tests.cloud import ADMIN_PASSWORD, Cloud, admin_token, running_cloud
from tests.dashboard.conftest import DashCloud, log_in_member, screenshot
from tests.nothing_made import nothing_made

XSS = "<script>alert(1)</script>"
CSRF_MESSAGE = "CSRF token is missing or wrong"


def _no_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen


def test_a_script_in_a_server_name_is_shown_as_text(page: Page, dash: DashCloud) -> None:
    member = dash.member()
    server = member.compute.create_server(
        name=XSS, image_id=dash.image_id, flavor_id=dash.flavor_id, networks="none"
    )
    member.compute.wait_for_server(server, status="ACTIVE", wait=60)
    dialogs = _no_dialogs(page)
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances?name=script")
    link = page.locator(f"#server-{server.id} a.server-name")
    expect(link).to_have_text(XSS)
    page.goto(f"{dash.url}/project/instances/{server.id}")
    expect(page.locator("#server-name")).to_have_text(XSS)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content()
    page.goto(f"{dash.url}/project/")
    screenshot(page, "xss-overview")
    assert page.locator("script:not([src])").count() == 0
    assert dialogs == []


def test_a_post_without_the_csrf_token_is_refused(
    context: BrowserContext, page: Page, dash: DashCloud
) -> None:
    member = dash.member()
    server = member.compute.create_server(
        name=f"csrf-{uuid.uuid4().hex[:6]}",
        image_id=dash.image_id,
        flavor_id=dash.flavor_id,
        networks="none",
    )
    member.compute.wait_for_server(server, status="ACTIVE", wait=60)
    log_in_member(page, dash)
    url = f"{dash.url}/project/instances/{server.id}/action"
    with nothing_made(dash.cloud):
        for form in ({"action": "delete"}, {"action": "delete", "csrf_token": "forged"}):
            resp = context.request.post(url, form=form)
            assert resp.status == 403 and CSRF_MESSAGE in resp.text()
        resp = context.request.post(
            f"{dash.url}/project/images/create",
            form={"name": "forged", "disk_format": "raw", "container_format": "bare"},
        )
        assert resp.status == 403
        resp = context.request.put(f"{dash.url}/project/images/{dash.image_id}/data", data=b"x")
        assert resp.status == 403
    assert member.compute.get_server(server.id).status == "ACTIVE"
    # the same request with the page's token goes through
    page.goto(f"{dash.url}/project/instances/{server.id}")
    page.once("dialog", lambda dialog: dialog.accept())  # the page asks before deleting
    page.click("#action-delete")
    page.wait_for_url(re.compile(r".*/project/instances/.*"))
    expect(page.locator(".flash.ok")).to_contain_text("Deleting")


def test_login_form_needs_its_csrf_token(context: BrowserContext, dash: DashCloud) -> None:
    resp = context.request.post(
        f"{dash.url}/auth/login",
        form={"username": "admin", "password": ADMIN_PASSWORD, "domain": "Default"},
    )
    assert resp.status == 403 and CSRF_MESSAGE in resp.text()


def test_security_headers_and_cookie_flags(
    context: BrowserContext, page: Page, dash: DashCloud
) -> None:
    response = page.goto(f"{dash.url}/auth/login")
    assert response is not None
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    log_in_member(page, dash)
    # the pages work under that policy: no inline script or style is refused
    for path in ("/project/instances/launch", "/project/images/create", "/project/instances"):
        page.goto(f"{dash.url}{path}")
    page.wait_for_timeout(3000)  # a poll of the instances table has run by now
    assert not [m for m in console if "Content Security Policy" in m], console
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["ministack_dashboard"]
    assert session["httpOnly"] is True and session["sameSite"] == "Lax"
    # plain HTTP here; over TLS the cookie is also Secure (sessions.set_cookie)
    assert session["secure"] is False
    # no token anywhere the page's scripts could read
    token = dash.member().auth_token
    assert token not in page.content()
    assert page.evaluate("document.cookie") == ""


def test_an_api_error_is_shown_with_its_message(page: Page, dash: DashCloud) -> None:
    log_in_member(page, dash)
    page.goto(f"{dash.url}/project/instances/launch")
    page.fill("#name", "too-many")
    page.select_option("#image", dash.image_id)
    page.select_option("#flavor", dash.flavor_id)
    page.fill("#count", "50")
    with nothing_made(dash.cloud):
        page.click("#launch-submit")
        expect(page.locator(".flash.error")).to_contain_text("Quota exceeded for instances")
    assert "Traceback" not in page.content()
    response = page.goto(f"{dash.url}/project/instances/{uuid.uuid4()}")
    assert response is not None and response.status == 404
    expect(page.locator("#error-message")).to_contain_text("could not be found")


@pytest.fixture(scope="module")
def identity_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A cloud of its own: throttling blocks the test's address for a minute."""
    tmp: Path = tmp_path_factory.mktemp("dashboard-identity")
    with running_cloud(tmp, services=("identity", "dashboard")) as cloud:
        yield cloud


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_logins_are_throttled(identity_only: Cloud) -> None:
    with httpx.Client(base_url=identity_only.url("dashboard"), timeout=30) as client:
        statuses = []
        for _ in range(6):
            form = {
                "username": "admin",
                "password": "wrong",
                "domain": "Default",
                "csrf_token": _csrf(client.get("/auth/login").text),
            }
            statuses.append(client.post("/auth/login", data=form).status_code)
        assert statuses == [401] * 5 + [429]
        form["password"] = ADMIN_PASSWORD
        form["csrf_token"] = _csrf(client.get("/auth/login").text)
        refused = client.post("/auth/login", data=form)
        assert refused.status_code == 429 and "Too many failed logins" in refused.text


class Recording(httpx.AsyncHTTPTransport):
    """Passes requests on, remembering the tokens Keystone hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if "X-Subject-Token" in response.headers and request.method == "POST":
            self.tokens.append(response.headers["X-Subject-Token"])
        return response


def test_logout_revokes_the_tokens(identity_only: Cloud) -> None:
    recording = Recording()
    cloud = DashboardCloud(identity_only.auth_url, transport=recording)
    app, _ = build(load(env=identity_only.env), cloud)

    def valid(token: str) -> bool:
        resp = httpx.get(
            f"{identity_only.auth_url}/auth/tokens",
            headers={"X-Auth-Token": admin_token(identity_only.auth_url), "X-Subject-Token": token},
            timeout=30,
        )
        return resp.status_code == 200

    async def log_in_and_out() -> None:
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://dashboard"
            ) as client:
                form = {
                    "username": "admin",
                    "password": ADMIN_PASSWORD,
                    "domain": "Default",
                    "csrf_token": _csrf((await client.get("/auth/login")).text),
                }
                assert (await client.post("/auth/login", data=form)).status_code == 303
                assert len(recording.tokens) == 2 and all(valid(t) for t in recording.tokens)
                page = await client.get("/project/api_access")
                assert page.status_code == 200
                assert not any(t in page.text for t in recording.tokens)
                logout = await client.post("/auth/logout", data={"csrf_token": _csrf(page.text)})
                assert logout.status_code == 303
                assert not any(valid(t) for t in recording.tokens)
                assert (await client.get("/project/")).status_code == 303
        finally:
            await cloud.close()

    # a dashboard app of its own, on a loop of its own (the browser fixture holds this one)
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, log_in_and_out()).result()
