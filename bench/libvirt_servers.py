"""Real VMs through the Compute API: POST /servers → ready banner on the console, against the
same image started with plain qemu-system-x86_64 in the same run (bench/libvirt_boot.py's
`qemu_boot`: same overlay, memory and config drive, TCG).

Also: 10 servers in one request (until all ACTIVE and all ten banners seen), and the resident
memory of the all-in-one control-plane process (identity, image, compute) with 10 VMs
running; QEMU processes are libvirtd's children and not counted. Needs root and libvirtd.

    .venv/bin/python bench/libvirt_servers.py [--runs 3] [--count 10]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from libvirt_boot import qemu_boot  # noqa: E402
from tests.cloud import Cloud, admin_token, running_cloud  # noqa: E402

from ministack.compute.guestimage import BANNER_PREFIX, DEFAULT_CACHE_DIR, build_test_image  # noqa: E402

TIMEOUT = 600.0


class Api:
    def __init__(self, cloud: Cloud) -> None:
        token = admin_token(cloud.auth_url)
        self.http = httpx.Client(
            base_url=cloud.url("compute") + "/v2.1",
            headers={"X-Auth-Token": token},
            timeout=60,
        )
        self.image = httpx.get(
            cloud.url("image") + "/v2/images",
            params={"name": "ministack-test"},
            headers={"X-Auth-Token": token},
        ).json()["images"][0]["id"]

    def create(self, name: str, count: int = 1) -> str:
        body = {
            "server": {
                "name": name,
                "imageRef": self.image,
                "flavorRef": "84",  # m1.micro, 192 MB like bench/libvirt_boot.py
                "networks": "none",
                "min_count": count,
                "max_count": count,
            }
        }
        resp = self.http.post(
            "/servers", json=body, headers={"OpenStack-API-Version": "compute 2.37"}
        )
        resp.raise_for_status()
        return str(resp.json()["server"]["id"])

    def servers(self, name: str) -> list[dict[str, Any]]:
        found = self.http.get("/servers/detail", params={"name": name}).json()["servers"]
        return list(found)

    def console(self, uuid: str) -> str:
        resp = self.http.post(f"/servers/{uuid}/action", json={"os-getConsoleOutput": {}})
        return str(resp.json().get("output", "")) if resp.status_code == 200 else ""

    def delete_all(self, name: str) -> None:
        for server in self.servers(name):
            self.http.delete(f"/servers/{server['id']}")
        deadline = time.monotonic() + TIMEOUT
        while self.servers(name) and time.monotonic() < deadline:
            time.sleep(0.5)


def api_boot(api: Api) -> float:
    started = time.monotonic()
    uuid = api.create("vm1")
    while time.monotonic() - started < TIMEOUT:
        if f"{BANNER_PREFIX} hostname=vm1 " in api.console(uuid):
            elapsed = time.monotonic() - started
            api.delete_all("vm1")
            return elapsed
        failed = [s for s in api.servers("vm1") if s["status"] == "ERROR"]
        if failed:  # e.g. libvirtd not running: say so at once, not after the timeout
            api.delete_all("vm1")
            raise RuntimeError(f"vm1 went to ERROR: {failed[0].get('fault')}")
        time.sleep(0.1)
    raise RuntimeError("no banner within the timeout")


def many(api: Api, count: int) -> tuple[float, float]:
    """Seconds until all ACTIVE, and until all banners seen."""
    started = time.monotonic()
    api.create("many", count)
    active_at = 0.0
    seen: set[str] = set()
    while time.monotonic() - started < TIMEOUT:
        servers = api.servers("many")
        if not active_at and all(s["status"] == "ACTIVE" for s in servers):
            active_at = time.monotonic() - started
        assert not any(s["status"] == "ERROR" for s in servers), servers
        for server in servers:
            if server["id"] not in seen and BANNER_PREFIX in api.console(server["id"]):
                seen.add(server["id"])
        if active_at and len(seen) == count:
            return active_at, time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"only {len(seen)} of {count} banners within the timeout")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(api: Api, cloud: Cloud, image: Path, tmp: Path, runs: int, count: int) -> None:
    """Print boot times (API and plain qemu), the burst of `count`, and control-plane RSS."""
    assert cloud.proc is not None
    print(f"control plane idle: {rss_mb(cloud.proc.pid):.0f} MB RSS")
    print(f"first boot (image fetched into the host cache): {api_boot(api):.2f} s")
    through_api, plain = [], []
    for _ in range(runs):
        through_api.append(api_boot(api))
        plain.append(asyncio.run(qemu_boot(image, tmp)))
    a, q = statistics.median(through_api), statistics.median(plain)
    print(f"POST /servers -> banner: median {a:.2f} s  runs {[round(x, 2) for x in through_api]}")
    print(f"plain qemu     -> banner: median {q:.2f} s  runs {[round(x, 2) for x in plain]}")
    print(f"ratio {a / q:.2f}, control-plane overhead {a - q:+.2f} s (target < 0.5 s)")
    active, banners = many(api, count)
    print(f"{count} servers in one request: all ACTIVE {active:.1f} s, all banners {banners:.1f} s")
    print(f"control plane with {count} VMs running: {rss_mb(cloud.proc.pid):.0f} MB RSS")


def main(runs: int, count: int) -> None:
    image = build_test_image(DEFAULT_CACHE_DIR)
    tmp = Path(tempfile.mkdtemp(prefix="ministack-bench-api-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {"MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt", "MINISTACK_LIBVIRT_VIRT_TYPE": "qemu"}
    try:
        with running_cloud(tmp, services=("identity", "image", "compute"), extra_env=env) as cloud:
            cloud.ministack("seed")
            api = Api(cloud)
            try:
                measure(api, cloud, image, tmp, runs, count)
            finally:
                # Servers are deleted even when a step fails: stopping the cloud would leave
                # their domains running on the host.
                api.delete_all("vm1")
                api.delete_all("many")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    main(args.runs, args.count)
