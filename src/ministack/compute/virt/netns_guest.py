"""Namespace guests: the fake driver's fast stand-in for a VM on a real network.

With `[compute] fake_netns_guests` each fake instance with ports is a network namespace
`fakevm-<uuid>` plugged as libvirt plugs a VM: per port a veth whose host end is the port's tap
(`tap` + port id[:11]) in the network's bridge and whose guest end (eth0, eth1, ...) has the
port's MAC. A small program runs inside: it asks the network's dnsmasq for an address by DHCP
(`dhcp_client.py`), applies it, then answers ping (the kernel) and, on TCP HOSTNAME_PORT, its
hostname. `remove` kills the program and deletes the namespace (and so the veths).

Run as `python -m ministack.compute.virt.netns_guest <state dir> <hostname> <iface>...`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from ministack.compute.virt import dhcp_client

HOSTNAME_PORT = 7007
ENODEV = 19
NS_PREFIX = "fakevm-"


@dataclass(frozen=True)
class Nic:
    tap: str
    mac: str
    bridge: str = ""
    mtu: int = 1500


def namespace(uuid: str, prefix: str = "") -> str:
    return f"{prefix}{NS_PREFIX}{uuid}"


def _enter(name: str) -> None:
    netns.setns(name, flags=0)


def plug(ns: str, nics: Sequence[Nic], host_netns: str | None = None, first: int = 0) -> None:
    """Make namespace `ns` with one veth per NIC (host end `nic.tap`, enslaved to `nic.bridge`
    when that exists; guest ends eth<first>, eth<first+1>, ...). Idempotent; on failure
    removes what it made (all of it: a failed hot-plug leaves the guest without network)."""
    if ns not in netns.listnetns():
        netns.create(ns)

    def host_side() -> None:
        with IPRoute() as ipr:
            for i, nic in enumerate(nics):
                if not ipr.link_lookup(ifname=nic.tap):
                    peer = {"ifname": f"eth{first + i}", "net_ns_fd": ns, "address": nic.mac}
                    ipr.link("add", ifname=nic.tap, kind="veth", peer=peer)
                index = ipr.link_lookup(ifname=nic.tap)[0]
                bridge = ipr.link_lookup(ifname=nic.bridge) if nic.bridge else []
                spec: dict[str, object] = {"index": index, "mtu": nic.mtu, "state": "up"}
                if bridge:
                    spec["master"] = bridge[0]
                ipr.link("set", **spec)

    def loopback_up() -> None:
        with IPRoute() as inside:
            inside.link("set", index=inside.link_lookup(ifname="lo")[0], state="up")

    try:
        _in_netns(host_netns, host_side)
        _in_netns(ns, loopback_up)
    except (NetlinkError, OSError):
        remove(ns, Path("/nonexistent"))
        raise


def _in_netns(name: str | None, work: Callable[[], None]) -> None:
    """Run `work` in a thread that entered namespace `name` (None: here). Not
    `IPRoute(netns=...)`: that forks a helper whose signals would reach an asyncio parent's
    wakeup fd (a SIGTERM to the helper reads as one to ministack)."""
    if name is None:
        work()
        return
    failed: list[BaseException] = []

    def target() -> None:
        try:
            _enter(name)
            work()
        except BaseException as exc:  # handed to the caller below
            failed.append(exc)

    thread = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def start(ns: str, state: Path, hostname: str, ifaces: Sequence[str]) -> int:
    """Start the guest program in `ns`, detached (it outlives the driver's process); returns its
    pid, which is also in `state`/pid."""
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "console.log", "ab") as log:
        # the program forks into the background and writes its pid: no child of ours remains
        subprocess.run(
            [sys.executable, "-m", __name__, str(state), hostname, *ifaces],
            preexec_fn=lambda: _enter(ns),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            check=True,
            timeout=30,
        )
    pid = running(state)
    if pid is None:
        raise RuntimeError(f"namespace guest in {ns} did not start (see {state}/console.log)")
    return pid


def running(state: Path) -> int | None:
    try:
        pid = int((state / "pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        return None
    return pid if b"netns_guest" in cmdline and str(state).encode() in cmdline else None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def remove(ns: str, state: Path, host_netns: str | None = None, taps: Sequence[str] = ()) -> None:
    """Kill the guest program, delete its host-side taps (each takes its guest end along) and
    its namespace. Idempotent."""
    pid = running(state)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5.0
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
    if taps:
        remove_taps(taps, host_netns)
    if ns in netns.listnetns():
        netns.remove(ns)


def remove_taps(taps: Sequence[str], host_netns: str | None = None) -> None:
    """Delete host-side taps (each takes its guest end along). Idempotent."""

    def delete_taps() -> None:
        with IPRoute() as ipr:
            for tap in taps:
                for index in ipr.link_lookup(ifname=tap):
                    try:
                        ipr.link("del", index=index)
                    except NetlinkError as exc:
                        if exc.code != ENODEV:
                            raise

    _in_netns(host_netns, delete_taps)


def lease(state: Path) -> dict[str, object] | None:
    """The lease the guest applied on its first interface, once it has one."""
    try:
        data: dict[str, object] = json.loads((state / "lease.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data


def _serve(hostname: str) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", HOSTNAME_PORT))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        with conn:
            conn.sendall(hostname.encode() + b"\n")


def main(argv: Sequence[str]) -> None:
    state, hostname, ifaces = Path(argv[0]), argv[1], argv[2:]
    child = os.fork()
    if child:
        (state / "pid").write_text(str(child))
        os._exit(0)
    leases = {}
    for iface in ifaces:
        while True:
            try:
                got = dhcp_client.obtain(iface)
                break
            except TimeoutError as exc:
                print(f"{iface}: {exc}; retrying", flush=True)
                time.sleep(1.0)
        dhcp_client.configure(iface, got)
        leases[iface] = got.__dict__
        print(f"{iface}: {got.ip}/{got.prefixlen} from {got.server}", flush=True)
    tmp = state / ".lease.json.tmp"
    first = leases[ifaces[0]] if ifaces else {}
    tmp.write_text(json.dumps({**first, "all": leases}))
    os.replace(tmp, state / "lease.json")
    _serve(hostname)


if __name__ == "__main__":
    main(sys.argv[1:])
