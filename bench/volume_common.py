"""What the volume benchmarks share: a running identity + image + volume cloud and an admin
HTTP client for the Block Storage API."""

from __future__ import annotations

import time
from typing import Any

import httpx
from tests.cloud import Cloud, admin_token


def client(cloud: Cloud) -> httpx.Client:
    """An admin client at /v3/<admin project> of the volume API (microversion 3.71)."""
    token = admin_token(cloud.auth_url)
    info = httpx.get(
        f"{cloud.auth_url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    ).json()
    project = info["token"]["project"]["id"]
    http = httpx.Client(
        base_url=f"{cloud.url('volume')}/v3/{project}",
        headers={"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.71"},
        timeout=600,
    )
    http.put(
        f"/os-quota-sets/{project}",
        json={"quota_set": {"volumes": -1, "gigabytes": -1, "snapshots": -1}},
    ).raise_for_status()
    return http


def wait(http: httpx.Client, kind: str, ident: str, status: str = "available") -> dict[str, Any]:
    while True:
        item: dict[str, Any] = http.get(f"/{kind}/{ident}").json()[kind[:-1]]
        if item["status"] == status:
            return item
        if item["status"].startswith("error"):
            raise RuntimeError(f"{kind} {ident}: {item}")
        time.sleep(0.1)


def delete_all(http: httpx.Client) -> None:
    for snap in http.get("/snapshots").json()["snapshots"]:
        http.delete(f"/snapshots/{snap['id']}")
    for snap in http.get("/snapshots").json()["snapshots"]:
        while http.get(f"/snapshots/{snap['id']}").status_code != 404:
            time.sleep(0.05)
    volumes = http.get("/volumes").json()["volumes"]
    for vol in volumes:
        http.delete(f"/volumes/{vol['id']}")
    for vol in volumes:
        while http.get(f"/volumes/{vol['id']}").status_code != 404:
            time.sleep(0.05)
