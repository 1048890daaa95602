"""Real VMs (libvirt, QEMU) on real networks: one cloud with the libvirt driver and the network
agent, the agent's data plane scoped to a namespace that plays the host (so it can neither see
nor remove anything outside it: other tests' bridges, namespaces and nftables tables are left
alone). libvirt makes each NIC's tap in no bridge and the driver hands it to that namespace,
where the agent plugs it.

Covers: a VM gets its port's fixed IP by DHCP and its hostname from metadata (config drive, and
the metadata service asked from user data), both on its console; it pings a second VM on the
network; a port hot-plugged with `openstack server add port` appears in the guest with its
address; a VM behind a router is seen outside with the router's gateway address (SNAT) and is
reachable by SSH through a floating IP with its key pair, closed until an ingress rule exists,
open within 2 s of adding one, and an open session dies within 2 s of removing it.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ministack.compute.guestimage import BANNER_PREFIX
from ministack.network.agent.linux import netns
from tests.cloud import Cloud, make_cloud
from tests.e2e.network.dataplane import dnsmasq_pids
from tests.e2e.network.test_routers import WHOAMI_PORT, Whoami, outside_on
from tests.e2e.test_servers_libvirt import REPO, URI, remove_domains_under

pytestmark = pytest.mark.e2e

BOOT_TIMEOUT = 240.0
START_TIMEOUT = 180.0  # the KVM probe and libvirt under a loaded machine
OUTSIDE_IP = "172.24.4.100"
SERVICES = ("identity", "image", "placement", "compute", "network")


class VmCloud:
    """The cloud, the namespace playing its host and the test's scratch directory."""

    def __init__(self, cloud: Cloud, prefix: str, host_ns: str, tmp: Path) -> None:
        self.cloud = cloud
        self.prefix = prefix
        self.host_ns = host_ns
        self.tmp = tmp
        self.conn: Any = cloud.connect()


