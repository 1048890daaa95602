"""Web consoles through the real clients (fake driver): `openstack console url show`,
`os-console-auth-tokens`, the pre-2.6 actions, refusals (bad type 400, a server not ACTIVE
409, a driver without the console 400, personas), and the console proxy's websocket: the
fake console relayed, a token opening one connection, a foreign Origin refused (PROMISES 23),
an expired token refused.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import openstack.connection
import pytest
import websockets

from tests.api.compute.conftest import FAKE_ENV, Compute, prepare
from tests.cloud import Cloud, password_body, running_cloud
from tests.nothing_made import nothing_made


def _boot(compute: Compute, name: str, conn: Any = None) -> Any:
    conn = conn or compute.conn
    server = conn.compute.create_server(
        name=name, image_id=compute.image_id, flavor_id=compute.flavor_id, networks="none"
    )
    return conn.compute.wait_for_server(server, wait=60)


@pytest.fixture(scope="module")
def vm(compute: Compute) -> Iterator[Any]:
    server = _boot(compute, f"con-{uuid.uuid4().hex[:6]}")
    try:
        yield server
    finally:
        compute.conn.compute.delete_server(server.id)


def token_of(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    if "path" in query:
        query = parse_qs(urlsplit(query["path"][0]).query)
    return query["token"][0]


def _origin(cloud: Cloud, kind: str) -> str:
    return f"http://127.0.0.1:{cloud.ports[f'console_{kind}']}"


def _socket(cloud: Cloud, kind: str, token: str) -> str:
    return f"ws://127.0.0.1:{cloud.ports[f'console_{kind}']}/?token={token}"


def _status(url: str, origin: str | None) -> int:
    """The websocket handshake's HTTP status (101 when accepted)."""

    async def attempt() -> int:
        try:
            async with websockets.connect(url, origin=origin, open_timeout=10):  # type: ignore[arg-type]
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(attempt())


def _greeting(url: str, origin: str, send: bytes = b"") -> bytes:
    """What the console says first through the proxy (and its echo of `send`)."""

    async def talk() -> bytes:
        async with websockets.connect(url, origin=origin) as ws:  # type: ignore[arg-type]
            got = await asyncio.wait_for(ws.recv(), 10)
            data = got if isinstance(got, bytes) else got.encode()
            if send:
                await ws.send(send)
                echo = await asyncio.wait_for(ws.recv(), 10)
                data += echo if isinstance(echo, bytes) else echo.encode()
            return data

    return asyncio.run(talk())


def test_cli_gives_novnc_and_serial_urls(compute: Compute, vm: Any) -> None:
    cloud = compute.cloud
    out = cloud.cli("console", "url", "show", "--novnc", vm.name, "-f", "json")
    novnc = json.loads(out.stdout)
    assert novnc["type"] == "novnc" and novnc["protocol"] == "vnc"
    base = f"{_origin(cloud, 'novnc')}/vnc_lite.html?path=%3Ftoken%3D"
    assert novnc["url"].startswith(base)
    out = cloud.cli("console", "url", "show", "--serial", vm.name, "-f", "json")
    serial = json.loads(out.stdout)
    assert serial["type"] == "serial" and serial["protocol"] == "serial"
    assert serial["url"].startswith(f"ws://127.0.0.1:{cloud.ports['console_serial']}/?token=")
    assert token_of(novnc["url"]) != token_of(serial["url"])
    # the admin reads where a token leads (the fake console listens on loopback)
    found = compute.conn.compute.validate_console_auth_token(token_of(serial["url"]))
    assert found.instance_uuid == vm.id and found.host == "127.0.0.1" and found.port > 0
    shown = compute.api("GET", f"/os-console-auth-tokens/{token_of(novnc['url'])}").json()
    assert set(shown["console"]) == {"instance_uuid", "host", "port", "internal_access_path"}
    # before 2.31 only rdp-html5 tokens could be shown (Nova)
    old = compute.api("GET", f"/os-console-auth-tokens/{token_of(novnc['url'])}", "2.30")
    assert old.status_code == 401
    assert compute.api("GET", "/os-console-auth-tokens/no-such-token").status_code == 404


