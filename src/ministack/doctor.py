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
    from sqlalchemy import text

    from ministack.common.db import Database

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


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


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
]


def run_checks(settings: Settings) -> list[Check]:
    return [check(settings) for check in CHECKS]
