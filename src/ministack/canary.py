"""`ministack doctor --canary`: one throwaway guest proves the network data plane end to end.

Where it sits: an opt-in doctor step run on a host of a running cloud, as root. It talks to
the cloud like any client (admin credentials of the configuration, public APIs): it makes a
network, a subnet, a router with its gateway on the external network `public`, a security
group admitting ICMP and the guest's TCP port, a port bound to this host, a floating IP, and a
port on `public` that only reserves the client's address. It plugs a namespace on the port the
way the fake driver's namespace guests are plugged (`netns_guest`), and a client namespace on
the external network's bridge (the "outside"; packets never leave namespaces it made). Then:
lease = the port's fixed IP, ping the gateway, an HTTP answer from 169.254.169.254, ICMP and
TCP through the floating IP. Each step reports ok or what is wrong and how to fix it.
Everything it made is removed afterwards, whatever failed (an ExitStack of undos).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import socket
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ministack.compute.virt import netns_guest
from ministack.config import Settings
from ministack.doctor import Check
from ministack.network.agent.linux import netns
from ministack.network.agent.linux.bridge import bridge_name
from ministack.seed import SeedError, admin_client

EXTERNAL_NETWORK = "public"
CIDR = "10.254.254.0/28"
LEASE_TIMEOUT = 30.0
PATH_TIMEOUT = 15.0  # the agent wires routers and NAT asynchronously
METADATA_IP = "169.254.169.254"
HOSTNAME = "canary"
AGENT_FIX = (
    "check the network agent runs on host {host} ([network_agent] enabled = true, as root) "
    "and read its log (`ministack logs`)"
)


class StepFailed(Exception):
    """A setup request failed; the message says which and why."""


@dataclass
class Run:
    """What one canary run made (ids by kind) and the checks it has reported."""

    settings: Settings
    http: httpx.Client
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    checks: list[Check] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.settings.endpoint("network") + "/v2.0"

    def call(self, method: str, path: str, what: str, body: Any = None) -> dict[str, Any]:
        resp = self.http.request(method, self.base + path, json=body)
        if resp.status_code >= 400:
            raise StepFailed(f"{what}: {resp.status_code} {resp.text[:200]}")
        return resp.json() if resp.content else {}

    def report(self, step: str, ok: bool, detail: str, fix: str = "") -> bool:
        self.checks.append(Check(f"canary: {step}", ok, detail, "" if ok else fix))
        return ok


def run_canary(settings: Settings) -> list[Check]:
    """The canary's checks, one per step (a failed step ends the run). Leaves nothing behind:
    every resource and namespace it made is removed before it returns."""
    if os.geteuid() != 0:
        fix = "run `ministack doctor --canary` as root (sudo)"
        return [Check("canary", False, "not root: cannot plug namespaces", fix)]
    try:
        http = admin_client(settings)
    except SeedError as exc:
        return [Check("canary: cloud", False, str(exc), "start the cloud: `ministack up`")]
    run = Run(settings, http)
    with http, contextlib.ExitStack() as undo:
        try:
            _steps(run, undo)
        except StepFailed as exc:
            run.report("setup", False, str(exc), "see the message: the cloud refused or lacks it")
        except Exception as exc:  # a doctor reports, it does not crash
            run.report("setup", False, f"{type(exc).__name__}: {exc}", "run as root on a host")
        try:
            undo.close()
        except Exception as exc:  # reported: something may be left behind
            run.report("cleanup", False, f"{type(exc).__name__}: {exc}", "remove it by hand")
    return run.checks


def _steps(run: Run, undo: contextlib.ExitStack) -> None:
    public = _external(run)
    if public is None:
        return
    made = _resources(run, undo, public)
    guest_ns, state = _plug_guest(run, undo, made)
    if not _lease(run, made, state):
        return
    if not _gateway(run, guest_ns, made):
        return
    if not _metadata(run, guest_ns):
        return
    client_ns = _plug_client(run, undo, public, made)
    _floating_ip(run, client_ns, made)


def _external(run: Run) -> dict[str, Any] | None:
    nets = run.call("GET", f"/networks?name={EXTERNAL_NETWORK}", "listing networks")["networks"]
    ext = [n for n in nets if n.get("router:external")]
    if not ext or not ext[0]["subnets"]:
        run.report(
            "external network",
            False,
            f"no external network {EXTERNAL_NETWORK!r} with a subnet",
            "create it as ./stack.sh does: `ministack seed` (with the network agent enabled)",
        )
        return None
    run.report("external network", True, f"{EXTERNAL_NETWORK} {ext[0]['id']}")
    return dict(ext[0])


@dataclass(frozen=True)
class Made:
    router_id: str
    gateway_ip: str
    port: dict[str, Any]
    fip: str
    client_ip: str
    client_prefixlen: int


def _resources(run: Run, undo: contextlib.ExitStack, public: dict[str, Any]) -> Made:
    """The throwaway network, subnet, router, security group, port, floating IP and client
    address; each pushes its delete onto `undo` as soon as it exists."""
    name = f"canary-{run.tag}"

    def delete(path: str, what: str) -> None:
        undo.callback(run.call, "DELETE", path, f"deleting {what}")

    net = run.call("POST", "/networks", "creating the network", {"network": {"name": name}})
    delete(f"/networks/{net['network']['id']}", "the network")
    body = {"network_id": net["network"]["id"], "cidr": CIDR, "ip_version": 4, "name": name}
    subnet = run.call("POST", "/subnets", "creating the subnet", {"subnet": body})["subnet"]
    gw = {"network_id": public["id"]}
    router = run.call(
        "POST",
        "/routers",
        "creating the router with its gateway on " + EXTERNAL_NETWORK,
        {"router": {"name": name, "external_gateway_info": gw}},
    )["router"]
    delete(f"/routers/{router['id']}", "the router")
    leg = {"subnet_id": subnet["id"]}
    run.call("PUT", f"/routers/{router['id']}/add_router_interface", "adding the subnet", leg)
    undo.callback(
        run.call,
        "PUT",
        f"/routers/{router['id']}/remove_router_interface",
        "removing the router's interface",
        leg,
    )
    group = run.call(
        "POST", "/security-groups", "creating the group", {"security_group": {"name": name}}
    )["security_group"]
    delete(f"/security-groups/{group['id']}", "the security group")
    tcp = {"protocol": "tcp", "port_range_min": netns_guest.HOSTNAME_PORT}
    for rule in ({"protocol": "icmp"}, tcp | {"port_range_max": netns_guest.HOSTNAME_PORT}):
        rule |= {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4"}
        run.call("POST", "/security-group-rules", "adding a rule", {"security_group_rule": rule})
    port_body = {
        "network_id": net["network"]["id"],
        "name": name,
        "binding:host_id": run.settings.hostname,
        "security_groups": [group["id"]],
    }
    port = run.call("POST", "/ports", "creating the port", {"port": port_body})["port"]
    delete(f"/ports/{port['id']}", "the port")
    fip_body = {"floating_network_id": public["id"], "port_id": port["id"]}
    fip = run.call("POST", "/floatingips", "creating the floating IP", {"floatingip": fip_body})
    delete(f"/floatingips/{fip['floatingip']['id']}", "the floating IP")
    client_body = {"network_id": public["id"], "name": f"{name}-client"}
    client = run.call("POST", "/ports", "reserving the client's address", {"port": client_body})
    delete(f"/ports/{client['port']['id']}", "the client's port")
    ext_cidr = run.call("GET", f"/subnets/{public['subnets'][0]}", "reading the subnet")
    return Made(
        router["id"],
        subnet["gateway_ip"],
        port,
        fip["floatingip"]["floating_ip_address"],
        client["port"]["fixed_ips"][0]["ip_address"],
        int(ext_cidr["subnet"]["cidr"].split("/")[1]),
    )


def _plug_guest(run: Run, undo: contextlib.ExitStack, made: Made) -> tuple[str, Path]:
    """A namespace guest on the port, plugged and started as the fake driver does it."""
    host_ns = run.settings.network_agent.host_netns or None
    port_id = made.port["id"]
    ns = netns_guest.namespace(port_id, "canary-")
    state = Path(undo.enter_context(tempfile.TemporaryDirectory(prefix="ministack-canary-")))
    tap = "tap" + port_id[:11]
    undo.callback(netns_guest.remove, ns, state, host_ns, [tap])
    nic = netns_guest.Nic(tap, made.port["mac_address"], "", 1450)
    netns_guest.plug(ns, [nic], host_ns)
    netns_guest.start(ns, state, HOSTNAME, ["eth0"])
    return ns, state


def _wait(probe: Callable[[], Any], timeout: float) -> Any:
    """`probe()`'s first true result within `timeout` seconds (None: none came)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            got = probe()
            if got:
                return got
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def _lease(run: Run, made: Made, state: Path) -> bool:
    want = made.port["fixed_ips"][0]["ip_address"]
    got = _wait(lambda: netns_guest.lease(state), LEASE_TIMEOUT)
    if got is None:
        status = run.call("GET", f"/ports/{made.port['id']}", "reading the port")["port"]
        return run.report(
            "DHCP lease",
            False,
            f"no lease within {LEASE_TIMEOUT:.0f} s (port status {status['status']})",
            AGENT_FIX.format(host=run.settings.hostname) + "; `ministack doctor` lists dnsmasq",
        )
    if got.get("ip") != want:
        return run.report(
            "DHCP lease",
            False,
            f"leased {got.get('ip')}, but the port's fixed IP is {want}",
            "another DHCP server answers on the network: stop it (only the agent's dnsmasq may)",
        )
    return run.report("DHCP lease", True, f"{want} from {got.get('server')}")