def test_only_a_hash_of_the_token_is_stored(compute: Compute, vm: Any) -> None:
    resp = compute.api(
        "POST",
        f"/servers/{vm.id}/remote-consoles",
        json={"remote_console": {"protocol": "vnc", "type": "novnc"}},
    )
    token = token_of(resp.json()["remote_console"]["url"])
    files = Path(compute.cloud.state_dir).glob("ministack.db*")  # with the WAL
    assert all(token.encode() not in f.read_bytes() for f in files)


def test_actions_before_2_6_and_not_after(compute: Compute, vm: Any) -> None:
    path = f"/servers/{vm.id}/action"
    for action, kind in (("os-getVNCConsole", "novnc"), ("os-getSerialConsole", "serial")):
        resp = compute.api("POST", path, "2.1", json={action: {"type": kind}})
        assert resp.status_code == 200, resp.text
        assert resp.json()["console"]["type"] == kind and "token" in resp.json()["console"]["url"]
        assert compute.api("POST", path, "2.6", json={action: {"type": kind}}).status_code == 404
    body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
    path = f"/servers/{vm.id}/remote-consoles"
    for early in (body, {"remote_console": {"protocol": "vnc", "type": "bogus"}}):
        assert compute.api("POST", path, "2.5", json=early).status_code == 404
    resp = compute.api("POST", f"/servers/{vm.id}/remote-consoles", "2.6", json=body)
    assert resp.status_code == 200 and set(resp.json()["remote_console"]) == {
        "protocol",
        "type",
        "url",
    }


