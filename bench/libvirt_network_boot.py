"""Real VMs on a real network: POST /servers with a NIC on `private` → the guest's ready banner
showing its DHCP lease (`ip=<its fixed IP>`), against the same boot with no NIC (`ip=none`) in
the same run, alternated. The difference is what the network costs a boot: port creation and
binding, the tap handed to the agent and plugged, network-vif-plugged, and the guest's DHCP
exchange with dnsmasq.

The network agent's data plane runs in a namespace made for the run (as in
tests/e2e/network/test_vms_on_networks.py), so nothing outside it is touched. Needs root and
libvirtd.

    .venv/bin/python bench/libvirt_network_boot.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tests.cloud import Cloud, admin_token, make_cloud  # noqa: E402
from tests.e2e.network.dataplane import dnsmasq_pids  # noqa: E402
from tests.e2e.test_servers_libvirt import remove_domains_under  # noqa: E402

from ministack.compute.guestimage import BANNER_PREFIX  # noqa: E402
from ministack.network.agent.linux import netns  # noqa: E402

TIMEOUT = 600.0
BANNER = re.compile(re.escape(BANNER_PREFIX) + r" hostname=(\S+) ip=(\S+) ===")


class Api:
    def __init__(self, cloud: Cloud) -> None:
        token = admin_token(cloud.auth_url)
        headers = {"X-Auth-Token": token}
        self.http = httpx.Client(
            base_url=cloud.url("compute") + "/v2.1", headers=headers, timeout=60
        )
        self.image = httpx.get(
            cloud.url("image") + "/v2/images", params={"name": "ministack-test"}, headers=headers
        ).json()["images"][0]["id"]
        nets = httpx.get(
            cloud.url("network") + "/v2.0/networks", params={"name": "private"}, headers=headers
        ).json()["networks"]
        self.private = nets[0]["id"]

    def boot(self, name: str, networks: Any) -> tuple[float, str]:
        """Seconds from POST to the banner, and the address the banner shows."""
        body = {
            "server": {
                "name": name,
                "imageRef": self.image,
                "flavorRef": "84",  # m1.micro, as bench/libvirt_servers.py
                "networks": networks,
            }
        }
        started = time.monotonic()
        resp = self.http.post(
            "/servers", json=body, headers={"OpenStack-API-Version": "compute 2.37"}
        )
        resp.raise_for_status()
        uuid = resp.json()["server"]["id"]
        try:
            while time.monotonic() - started < TIMEOUT:
                out = self.http.post(f"/servers/{uuid}/action", json={"os-getConsoleOutput": {}})
                if out.status_code == 200 and (found := BANNER.search(out.json()["output"])):
                    return time.monotonic() - started, found.group(2)
                server = self.http.get(f"/servers/{uuid}").json()["server"]
                if server["status"] == "ERROR":  # e.g. libvirtd not running: say so at once
                    raise RuntimeError(f"{name} went to ERROR: {server.get('fault')}")
                time.sleep(0.1)
            raise RuntimeError(f"no banner on {name} within {TIMEOUT} s")
        finally:
            self.delete(uuid)

    def delete(self, uuid: str) -> None:
        self.http.delete(f"/servers/{uuid}")
        deadline = time.monotonic() + TIMEOUT
        while self.http.get(f"/servers/{uuid}").status_code != 404:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {uuid} was not deleted")
            time.sleep(0.5)


def measure(api: Api, runs: int) -> None:
    api.boot("warm", "none")  # the image fetched into the host's cache first
    with_nic, without = [], []
    for _ in range(runs):  # alternated: the machine's load hits both alike
        took, ip = api.boot("nic", [{"uuid": api.private}])
        assert ip != "none", "the guest got no DHCP lease"
        with_nic.append(took)
        took, ip = api.boot("nonic", "none")
        assert ip == "none"
        without.append(took)
    a, b = statistics.median(with_nic), statistics.median(without)
    runs_a, runs_b = [round(x, 2) for x in with_nic], [round(x, 2) for x in without]
    print(f"POST -> banner with its DHCP lease: median {a:.2f} s  runs {runs_a}")
    print(f"POST -> banner, no NIC (baseline):  median {b:.2f} s  runs {runs_b}")
    print(f"network overhead {a - b:+.2f} s (ratio {a / b:.2f})")
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")


def main(runs: int) -> None:
    prefix = "nb" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    netns.ensure(host_ns)
    tmp = Path(tempfile.mkdtemp(prefix="ministack-bench-netboot-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt",
        "MINISTACK_LIBVIRT_VIRT_TYPE": "qemu",
        "MINISTACK_LIBVIRT_INSTANCES_PATH": str(tmp / "instances"),
        "MINISTACK_LIBVIRT_IMAGE_CACHE_PATH": str(tmp / "imagecache"),
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",
    }
    services = ("identity", "image", "placement", "compute", "network")
    cloud = make_cloud(tmp / "cloud", services=services, extra_env=env)
    try:
        cloud.start(timeout=180)
        cloud.ministack("seed")
        print(f"load average before the run: {os.getloadavg()[0]:.1f}")
        measure(Api(cloud), runs)
    finally:
        cloud.stop()
        remove_domains_under(tmp)
        for pid in dnsmasq_pids(tmp):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args().runs)
