"""Test harness for the network data plane: simulated hosts (each a namespace with an underlay
link), a small in-memory 'database' of networks and ports, agents, and namespace guests.

Everything is named with one random prefix per test and lives inside namespaces the test made:
no packet ever touches the machine's own interfaces.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import os
import secrets
import signal
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute

from ministack.compute.client import InstanceMetadata
from ministack.compute.virt import netns_guest
from ministack.network.agent.agent import NetworkAgent
from ministack.network.agent.derive import host_view
from ministack.network.agent.desired import (
    DHCP_OWNER,
    GroupSpec,
    HostNetworks,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    RuleSpec,
)
from ministack.network.agent.linux import netns
from ministack.network.agent.metadata import MetadataService, Signer
from ministack.network.agent.reconcile import HostConfig

UNDERLAY_NET = "198.51.100."  # TEST-NET-2, only ever inside the test's own namespaces


def new_id() -> str:
    return str(__import__("uuid").uuid4())


@dataclass
class World:
    """The 'database': every network with every port, and each host's VTEP."""

    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    vteps: dict[str, str] = field(default_factory=dict)
    instances: dict[str, InstanceMetadata] = field(default_factory=dict)
    reports: list[tuple[str, str, str]] = field(default_factory=list)
    groups: dict[str, GroupSpec] = field(default_factory=dict)
    routers: dict[str, RouterSpec] = field(default_factory=dict)

    async def host_networks(self, host: str) -> HostNetworks:
        view = host_view(host, self.networks.values(), self.vteps)
        members: dict[str, list[str]] = {}
        for net in self.networks.values():
            for port in net.ports:
                for group in port.security_groups:
                    members.setdefault(group, []).extend(port.ips())
        return dataclasses.replace(
            view,
            groups=dict(self.groups),
            routers=tuple(r for _, r in sorted(self.routers.items())),
            members={g: tuple(sorted(ips)) for g, ips in members.items()},
        )

    def add_rule(self, group_id: str, rule: RuleSpec) -> None:
        group = self.groups.get(group_id, GroupSpec(group_id))
        self.groups[group_id] = dataclasses.replace(group, rules=(*group.rules, rule))

    def remove_rule(self, group_id: str, rule: RuleSpec) -> None:
        group = self.groups[group_id]
        rules = tuple(r for r in group.rules if r != rule)
        self.groups[group_id] = dataclasses.replace(group, rules=rules)

    async def port_status(self, port_id: str, host: str, status: str, reason: str = "") -> None:
        self.reports.append((port_id, host, status))

    async def floatingip_status(self, address: str, router_id: str, status: str) -> None:
        self.reports.append((address, router_id, status))

    async def lookup(self, instance_id: str) -> InstanceMetadata | None:
        return self.instances.get(instance_id)

    def add_port(self, network_id: str, port: PortSpec) -> None:
        net = self.networks[network_id]
        self.networks[network_id] = dataclasses.replace(net, ports=(*net.ports, port))

    def replace_port(self, network_id: str, port: PortSpec) -> None:
        net = self.networks[network_id]
        ports = tuple(port if p.port_id == port.port_id else p for p in net.ports)
        self.networks[network_id] = dataclasses.replace(net, ports=ports)


@dataclass
class Guest:
    ns: str
    state: Path
    port: PortSpec
    host: SimHost
    network_id: str

    @property
    def ip(self) -> str:
        return self.port.ips()[0]

    @property
    def tap(self) -> str:
        return "tap" + self.port.port_id[:11]


@dataclass
class SimHost:
    name: str
    ns: str
    vtep: str
    state_dir: Path
    agent: NetworkAgent | None = None

    def config(self, prefix: str) -> HostConfig:
        return HostConfig(
            host=self.name,
            state_dir=self.state_dir,
            host_netns=self.ns,
            ns_prefix=f"{self.ns}-",
            local_ip=self.vtep,
            underlay="ul0",
        )

    async def links(self) -> dict[str, str]:
        return await asyncio.to_thread(self._links)

    def _links(self) -> dict[str, str]:
        with IPRoute(netns=self.ns) as ipr:
            out = {}
            for msg in ipr.get_links():
                info = msg.get_attr("IFLA_LINKINFO")
                kind = info.get_attr("IFLA_INFO_KIND") if info is not None else ""
                out[msg.get_attr("IFLA_IFNAME")] = kind or ""
            return out

    async def fdb(self, device: str) -> set[tuple[str, str]]:
        return await asyncio.to_thread(self._fdb, device)

    def _fdb(self, device: str) -> set[tuple[str, str]]:
        with IPRoute(netns=self.ns) as ipr:
            index = ipr.link_lookup(ifname=device)[0]
            return {
                (m.get_attr("NDA_LLADDR"), m.get_attr("NDA_DST"))
                for m in ipr.fdb("dump", ifindex=index)
                if m["ifindex"] == index and m.get_attr("NDA_DST")
            }


