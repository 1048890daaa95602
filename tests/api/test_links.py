"""Response links name the configured public endpoint, whatever Host or X-Forwarded-* a
client sends; forwarded headers are believed only from [default] trusted_proxies."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cloud import Cloud, admin_token, running_cloud

HOSTILE = {
    "Host": "evil.example:666",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.9",
    "Forwarded": "for=203.0.113.9;proto=https;host=evil.example",
}
SERVICES = ("identity", "image", "placement", "compute")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("links"), services=SERVICES) as c:
        yield c


def _hrefs(value: Any) -> list[str]:
    """Every URL-looking string in a JSON document."""
    if isinstance(value, dict):
        return [h for v in value.values() for h in _hrefs(v)]
    if isinstance(value, list):
        return [h for v in value for h in _hrefs(v)]
    if not isinstance(value, str) or not re.match(r"^[a-z]+://", value):
        return []
    return [] if "://docs.openstack.org/" in value else [value]  # Nova's describedby


def test_links_ignore_a_hostile_host_header(cloud: Cloud) -> None:
    token = admin_token(cloud.auth_url)
    auth = {**HOSTILE, "X-Auth-Token": token}
    compute = {**auth, "X-OpenStack-Nova-API-Version": "2.37"}
    flavors = []
    for n in range(3):
        resp = httpx.post(
            f"{cloud.url('compute')}/v2.1/flavors",
            json={"flavor": {"name": f"l{n}", "ram": 64, "vcpus": 1, "disk": 1}},
            headers=auth,
        )
        assert resp.status_code == 200, resp.text
        flavors.append(resp.json()["flavor"])
    checks = [
        ("identity", "/", HOSTILE),
        ("identity", "/v3", HOSTILE),
        ("identity", "/v3/users", auth),
        ("identity", "/v3/auth/catalog", auth),
        ("compute", "/", HOSTILE),
        ("compute", "/v2.1/", HOSTILE),
        ("compute", "/v2.1/flavors?limit=1", compute),
        ("compute", f"/v2.1/flavors/{flavors[0]['id']}", compute),
        ("image", "/versions", HOSTILE),
        ("placement", "/", HOSTILE),
    ]
    seen = 0
    for service, path, headers in checks:
        resp = httpx.get(f"{cloud.url(service)}{path}", headers=headers)
        assert resp.status_code in (200, 300), f"{service} {path}: {resp.text}"
        assert "evil" not in resp.text, f"{service} {path}"
        # the catalog names every service; any other document only its own
        own = [cloud.url(s) for s in SERVICES] if path.endswith("catalog") else [cloud.url(service)]
        for href in _hrefs(resp.json()):
            assert href.startswith(tuple(own)), f"{service} {path}: {href}"
            seen += 1
    assert seen >= 10
    # a server's self/bookmark links and the `next` link of a page
    image = httpx.post(
        f"{cloud.url('image')}/v2/images",
        json={"name": "l", "disk_format": "raw", "container_format": "bare"},
        headers=auth,
    )
    assert image.status_code == 201
    assert image.headers["Location"].startswith(cloud.url("image"))
    put = httpx.put(
        f"{cloud.url('image')}/v2/images/{image.json()['id']}/file",
        content=b"\0" * 1024,
        headers={**auth, "Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 204, put.text
    body = {"server": {"name": "l", "imageRef": image.json()["id"], "flavorRef": flavors[0]["id"]}}
    body["server"]["networks"] = "none"
    created = httpx.post(f"{cloud.url('compute')}/v2.1/servers", json=body, headers=compute)
    assert created.status_code == 202, created.text
    assert _hrefs(created.json()) and all(
        h.startswith(cloud.url("compute")) for h in _hrefs(created.json())
    )
    created = httpx.post(f"{cloud.url('compute')}/v2.1/servers", json=body, headers=compute)
    assert created.status_code == 202, created.text
    page = httpx.get(f"{cloud.url('compute')}/v2.1/servers?limit=1", headers=compute).json()
    hrefs = _hrefs(page)
    assert any("marker=" in h for h in hrefs), page
    assert hrefs and all(h.startswith(cloud.url("compute")) for h in hrefs), hrefs


def _access_client(log: Path, marker: str) -> str:
    """The client address the identity access log recorded for the request to `marker`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if marker in line and "ministack.identity.access" in line:
                return line.split("] ", 1)[1].split()[0]
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {marker}")


@pytest.mark.parametrize("trusted", ["", "127.0.0.0/8"])
def test_forwarded_headers_believed_only_from_trusted_proxies(tmp_path: Path, trusted: str) -> None:
    env = {"MINISTACK_DEFAULT_TRUSTED_PROXIES": trusted}
    with running_cloud(tmp_path, extra_env=env) as cloud:
        marker = f"/v3/marker-{trusted.replace('/', '_') or 'none'}"
        resp = httpx.get(f"{cloud.url('identity')}{marker}", headers=HOSTILE)
        assert resp.status_code == 404
        client = _access_client(tmp_path / "logs" / "identity.log", marker)
        version = httpx.get(f"{cloud.url('identity')}/v3", headers=HOSTILE).json()
    assert client == ("203.0.113.9" if trusted else "127.0.0.1")
    # even from a trusted proxy, links still name the configured endpoint
    assert version["version"]["links"][0]["href"] == f"{cloud.url('identity')}/v3/"