@pytest.mark.parametrize(
    ("body", "wording"),
    [
        ({"remote_console": {"protocol": "vnc", "type": "serial"}}, "Invalid console type"),
        ({"remote_console": {"protocol": "spice", "type": "spice-html5"}}, "Unavailable"),
        ({"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}, "Unavailable"),
        ({"remote_console": {"protocol": "vnc", "type": "bogus"}}, "remote_console/type"),
        ({"remote_console": {"protocol": "vnc"}}, "'type' is a required property"),
        ({"remote_console": {"protocol": "mks", "type": "webmks"}}, "is not one of"),
    ],
)
def test_bad_console_type_is_400(
    compute: Compute, vm: Any, body: dict[str, Any], wording: str
) -> None:
    with nothing_made(compute):
        resp = compute.api("POST", f"/servers/{vm.id}/remote-consoles", "2.6", json=body)
    assert resp.status_code == 400, resp.text
    assert wording in resp.json()["badRequest"]["message"]


def test_old_action_bad_type_is_400(compute: Compute, vm: Any) -> None:
    with nothing_made(compute):
        resp = compute.api(
            "POST", f"/servers/{vm.id}/action", "2.1", json={"os-getVNCConsole": {"type": "serial"}}
        )
        assert resp.status_code == 400
        resp = compute.api(
            "POST",
            f"/servers/{vm.id}/action",
            "2.1",
            json={"os-getSPICEConsole": {"type": "spice-html5"}},
        )
        assert resp.status_code == 400
        assert "Unavailable console type spice-html5" in resp.json()["badRequest"]["message"]


def test_console_of_a_stopped_server_is_409(compute: Compute) -> None:
    conn = compute.conn
    server = _boot(compute, f"con-stop-{uuid.uuid4().hex[:6]}")
    try:
        conn.compute.stop_server(server)
        conn.compute.wait_for_server(server, status="SHUTOFF", wait=60)
        with nothing_made(compute):
            got = compute.cloud.cli("console", "url", "show", "--novnc", server.id, check=False)
        assert got.returncode != 0 and "is not ready" in got.stderr
        body = {"remote_console": {"protocol": "serial", "type": "serial"}}
        resp = compute.api("POST", f"/servers/{server.id}/remote-consoles", json=body)
        assert resp.status_code == 409 and "is not ready" in resp.text
    finally:
        conn.compute.delete_server(server.id)


def test_a_driver_without_the_console_is_400_not_500(compute: Compute, vm: Any) -> None:
    host = compute.conn.compute.get_server(vm.id).compute_host
    try:
        with nothing_made(compute):  # its snapshots clear the fake's failures: set it inside
            compute.set_fake(host, fail={"get_console": "this host's driver has no vnc console"})
            resp = compute.api(
                "POST",
                f"/servers/{vm.id}/remote-consoles",
                json={"remote_console": {"protocol": "vnc", "type": "novnc"}},
            )
    finally:
        compute.set_fake(host)
    assert resp.status_code == 400, resp.text
    message = resp.json()["badRequest"]["message"]
    assert message == "Unavailable console type novnc: this host's driver has no vnc console."


def _token_for(compute: Compute, project: Any, role: str) -> str:
    conn = compute.conn
    name = f"con-{role}-{uuid.uuid4().hex[:6]}"
    user = conn.identity.create_user(name=name, password="console-pw-1", domain_id="default")
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role(role))
    resp = httpx.post(
        f"{compute.cloud.auth_url}/auth/tokens",
        json=password_body(name, "console-pw-1", project.name),
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def test_personas(compute: Compute) -> None:
    """member: makes consoles of its project's servers; reader: 403; another project's
    member: 404; only the admin reads token details (os-console-auth-tokens)."""
    conn = compute.conn
    p = conn.identity.create_project(name=f"cp-{uuid.uuid4().hex[:6]}", domain_id="default")
    q = conn.identity.create_project(name=f"cq-{uuid.uuid4().hex[:6]}", domain_id="default")
    tokens = {
        "member": _token_for(compute, p, "member"),
        "reader": _token_for(compute, p, "reader"),
        "other_member": _token_for(compute, q, "member"),
    }
    base = compute.cloud.url("compute") + "/v2.1"

    def call(token: str, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.38"}
        return httpx.request(method, base + path, headers=headers, json=body, timeout=30)

    created = call(
        tokens["member"],
        "POST",
        "/servers",
        {
            "server": {
                "name": "persona-con",
                "imageRef": compute.image_id,
                "flavorRef": compute.flavor_id,
                "networks": "none",
            }
        },
    )
    assert created.status_code == 202, created.text
    sid = created.json()["server"]["id"]
    try:
        compute.conn.compute.wait_for_server(compute.conn.compute.get_server(sid), wait=60)
        body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
        path = f"/servers/{sid}/remote-consoles"
        made = call(tokens["member"], "POST", path, body)
        assert made.status_code == 200, made.text
        assert call(tokens["reader"], "POST", path, body).status_code == 403
        assert call(tokens["other_member"], "POST", path, body).status_code == 404
        token = token_of(made.json()["remote_console"]["url"])
        for persona in tokens:
            got = call(tokens[persona], "GET", f"/os-console-auth-tokens/{token}")
            assert got.status_code == 403, persona
        assert compute.api("GET", f"/os-console-auth-tokens/{token}").status_code == 200
    finally:
        compute.conn.compute.delete_server(sid)


def test_proxy_relays_the_fake_console_once_per_token(compute: Compute, vm: Any) -> None:
    cloud = compute.cloud
    url = json.loads(cloud.cli("console", "url", "show", "--serial", vm.name, "-f", "json").stdout)[
        "url"
    ]
    assert _greeting(url, _origin(cloud, "serial"), b"hello") == f"{vm.name} login:hello".encode()
    assert _status(url, _origin(cloud, "serial")) == 403  # a token opens one connection
    novnc = compute.api(
        "POST",
        f"/servers/{vm.id}/remote-consoles",
        json={"remote_console": {"protocol": "vnc", "type": "novnc"}},
    ).json()["remote_console"]["url"]
    socket = _socket(cloud, "novnc", token_of(novnc))
    # the serial proxy does not take a noVNC token
    assert _status(_socket(cloud, "serial", token_of(novnc)), _origin(cloud, "serial")) == 403
    assert _greeting(socket, _origin(cloud, "novnc")).startswith(b"RFB 003.008")


def test_foreign_origin_is_refused(compute: Compute, vm: Any) -> None:
    """PROMISES 23: a page of another origin cannot open a console, even with a valid token;
    the token survives the refusal; no Origin at all (a non-browser client) is let through."""
    cloud = compute.cloud
    made = compute.api(
        "POST",
        f"/servers/{vm.id}/remote-consoles",
        json={"remote_console": {"protocol": "serial", "type": "serial"}},
    )
    url = made.json()["remote_console"]["url"]
    for foreign in (
        "http://evil.example",
        "https://127.0.0.1:" + str(cloud.ports["console_serial"]),
        f"http://127.0.0.1:{cloud.ports['identity']}",
        "null",
    ):
        assert _status(url, foreign) == 403, foreign
    assert _status(url, None) == 101
    assert _status(_socket(cloud, "serial", "unknown-token"), None) == 403


def test_pages_are_served_with_safe_headers(compute: Compute) -> None:
    cloud = compute.cloud
    page = httpx.get(f"{_origin(cloud, 'novnc')}/vnc_lite.html", timeout=30)
    assert page.status_code == 200 and "core/rfb.js" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors" in page.headers["content-security-policy"]
    serial = httpx.get(f"{_origin(cloud, 'serial')}/serial.html?token=x", timeout=30)
    assert serial.status_code == 200 and "serial.js" in serial.text
    assert "script-src 'self'" in serial.headers["content-security-policy"]


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    """A cloud whose console tokens live 2 seconds."""
    env = {**FAKE_ENV, "MINISTACK_COMPUTE_FAKE_HOSTS": "1", "MINISTACK_CONSOLE_TOKEN_TTL": "2"}
    services = ("identity", "image", "placement", "compute")
    with running_cloud(tmp_path_factory.mktemp("ttl"), services=services, extra_env=env) as c:
        yield prepare(c)


def test_expired_token_is_refused(short_lived: Compute) -> None:
    compute = short_lived
    conn: openstack.connection.Connection = compute.conn
    server = _boot(compute, "ttl-vm")
    try:
        url = json.loads(
            compute.cloud.cli("console", "url", "show", "--serial", "ttl-vm", "-f", "json").stdout
        )["url"]
        token = token_of(url)
        # (no check that it is valid first: on a loaded machine 2 s may pass before it; the
        # fake-clock tests in tests/compute/test_consoleauth.py hold the ttl exactly)
        deadline = time.monotonic() + 30
        while compute.api("GET", f"/os-console-auth-tokens/{token}").status_code == 200:
            assert time.monotonic() < deadline, "the token never expired"
            time.sleep(0.5)
        assert compute.api("GET", f"/os-console-auth-tokens/{token}").status_code == 404
        assert _status(url, _origin(compute.cloud, "serial")) == 403
    finally:
        conn.compute.delete_server(server.id)


def test_deleting_the_server_drops_its_tokens(compute: Compute) -> None:
    conn = compute.conn
    server = _boot(compute, f"con-del-{uuid.uuid4().hex[:6]}")
    made = compute.api(
        "POST",
        f"/servers/{server.id}/remote-consoles",
        json={"remote_console": {"protocol": "serial", "type": "serial"}},
    )
    url = made.json()["remote_console"]["url"]
    conn.compute.delete_server(server.id)
    conn.compute.wait_for_delete(server, wait=60)
    assert compute.api("GET", f"/os-console-auth-tokens/{token_of(url)}").status_code == 404
    assert _status(url, _origin(compute.cloud, "serial")) == 403


def test_proxy_asks_the_host_again_before_connecting(compute: Compute, vm: Any) -> None:
    """As Nova's validate_console_port: a console the host no longer reports where the token
    points (a guest restarted may have left its port to another guest) is refused."""
    cloud = compute.cloud
    host = compute.conn.compute.get_server(vm.id).compute_host
    made = compute.api(
        "POST",
        f"/servers/{vm.id}/remote-consoles",
        json={"remote_console": {"protocol": "serial", "type": "serial"}},
    )
    url = made.json()["remote_console"]["url"]
    compute.set_fake(host, fail={"get_console": "the console moved"})
    try:
        assert _status(url, _origin(cloud, "serial")) == 403
    finally:
        compute.set_fake(host)