class Lab:
    """One test's hosts, guests and world; `close()` removes all of it."""

    def __init__(self, tmp: Path) -> None:
        self.prefix = "n10" + secrets.token_hex(2)
        self.tmp = tmp
        self.world = World()
        self.signer = Signer(secrets.token_bytes(32))
        self.hosts: dict[str, SimHost] = {}
        self.guests: list[Guest] = []
        self.underlay = f"{self.prefix}ul"

    def _start(self) -> None:
        netns.ensure(self.underlay)
        with IPRoute(netns=self.underlay) as ipr:
            ipr.link("add", ifname="ul", kind="bridge")
            ipr.link("set", index=ipr.link_lookup(ifname="ul")[0], state="up")

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    async def host(self, name: str) -> SimHost:
        return await asyncio.to_thread(self._host, name)

    def _host(self, name: str) -> SimHost:
        index = len(self.hosts) + 1
        ns = f"{self.prefix}{name}"
        netns.ensure(ns)
        vtep = f"{UNDERLAY_NET}{index}"
        with IPRoute(netns=ns) as ipr:
            ipr.link(
                "add", ifname="ul0", kind="veth", peer={"ifname": name, "net_ns_fd": self.underlay}
            )
            ul0 = ipr.link_lookup(ifname="ul0")[0]
            ipr.addr("add", index=ul0, address=vtep, prefixlen=24)
            ipr.link("set", index=ul0, state="up")
        with IPRoute(netns=self.underlay) as ipr:
            ul = ipr.link_lookup(ifname="ul")[0]
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], master=ul, state="up")
        host = SimHost(name, ns, vtep, self.tmp / name)
        self.hosts[name] = host
        self.world.vteps[name] = vtep
        return host

    def agent(self, host: SimHost, resync: float = 3600.0) -> NetworkAgent:
        service = MetadataService(self.signer, self.world.lookup)
        agent = NetworkAgent(
            host.config(self.prefix),
            self.world,
            self.world,
            service,
            self.signer,
            resync_interval=resync,
        )
        host.agent = agent
        return agent

    def network(self, cidr: str, *, vni: int | None = None, dhcp_host: str = "h1") -> str:
        from ministack.network.agent.desired import SubnetSpec

        network_id = new_id()
        base = cidr.rsplit(".", 1)[0]
        subnet = SubnetSpec(new_id(), cidr, f"{base}.1")
        dhcp = PortSpec(
            new_id(),
            _mac(),
            ((subnet.subnet_id, f"{base}.2"),),
            device_owner=DHCP_OWNER,
            device_id=f"dhcp-{network_id}",
            host=dhcp_host,
        )
        mtu = 1450 if vni is not None else 1500
        self.world.networks[network_id] = NetworkSpec(network_id, mtu, vni, (subnet,), (dhcp,))
        return network_id

    def port(
        self,
        network_id: str,
        ip: str,
        host: str,
        name: str,
        groups: tuple[str, ...] | None = None,
    ) -> PortSpec:
        """A guest's port; with `groups` it has port security and those security groups."""
        subnet = self.world.networks[network_id].subnets[0]
        instance = new_id()
        port = PortSpec(
            new_id(),
            _mac(),
            ((subnet.subnet_id, ip),),
            hostname=name,
            device_id=instance,
            device_owner="compute:nova",
            host=host,
            port_security=groups is not None,
            security_groups=groups or (),
        )
        self.world.add_port(network_id, port)
        self.world.instances[instance] = InstanceMetadata(
            uuid=instance,
            name=name,
            hostname=name,
            project_id="p" * 32,
            availability_zone="nova",
            launch_index=0,
            reservation_id="r-1",
            ec2_id=len(self.world.instances) + 1,
            flavor_name="m1.tiny",
            image_ref="img",
            user_data=f"#!/bin/sh\necho {name}\n".encode(),
        )
        return port

    async def boot(self, host: SimHost, network_id: str, port: PortSpec) -> Guest:
        return await asyncio.to_thread(self._boot, host, network_id, port)

    def _boot(self, host: SimHost, network_id: str, port: PortSpec) -> Guest:
        """A namespace guest plugged as a VM is: its veth on `host`, then DHCP."""
        ns = netns_guest.namespace(port.device_id, f"{self.prefix}-")
        state = self.tmp / "guests" / port.device_id
        mtu = self.world.networks[network_id].mtu
        nic = netns_guest.Nic("tap" + port.port_id[:11], port.mac, "", mtu)
        netns_guest.plug(ns, [nic], host.ns)
        netns_guest.start(ns, state, port.hostname, ["eth0"])
        guest = Guest(ns, state, port, host, network_id)
        self.guests.append(guest)
        return guest

    async def unplug(self, guest: Guest) -> None:
        await asyncio.to_thread(
            netns_guest.remove, guest.ns, guest.state, guest.host.ns, [guest.tap]
        )

    async def close(self) -> None:
        """Remove everything; each step runs even when an earlier one failed."""
        errors: list[BaseException] = []
        for host in self.hosts.values():
            if host.agent is not None:
                try:
                    await host.agent.stop(clean=True)
                except Exception as exc:
                    errors.append(exc)
        for guest in self.guests:
            try:
                await self.unplug(guest)
            except Exception as exc:
                errors.append(exc)
        for pid in dnsmasq_pids(self.tmp):
            os.kill(pid, signal.SIGKILL)
        for name in netns.names(self.prefix):
            netns.remove(name)
        if errors:
            raise errors[0]


