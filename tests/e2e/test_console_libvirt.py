"""Web consoles of a real VM: the libvirt driver boots the ministack-test image, the
`openstack` CLI hands out console URLs, and the console proxy relays them.

Covers: `console url show --novnc` opened in a real browser (Playwright driving Debian's
chromium) shows the guest's screen (a screenshot that is not blank); the VNC screen listens on
127.0.0.1 only; the serial console's websocket carries the guest's console both ways (its
"press Enter" banner, then a shell); the serial page in the browser; a token opens one
connection; a foreign Origin, an unknown token and an expired token are refused (PROMISES 23).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openstack.connection
import pytest
import websockets
from playwright.sync_api import expect, sync_playwright

from tests.cloud import Cloud, running_cloud
from tests.e2e.test_servers_libvirt import REPO, URI, boot, virsh, wait_banner, wait_status

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
READ_TIMEOUT = 120.0
ARTIFACTS = Path(os.environ.get("MINISTACK_TEST_ARTIFACTS", tempfile.gettempdir())) / (
    "ministack-artifacts"
)


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    """identity, image and compute with the libvirt driver (as tests/e2e/test_servers_libvirt)."""
    if subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode != 0:
        done = subprocess.run(
            ["bash", str(REPO / "scripts/test.d/libvirt.sh")], capture_output=True, text=True
        )
        assert done.returncode == 0, f"could not start libvirtd: {done.stderr}"
    tmp = Path(tempfile.mkdtemp(prefix="ministack-e2e-console-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt",
        "MINISTACK_LIBVIRT_INSTANCES_PATH": str(tmp / "instances"),
        "MINISTACK_LIBVIRT_IMAGE_CACHE_PATH": str(tmp / "imagecache"),
        "MINISTACK_LIBVIRT_SHUTDOWN_TIMEOUT": "10",
    }
    try:
        with running_cloud(tmp, services=("identity", "image", "compute"), extra_env=env) as c:
            c.ministack("seed")
            c.cli("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "e2e.small")
            yield c
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def conn(cloud: Cloud) -> openstack.connection.Connection:
    return cloud.connect()


@pytest.fixture(scope="module")
def server(conn: Any) -> Iterator[Any]:
    """One running guest for the module; deleted (and checked gone) at the end."""
    made = boot(conn, "console-vm")
    try:
        yield wait_status(conn, made, "ACTIVE")
    finally:
        conn.compute.delete_server(made.id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if conn.compute.find_server(made.id) is None:
                break
            time.sleep(0.5)
        assert f"instance-{made.id}" not in virsh("list", "--all", "--name")


def console_url(cloud: Cloud, kind: str, name: str = "console-vm") -> str:
    out = cloud.cli("console", "url", "show", f"--{kind}", name, "-f", "json")
    url: str = json.loads(out.stdout)["url"]
    return url


def token_of(url: str) -> str:
    """The token in a noVNC URL (inside its `path`) or a serial URL (its `token`)."""
    query = parse_qs(urlsplit(url).query)
    if "path" in query:
        query = parse_qs(urlsplit(query["path"][0]).query)
    return query["token"][0]


def origin(cloud: Cloud, kind: str) -> str:
    return f"http://127.0.0.1:{cloud.ports[f'console_{kind}']}"


def ws_status(url: str, origin_header: str) -> int:
    """The HTTP status of a websocket handshake to `url` (101 when it was accepted)."""

    async def attempt() -> int:
        try:
            async with websockets.connect(url, origin=origin_header, open_timeout=10):  # type: ignore[arg-type]
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(attempt())


def novnc_socket(cloud: Cloud, token: str) -> str:
    return f"ws://127.0.0.1:{cloud.ports['console_novnc']}/?token={token}"


def test_novnc_in_a_browser_shows_the_screen(cloud: Cloud, conn: Any, server: Any) -> None:
    url = console_url(cloud, "novnc")
    base = f"http://127.0.0.1:{cloud.ports['console_novnc']}/vnc_lite.html?path=%3Ftoken%3D"
    assert url.startswith(base)
    token = token_of(url)
    where = conn.compute.validate_console_auth_token(token)
    assert where.instance_uuid == server.id and where.host == "127.0.0.1" and where.port >= 5900
    # the domain's VNC listens on loopback only
    graphics = virsh("dumpxml", f"instance-{server.id}")
    assert "<graphics type='vnc'" in graphics and "listen='127.0.0.1'" in graphics

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_function(
                "document.getElementById('status').textContent.startsWith('Connected')",
                timeout=60_000,
            )
            # the guest's text console: wait until the canvas holds more than one colour
            lit = """() => {
                const c = document.querySelector('#screen canvas');
                if (!c || c.width < 100) return 0;
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 0; i < d.length; i += 4) {
                    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) n++;
                }
                return n;
            }"""
            page.wait_for_function(f"({lit})() > 500", timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "console-novnc.png"))
            assert page.evaluate(lit) > 500
        finally:
            browser.close()
    # the browser used the token: it opens nothing more
    assert ws_status(novnc_socket(cloud, token), origin(cloud, "novnc")) == 403


def test_foreign_origin_unknown_and_used_tokens_are_refused(cloud: Cloud, server: Any) -> None:
    token = token_of(console_url(cloud, "novnc"))
    socket = novnc_socket(cloud, token)
    assert ws_status(socket, "http://evil.example") == 403
    assert ws_status(socket, f"http://127.0.0.1:{cloud.ports['identity']}") == 403
    assert ws_status(novnc_socket(cloud, "not-a-token"), origin(cloud, "novnc")) == 403
    # a serial token does not open the VNC screen, nor a VNC token the serial port
    serial_token = token_of(console_url(cloud, "serial"))
    assert ws_status(novnc_socket(cloud, serial_token), origin(cloud, "novnc")) == 403

    async def rfb_greeting() -> bytes:
        async with websockets.connect(socket, origin=origin(cloud, "novnc")) as ws:  # type: ignore[arg-type]
            data = await asyncio.wait_for(ws.recv(), 30)
            return data if isinstance(data, bytes) else data.encode()

    # refused origins did not use the token up: QEMU's VNC server answers through the proxy
    assert asyncio.run(rfb_greeting()).startswith(b"RFB 003.")
    assert ws_status(socket, origin(cloud, "novnc")) == 403  # used once: gone


async def _read_until(ws: Any, wanted: str, seen: list[str], poke: bytes = b"") -> None:
    deadline = time.monotonic() + READ_TIMEOUT
    while wanted not in "".join(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {wanted!r} on the serial console:\n{''.join(seen)[-2000:]}")
        try:
            data = await asyncio.wait_for(ws.recv(), 3)
        except TimeoutError:
            if poke:
                await ws.send(poke)
            continue
        seen.append(data.decode(errors="replace") if isinstance(data, bytes) else data)


def test_serial_console_carries_the_guest_console(cloud: Cloud, server: Any) -> None:
    url = console_url(cloud, "serial")
    assert url.startswith(f"ws://127.0.0.1:{cloud.ports['console_serial']}/?token=")
    seen: list[str] = []

    async def session() -> None:
        async with websockets.connect(url, origin=origin(cloud, "serial")) as ws:  # type: ignore[arg-type]
            # Enter activates busybox's askfirst shell on ttyS0; its prompt names the guest
            await _read_until(ws, "root@console-vm:/# ", seen, poke=b"\r")
            await ws.send(b"echo console-$((40+2))\r")
            await _read_until(ws, "console-42", seen)
            # leaving the shell: init shows the console's banner again
            await ws.send(b"exit\r")
            await _read_until(ws, "Please press Enter to activate this console", seen)

    asyncio.run(session())
    # the serial log (os-getConsoleOutput) still records the console meanwhile
    log = (cloud.state_dir / "instances" / server.id / "console.log").read_text(errors="replace")
    assert "console-42" in log


def test_serial_page_in_a_browser(cloud: Cloud, conn: Any, server: Any) -> None:
    wait_banner(conn, server)  # booted: what is typed reaches a shell
    token = token_of(console_url(cloud, "serial"))
    page_url = f"{origin(cloud, 'serial')}/serial.html?token={token}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_url)
            # locators, not page-side eval: the page's CSP forbids eval (and stays enforced)
            expect(page.locator("#status")).to_have_text("Connected", timeout=30_000)
            screen = page.locator("#screen")
            screen.click()
            for _ in range(20):  # Enter activates the console's shell
                page.keyboard.press("Enter")
                try:
                    expect(screen).to_contain_text("root@console-vm:/#", timeout=3_000)
                    break
                except AssertionError:
                    continue
            page.keyboard.type("echo page-$((6*7))")
            page.keyboard.press("Enter")
            expect(screen).to_contain_text("page-42", timeout=60_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "console-serial.png"))
        finally:
            browser.close()