@pytest.fixture(scope="module")
def vms() -> Iterator[VmCloud]:
    if os.geteuid() != 0:
        pytest.fail("the real-VM network tests make namespaces and bridges: run them as root")
    if subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode != 0:
        done = subprocess.run(
            ["bash", str(REPO / "scripts/test.d/libvirt.sh")], capture_output=True, text=True
        )
        assert done.returncode == 0, f"could not start libvirtd: {done.stderr}"
    prefix = "nv" + secrets.token_hex(2)
    host_ns = f"{prefix}h"
    netns.ensure(host_ns)
    tmp = Path(tempfile.mkdtemp(prefix="ministack-e2e-netvm-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt",
        "MINISTACK_LIBVIRT_INSTANCES_PATH": str(tmp / "instances"),
        "MINISTACK_LIBVIRT_IMAGE_CACHE_PATH": str(tmp / "imagecache"),
        "MINISTACK_LIBVIRT_SHUTDOWN_TIMEOUT": "10",
        "MINISTACK_NETWORK_AGENT_ENABLED": "true",
        "MINISTACK_NETWORK_AGENT_HOST_NETNS": host_ns,
        "MINISTACK_NETWORK_AGENT_RESYNC_INTERVAL": "3600",  # taps are seen by netlink events
    }
    cloud = make_cloud(tmp / "cloud", services=SERVICES, extra_env=env)
    try:
        cloud.start(timeout=START_TIMEOUT)
        cloud.ministack("seed")
        cloud.cli("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", "vm.net")
        yield VmCloud(cloud, prefix, host_ns, tmp)
    finally:
        cloud.stop()
        remove_domains_under(tmp)  # a failed test must not leave guests running
        for pid in dnsmasq_pids(tmp):  # dnsmasq outlives the agent by design
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(prefix):
            netns.remove(name)
        shutil.rmtree(tmp, ignore_errors=True)


def boot(vms: VmCloud, name: str, network_id: str, user_data: str = "", **extra: Any) -> Any:
    conn = vms.conn
    server = conn.compute.create_server(
        name=name,
        image_id=conn.image.find_image("ministack-test", ignore_missing=False).id,
        flavor_id=conn.compute.find_flavor("vm.net", ignore_missing=False).id,
        networks=[{"uuid": network_id}],
        user_data=base64.b64encode(user_data.encode()).decode() if user_data else None,
        **extra,
    )
    return conn.compute.wait_for_server(server, status="ACTIVE", wait=BOOT_TIMEOUT)


def console_until(vms: VmCloud, server: Any, pattern: str) -> re.Match[str]:
    """The first match of `pattern` on the server's console, polled (os-getConsoleOutput)."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    text = ""
    while time.monotonic() < deadline:
        text = str(vms.conn.compute.get_server_console_output(server).get("output", ""))
        if found := re.search(pattern, text):
            return found
        time.sleep(1)
    raise AssertionError(f"{pattern!r} never on {server.name}'s console:\n{text[-3000:]}")


def fixed_ip(vms: VmCloud, server_id: str, network_id: str) -> str:
    (port,) = vms.conn.network.ports(device_id=server_id, network_id=network_id)
    return str(port.fixed_ips[0]["ip_address"])


METADATA_PROBE = """\
md=$(timeout 10 wget -q -O- http://169.254.169.254/openstack/latest/meta_data.json \\
    | tr -d '\\n' | sed -n 's/.*"hostname": *"\\([^"]*\\)".*/\\1/p')
echo "metadata-service-hostname=$md"
"""

# Runs in the background: reports the first IPv4 address eth1 gets (a NIC hot-plugged later).
HOTPLUG_WATCH = """\
( n=0; while [ $n -lt 900 ]; do
    a=$(ip -4 -o addr show dev eth1 2>/dev/null | awk '{ print $4; exit }')
    [ -n "$a" ] && { echo "hotplugged eth1 $a"; break; }
    sleep 1; n=$((n + 1))
  done ) &
"""


def test_dhcp_metadata_ping_and_hotplug_in_real_vms(vms: VmCloud) -> None:
    conn = vms.conn
    net = conn.network.create_network(name=f"{vms.prefix}-net")
    conn.network.create_subnet(network_id=net.id, cidr="10.51.0.0/24", ip_version=4)
    alpha = boot(vms, "alpha", net.id, "#!/bin/sh\n" + METADATA_PROBE + HOTPLUG_WATCH)
    alpha_ip = fixed_ip(vms, alpha.id, net.id)
    banner = console_until(vms, alpha, re.escape(BANNER_PREFIX) + r" hostname=(\S+) ip=(\S+) ===")
    assert banner.groups() == ("alpha", alpha_ip)  # hostname from metadata, IP by DHCP
    assert console_until(vms, alpha, r"metadata-service-hostname=(\S*)").group(1) == "alpha"

    pinger = "#!/bin/sh\n" + (
        f"for i in $(seq 60); do ping -c 1 -W 1 {alpha_ip} >/dev/null 2>&1 "
        f"&& {{ echo ping-ok-{alpha_ip}; break; }}; sleep 1; done\n"
    )
    beta = boot(vms, "beta", net.id, pinger)
    beta_ip = fixed_ip(vms, beta.id, net.id)
    banner = console_until(vms, beta, re.escape(BANNER_PREFIX) + r" hostname=(\S+) ip=(\S+) ===")
    assert banner.groups() == ("beta", beta_ip)
    console_until(vms, beta, re.escape(f"ping-ok-{alpha_ip}"))  # the second VM reaches the first

    extra = conn.network.create_port(network_id=net.id, name=f"{vms.prefix}-extra")
    vms.cloud.cli("server", "add", "port", alpha.id, extra.id)
    assert conn.network.get_port(extra.id).status == "ACTIVE"  # plugged in the host namespace
    seen = console_until(vms, alpha, r"hotplugged eth1 (\S+)/")
    assert seen.group(1) == extra.fixed_ips[0]["ip_address"]  # the new NIC got its address
    taps = {"tap" + p.id[:11] for p in conn.network.ports(device_owner="compute:nova")}
    assert len(taps) == 3 and taps <= _links(vms.host_ns)
    for server in (alpha, beta):
        conn.compute.delete_server(server)
    for server in (alpha, beta):
        conn.compute.wait_for_delete(server, wait=120)
    assert list(conn.network.ports(device_owner="compute:nova")) == []
    deadline = time.monotonic() + 30
    while taps & _links(vms.host_ns):  # each tap goes when its QEMU exits
        assert time.monotonic() < deadline, f"taps left: {taps & _links(vms.host_ns)}"
        time.sleep(0.2)


def _links(ns: str) -> set[str]:
    from pyroute2 import IPRoute

    with IPRoute(netns=ns) as ipr:
        return {str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}


def ssh_port_open(ns: str, ip: str, within: float) -> bool:
    """Whether a TCP connection from `ns` to ip:22 gets dropbear's banner, polled for `within`
    seconds (each try bounded, so a dropped SYN costs at most 0.5 s)."""

    def banner() -> bytes:
        with socket.create_connection((ip, 22), timeout=0.5) as conn:
            conn.settimeout(1.0)
            return conn.recv(8)

    deadline = time.monotonic() + within
    while True:
        try:
            if netns.run_in(ns, banner).startswith(b"SSH-"):
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def ssh_argv(key: Path, ip: str, *command: str) -> list[str]:
    options = ("StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "BatchMode=yes")
    opts = [arg for o in options for arg in ("-o", o)]
    return ["ssh", "-T", "-i", str(key), "-o", "ConnectTimeout=20", *opts, f"root@{ip}", *command]


class Session:
    """An SSH session from namespace `ns` running `cat` in the guest: each line comes back."""

    def __init__(self, ns: str, key: Path, ip: str) -> None:
        self.proc = subprocess.Popen(
            ssh_argv(key, ip, "cat"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=netns.preexec(ns),
        )
        self.count = 0

    def echoes(self, timeout: float) -> bool:
        """Whether a fresh line comes back within `timeout` seconds (older lines skipped)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.count += 1
        line = f"line-{self.count}\n".encode()
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except OSError:
            return False
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        got = b""
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                return False
            got += chunk
            if line in got:
                return True
        return False

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def test_floating_ip_ssh_security_group_and_snat_with_a_real_vm(vms: VmCloud) -> None:
    conn, host_ns = vms.conn, vms.host_ns
    # `ministack seed` made DevStack's public network (172.24.4.0/24, flat, no uplink)
    public = conn.network.find_network("public", ignore_missing=False)
    private = conn.network.create_network(name=f"{vms.prefix}-private")
    subnet = conn.network.create_subnet(network_id=private.id, cidr="10.52.0.0/24", ip_version=4)
    router = conn.network.create_router(
        name=f"{vms.prefix}-r", external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    gateway_ip = conn.network.get_router(router.id).external_gateway_info["external_fixed_ips"][0][
        "ip_address"
    ]
    deadline = time.monotonic() + 30
    while "brq" + public.id[:11] not in _links(host_ns):
        assert time.monotonic() < deadline, "the external bridge never appeared"
        time.sleep(0.2)
    out_ns = outside_on(vms.prefix, host_ns, public.id)  # the client namespace ("outside")
    whoami = Whoami(out_ns)
    key = vms.tmp / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    conn.compute.create_keypair(
        name=f"{vms.prefix}-key", public_key=key.with_suffix(".pub").read_text()
    )
    snat_probe = "#!/bin/sh\n" + (
        f"for i in $(seq 60); do r=$(timeout 3 nc {OUTSIDE_IP} {WHOAMI_PORT} </dev/null) "
        f'&& [ -n "$r" ] && {{ echo "seen-as=$r"; break; }}; sleep 1; done\n'
    )
    session: Session | None = None
    try:
        gamma = boot(vms, "gamma", private.id, snat_probe, key_name=f"{vms.prefix}-key")
        console_until(vms, gamma, re.escape(BANNER_PREFIX) + " hostname=gamma ")
        assert console_until(vms, gamma, r"seen-as=(\S+)").group(1) == gateway_ip  # SNAT
        (port,) = conn.network.ports(device_id=gamma.id)
        fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
        address = fip.floating_ip_address
        deadline = time.monotonic() + 30
        while conn.network.get_ip(fip.id).status != "ACTIVE":  # the router's NAT is in place
            assert time.monotonic() < deadline, "the floating IP never became ACTIVE"
            time.sleep(0.2)
        # the default group admits nothing from outside
        assert not ssh_port_open(out_ns, address, within=1.0)
        rule = conn.network.create_security_group_rule(
            security_group_id=port.security_group_ids[0],
            direction="ingress",
            ethertype="IPv4",
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
        )
        assert ssh_port_open(out_ns, address, within=2.0)  # the window
        done = subprocess.run(
            ssh_argv(key, address, "hostname"),
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=netns.preexec(out_ns),
        )
        assert done.returncode == 0 and done.stdout.strip() == "gamma", done.stderr
        session = Session(out_ns, key, address)
        assert session.echoes(timeout=60.0)  # the session is up (key exchange under TCG)
        conn.network.delete_security_group_rule(rule.id)
        deadline = time.monotonic() + 2.0  # the window
        while session.echoes(timeout=0.5):
            assert time.monotonic() < deadline, "the session still works 2 s after the removal"
        assert not session.echoes(timeout=3.0)  # dead, not slow: its flows were deleted
        assert not ssh_port_open(out_ns, address, within=0.5)
        conn.compute.delete_server(gamma)
        conn.compute.wait_for_delete(gamma, wait=120)
        conn.network.delete_ip(fip)
    finally:
        if session is not None:
            session.close()
        whoami.close()