def _mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


def dnsmasq_pids(under: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        is_dnsmasq = cmdline.startswith(b"/usr/sbin/dnsmasq") or b"dnsmasq\0" in cmdline[:40]
        if is_dnsmasq and str(under).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


async def lease(guest: Guest, timeout: float = 30.0) -> dict[str, object]:
    """The guest's DHCP lease once it has one."""
    async with asyncio.timeout(timeout):
        while (got := netns_guest.lease(guest.state)) is None:
            await asyncio.sleep(0.1)
    return got


def _tcp(ip: str, port: int) -> str:
    with socket.create_connection((ip, port), timeout=2.0) as conn:
        return conn.recv(256).decode().strip()


async def hostname_at(guest: Guest, ip: str, within: float = 10.0) -> str | None:
    """What the hostname service at `ip` answers from inside `guest`, trying for `within`
    seconds (a guest that just got its lease may still be resolving neighbours); None if
    nothing answered by then."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await asyncio.to_thread(
                netns.run_in, guest.ns, lambda: _tcp(ip, netns_guest.HOSTNAME_PORT)
            )
        except OSError:
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.2)


def _dns_a(server: str, name: str) -> list[str]:
    """The A records `server` answers for `name` (a minimal DNS client over UDP)."""
    query = secrets.token_bytes(2) + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    query += (
        b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3.0)
        sock.sendto(query, (server, 53))
        reply = sock.recv(512)
    answers, i = int.from_bytes(reply[6:8], "big"), len(query)
    out = []
    for _ in range(answers):
        i += 2 if reply[i] & 0xC0 == 0xC0 else len(name) + 2  # the name: a pointer here
        rtype, rdlength = (
            int.from_bytes(reply[i : i + 2], "big"),
            int.from_bytes(reply[i + 8 : i + 10], "big"),
        )
        if rtype == 1 and rdlength == 4:
            out.append(socket.inet_ntoa(reply[i + 10 : i + 14]))
        i += 10 + rdlength
    return out


async def resolve(guest: Guest, server: str, name: str) -> list[str]:
    """Ask the DNS server at `server` for `name`'s A records from inside `guest`."""
    return await asyncio.to_thread(netns.run_in, guest.ns, lambda: _dns_a(server, name))


def _get(path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("169.254.169.254", 80, timeout=5.0)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


async def metadata(ns: str, path: str) -> tuple[int, bytes]:
    """GET http://169.254.169.254`path` from inside namespace `ns`."""
    return await asyncio.to_thread(netns.run_in, ns, lambda: _get(path))


async def host_objects(lab: Lab, hosts: Iterable[SimHost]) -> dict[str, object]:
    """What the data plane left on the machine: namespaces, links per host, dnsmasq
    processes and agent files."""
    files = sorted(
        str(p.relative_to(lab.tmp))
        for h in hosts
        if h.state_dir.exists()
        for p in h.state_dir.rglob("*")
    )
    return {
        "namespaces": netns.names(lab.prefix),
        "links": {h.name: sorted(await h.links()) for h in hosts},
        "dnsmasq": dnsmasq_pids(lab.tmp),
        "files": files,
    }
