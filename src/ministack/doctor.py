"""`ministack doctor`: each prerequisite checked, with what is wrong and how to fix it.

A check is a function returning a `Check`; later services append theirs to CHECKS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from ministack.config import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False


def python_version(_s: Settings) -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "install Python 3.11 or newer")


def database(s: Settings) -> Check:
    """Reach the configured database; a SQLite file that does not exist yet is reported, not
    created (a check leaves nothing behind)."""
    from sqlalchemy import make_url, text

    from ministack.common.db import Database

    url = make_url(s.database_url)
    path = url.database or ""
    is_file = url.get_backend_name() == "sqlite" and path not in ("", ":memory:")
    if is_file and not os.path.exists(path):
        return Check(
            "database",
            False,
            f"no SQLite database at {path}",
            "run `ministack init` (./stack.sh does) or fix [database] url in the config file",
        )

    async def probe() -> None:
        db = Database(s.database_url)
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await db.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return Check(
            "database",
            False,
            f"{s.database_url.split('@')[-1]}: {exc}",
            "start the database server or fix [database] url in the config file",
        )
    return Check("database", True, s.database_url.split("@")[-1])


def message_bus(s: Settings) -> Check:
    url = s.messaging.url
    if url.startswith("memory://"):
        return Check("message bus", True, "in-process (memory://)")
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5672
    if _port_open(host, port):
        return Check("message bus", True, f"{host}:{port} reachable")
    return Check(
        "message bus",
        False,
        f"{host}:{port} not reachable",
        "start RabbitMQ (`rabbitmq-server -detached`) or set [messaging] url = memory://",
    )


def _tool(name: str, package: str, optional: bool = True) -> Callable[[Settings], Check]:
    def check(_s: Settings) -> Check:
        path = shutil.which(name) or (
            f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
        )
        if path:
            return Check(name, True, path, optional=optional)
        return Check(name, False, "not installed", f"apt-get install -y {package}", optional)

    return check


def kvm(_s: Settings) -> Check:
    if not os.path.exists("/dev/kvm"):
        return Check(
            "kvm",
            False,
            "/dev/kvm absent: guests run under QEMU emulation (slower)",
            "enable virtualisation in the BIOS or nested virtualisation",
            optional=True,
        )
    return Check(
        "kvm", True, "/dev/kvm present (used only if a probe guest boots with it)", optional=True
    )


def libvirtd(_s: Settings) -> Check:
    sock = "/var/run/libvirt/libvirt-sock"
    if os.path.exists(sock):
        return Check("libvirtd", True, f"socket {sock}", optional=True)
    return Check(
        "libvirtd",
        False,
        "not running",
        "libvirtd -d && virtlogd -d (stack.sh does this)",
        optional=True,
    )


def free_ports(s: Settings) -> Check:
    from ministack.pidfile import running_pid
    from ministack.server import enabled_services

    if running_pid(s) is not None:
        return Check("ports", True, "ministack is running and holds its ports")
    busy = [
        f"{name}:{s.port(name)}"
        for name in enabled_services(s)
        if _port_open(s.default.bind_host, s.port(name))
    ]
    if busy:
        return Check(
            "ports",
            False,
            f"in use by another program: {', '.join(busy)}",
            "stop that program or change the port in [services] of the config file",
        )
    return Check("ports", True, "all service ports are free")


def dashboard_assets(s: Settings) -> Check:
    from ministack.dashboard.assets import AssetsMissing, vendor_files
    from ministack.server import enabled_services

    if "dashboard" not in enabled_services(s):
        return Check("dashboard assets", True, "the dashboard is not enabled", optional=True)
    try:
        found = vendor_files(s)
    except AssetsMissing as exc:
        return Check("dashboard assets", False, str(exc), "scripts/install-dashboard-assets.sh")
    return Check("dashboard assets", True, f"installed: {', '.join(sorted(found))}")


MIN_VOLUME_FREE = 10 << 30  # bytes free under the volume path below which doctor warns


def volume_storage(s: Settings) -> Check:
    """Free space where the file backend keeps volumes (the nearest existing directory)."""
    from pathlib import Path

    path = Path(s.volume.volumes_dir or s.state_path / "volumes")
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    detail = f"{free / (1 << 30):.1f} GiB free under {path}"
    if free < MIN_VOLUME_FREE:
        return Check(
            "volume storage",
            False,
            detail + " (volumes are sparse, but their data needs room as it is written)",
            "free space there or set [volume] volumes_dir to a larger filesystem",
            optional=True,
        )
    return Check("volume storage", True, detail, optional=True)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def network_kernel(_s: Settings) -> Check:
    """Namespaces, bridges, veth pairs and VXLAN devices, tried in a throwaway namespace."""
    if os.geteuid() != 0:
        return Check(
            "network data plane",
            False,
            "not root: cannot make bridges, VXLAN devices or namespaces",
            "run ministack as root (sudo) for real networking",
            optional=True,
        )
    from ministack.network.agent.linux.probe import kernel_support

    failed = kernel_support()
    if failed:
        detail = "; ".join(f"{kind}: {message}" for kind, message in failed.items())
        modules = " ".join(k for k in ("bridge", "veth", "vxlan") if k in failed)
        return Check(
            "network data plane",
            False,
            detail,
            f"modprobe {modules or 'bridge veth vxlan'} (or install the kernel's extra modules)",
            optional=True,
        )
    return Check("network data plane", True, "namespaces, bridges, veth and VXLAN work", "", True)


def bridge_firewall(_s: Settings) -> Check:
    from ministack.network.agent.linux.probe import bridge_netfilter, forward_policy_drops

    if bridge_netfilter() and forward_policy_drops():
        return Check(
            "bridge firewall",
            False,
            "bridged packets pass through iptables (br_netfilter) and its FORWARD policy is DROP "
            "(as Docker sets it): traffic between guests is dropped",
            "sysctl -w net.bridge.bridge-nf-call-iptables=0 (or iptables -P FORWARD ACCEPT)",
            optional=True,
        )
    return Check(
        "bridge firewall", True, "no FORWARD DROP policy on bridged packets", optional=True
    )


CHECKS: list[Callable[[Settings], Check]] = [
    python_version,
    database,
    message_bus,
    free_ports,
    dashboard_assets,
    _tool("qemu-system-x86_64", "qemu-system-x86"),
    kvm,
    libvirtd,
    _tool("dnsmasq", "dnsmasq-base"),
    _tool("nft", "nftables"),
    _tool("qemu-img", "qemu-utils", optional=False),
    _tool("qemu-storage-daemon", "qemu-system-common"),  # NBD exports to other machines
    volume_storage,
    network_kernel,
    bridge_firewall,
]


def run_checks(settings: Settings) -> list[Check]:
    return [check(settings) for check in CHECKS]
