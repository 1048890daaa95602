"""`ministack doctor --canary` against a running cloud whose host is a namespace: on a healthy
cloud every step passes; with traffic to 169.254.169.254 dropped on the host's bridges, the
command's metadata step fails and its next line says what to fix; with the external network
cut off on them, the floating IP step fails and names the router; after each run the host
(namespaces, links, nftables ruleset) and the API (networks, routers, ports, floating IPs,
groups) are as they were before."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ministack import config
from ministack.canary import run_canary
from ministack.doctor import Check
from ministack.network.agent.linux import netns
from tests.cloud import running_cloud
from tests.e2e.network.dataplane import dnsmasq_pids

pytestmark = pytest.mark.e2e

DROP = """table bridge canarytest {
  chain forward { type filter hook forward priority -300; ip daddr %s drop; }
}"""


def _links(ns: str) -> list[str]:
    with netns.iproute(ns) as ipr:
        return sorted(str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links())


def _host_state(host_ns: str, prefix: str) -> dict[str, object]:
    return {
        "namespaces": netns.names(prefix) + netns.names("canary-"),
        "links": _links(host_ns),
        "nft": subprocess.run(
            ["nft", "list", "ruleset"],
            preexec_fn=netns.preexec(host_ns),
            capture_output=True,
            check=True,
        ).stdout.decode(),
    }


def _settle(probe: Callable[[], object], want: object, timeout: float = 30.0) -> object:
    """`probe()` once it equals `want`, or its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (got := probe()) != want and time.monotonic() < deadline:
        time.sleep(0.3)
    return got


def _api_state(conn: object) -> dict[str, list[str]]:
    net = conn.network  # type: ignore[attr-defined]
    return {
        "networks": sorted(n.id for n in net.networks()),
        "routers": sorted(r.id for r in net.routers()),
        "ports": sorted(p.id for p in net.ports()),
        "floating_ips": sorted(f.id for f in net.ips()),
        "groups": sorted(g.id for g in net.security_groups()),
    }


def _nft(host_ns: str, *args: str, stdin: str = "") -> None:
    subprocess.run(
        ["nft", *args], input=stdin.encode(), preexec_fn=netns.preexec(host_ns), check=True
    )


def _by_step(checks: list[Check]) -> dict[str, Check]:
    return {c.name.removeprefix("canary: "): c for c in checks}


def test_the_canary_passes_on_a_healthy_cloud_and_names_a_broken_step(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("the canary plugs namespaces: run as root")
    prefix = "n11c" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    netns.ensure(host_ns)
    env = {
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",
    }
    try:
        with running_cloud(
            tmp_path / "cloud", services=("identity", "network"), extra_env=env
        ) as cloud:
            conn = cloud.connect()
            public = conn.network.create_network(
                name="public",
                is_router_external=True,
                provider_network_type="flat",
                provider_physical_network="public",
            )
            conn.network.create_subnet(
                network_id=public.id,
                cidr="172.24.4.0/24",
                ip_version=4,
                gateway_ip="172.24.4.1",
                is_dhcp_enabled=False,
            )
            _settle(lambda: "brq" + public.id[:11] in _links(host_ns), True)
            host_before = _host_state(host_ns, prefix)
            api_before = _api_state(conn)
            settings = config.load(env=cloud.env)

            healthy = _by_step(run_canary(settings))
            assert all(c.ok for c in healthy.values()), healthy
            assert list(healthy) == [
                "external network",
                "DHCP lease",
                "gateway",
                "metadata",
                "floating IP",
            ]
            assert _api_state(conn) == api_before
            assert _settle(lambda: _host_state(host_ns, prefix), host_before) == host_before

            _nft(host_ns, "-f", "-", stdin=DROP % "169.254.169.254")  # the metadata path broken
            try:  # through the command an operator runs
                doctor = subprocess.run(
                    [sys.executable, "-m", "ministack", "doctor", "--canary"],
                    env=cloud.env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
            finally:
                _nft(host_ns, "delete", "table", "bridge", "canarytest")
            assert doctor.returncode == 1, doctor.stdout + doctor.stderr
            lines = doctor.stdout.splitlines()
            broken = {
                line.split("canary: ")[1].split(":")[0]: line
                for line in lines
                if "canary: " in line
            }
            assert "ok" in broken["DHCP lease"] and "ok" in broken["gateway"]
            assert "FAIL" in broken["metadata"] and "169.254.169.254" in broken["metadata"]
            fix = lines[lines.index(broken["metadata"]) + 1]
            assert "fix:" in fix and "metadata proxy" in fix, doctor.stdout
            assert "floating IP" not in broken  # a failed step ends the run
            assert _api_state(conn) == api_before
            assert _settle(lambda: _host_state(host_ns, prefix), host_before) == host_before

            _nft(host_ns, "-f", "-", stdin=DROP % "172.24.4.0/24")  # the outside cut off
            try:
                cut = _by_step(run_canary(settings))
            finally:
                _nft(host_ns, "delete", "table", "bridge", "canarytest")
            assert all(cut[s].ok for s in ("DHCP lease", "gateway", "metadata")), cut
            assert not cut["floating IP"].ok and "does not answer" in cut["floating IP"].detail
            assert "router" in cut["floating IP"].fix
            assert _api_state(conn) == api_before
            assert _settle(lambda: _host_state(host_ns, prefix), host_before) == host_before
    finally:
        for pid in dnsmasq_pids(tmp_path):  # dnsmasq outlives the agent by design
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix) + netns.names("canary-"):
            netns.remove(name)