def ping(ns: str, address: str, timeout: float = 1.0) -> bool:
    """One ICMP echo from namespace `ns` to `address` answered within `timeout` seconds."""

    def echo() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
            sock.settimeout(timeout)
            ident = secrets.randbelow(0xFFFF)
            head = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"ministack-canary"
            packet = struct.pack("!BBHHH", 8, 0, _checksum(head), ident, 1) + head[8:]
            sock.sendto(packet, (address, 0))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                data, peer = sock.recvfrom(2048)
                start = (data[0] & 0x0F) * 4
                kind, _, _, got_id = struct.unpack("!BBHH", data[start : start + 6])
                if peer[0] == address and kind == 0 and got_id == ident:
                    return True
            return False

    try:
        return netns.run_in(ns, echo)
    except OSError:
        return False


def _checksum(data: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _gateway(run: Run, ns: str, made: Made) -> bool:
    if _wait(lambda: ping(ns, made.gateway_ip), PATH_TIMEOUT):
        return run.report("gateway", True, f"{made.gateway_ip} answers ping")
    return run.report(
        "gateway",
        False,
        f"the router's interface {made.gateway_ip} does not answer ping",
        "the router's namespace qrouter-<id> lacks its leg on the subnet: "
        + AGENT_FIX.format(host=run.settings.hostname),
    )


def _metadata(run: Run, ns: str) -> bool:
    def get() -> int:
        conn = http.client.HTTPConnection(METADATA_IP, 80, timeout=3.0)
        try:
            conn.request("GET", "/openstack")
            return conn.getresponse().status
        finally:
            conn.close()

    status = _wait(lambda: netns.run_in(ns, get), PATH_TIMEOUT)
    if status in (200, 404):  # 404: the proxy found no instance behind the canary's port
        return run.report("metadata", True, f"the proxy at {METADATA_IP} answered {status}")
    return run.report(
        "metadata",
        False,
        f"no HTTP answer from {METADATA_IP}:80" + (f" (got {status})" if status else ""),
        "the metadata proxy listens in the network's qdhcp namespace: check [network_agent] "
        "dhcp = true on this host, that nothing drops traffic to 169.254.169.254, and the "
        "agent's log (`ministack logs`)",
    )


def _plug_client(run: Run, undo: contextlib.ExitStack, public: dict[str, Any], made: Made) -> str:
    """A client namespace with the reserved address, on the external network's bridge."""
    host_ns = run.settings.network_agent.host_netns or None
    ns, veth = f"canary-out-{run.tag}", f"cnry{run.tag}"
    undo.callback(netns.remove, ns)
    netns.ensure(ns)
    mapped = dict(m.split(":", 1) for m in run.settings.network_agent.bridge_mappings)
    bridge = mapped.get(public.get("provider:physical_network") or "", bridge_name(public["id"]))
    with netns.iproute(host_ns) as ipr:
        found = ipr.link_lookup(ifname=bridge)
        if not found:
            raise StepFailed(f"the external bridge {bridge} is missing on this host")
        ipr.link("add", ifname=veth, kind="veth", peer={"ifname": "eth0", "net_ns_fd": ns})
        ipr.link("set", index=ipr.link_lookup(ifname=veth)[0], master=found[0], state="up")
    with netns.iproute(ns) as ipr:
        eth0 = ipr.link_lookup(ifname="eth0")[0]
        ipr.addr("add", index=eth0, address=made.client_ip, prefixlen=made.client_prefixlen)
        ipr.link("set", index=eth0, state="up")
    return ns


def _hostname(ns: str, address: str) -> str:
    def ask() -> str:
        with socket.create_connection((address, netns_guest.HOSTNAME_PORT), timeout=1.0) as c:
            return c.recv(64).decode().strip()

    return netns.run_in(ns, ask)


def _floating_ip(run: Run, ns: str, made: Made) -> bool:
    fix = (
        f"check router {made.router_id} keeps its gateway on {EXTERNAL_NETWORK} "
        f"(`openstack router show {made.router_id}`) and its namespace qrouter-… holds the "
        "floating IP's NAT rules: " + AGENT_FIX.format(host=run.settings.hostname)
    )
    if not _wait(lambda: ping(ns, made.fip), PATH_TIMEOUT):
        return run.report("floating IP", False, f"{made.fip} does not answer ping", fix)
    answer = _wait(lambda: _hostname(ns, made.fip), 5.0)
    if answer != HOSTNAME:
        return run.report("floating IP", False, f"TCP to {made.fip} got {answer!r}", fix)
    return run.report("floating IP", True, f"{made.fip} answers ping and TCP from outside")
