"""dnsmasq: DHCP and DNS of one network, inside its `qdhcp-<network id>` namespace.

One process per network with DHCP on this host, started detached (it outlives an agent restart,
which finds it again by its pid file). Its files live in `<state>/dhcp/<network id>/`: the hosts
list (one line per port: MAC, address, hostname, so only known ports get an address), the DNS
names of the network's ports, the options per subnet (router, DNS servers, classless routes
including 169.254.169.254 via the DHCP port) with each port's extra DHCP options (its hosts line
sets the tag `port-<id>`, its options match it) and the leases. A change of ports or options is a
SIGHUP (dnsmasq re-reads those files); a change of the command line (subnets, MTU) a restart.
IPv6 subnets with an RA mode (SLAAC, DHCPv6-stateless) are advertised by the same process
(`--enable-ra`): guests make their EUI-64 address, the one IPAM gave the port.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ministack.network.agent.desired import METADATA_IP, NetworkSpec, PortSpec, SubnetSpec
from ministack.network.agent.linux import netns
from ministack.network.dhcp_options import dnsmasq_option

LEASE_SECONDS = 86400
START_TIMEOUT = 10.0
RA_INTERVAL = 10
"""Seconds between unsolicited router advertisements (a guest's solicitation is answered
at once)."""


def dnsmasq_binary() -> str | None:
    found = shutil.which("dnsmasq")
    return found or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else None)


def alive(pid: int) -> bool:
    """True while process `pid` runs (a zombie does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def subnet_tag(subnet: SubnetSpec) -> str:
    return "subnet-" + subnet.subnet_id


def port_tag(port: PortSpec) -> str:
    """The tag a port's hosts line sets and its extra DHCP options match."""
    return "port-" + port.port_id


def port_hostname(port: PortSpec, ip: str) -> str:
    """The port's DNS label: its hostname, else Neutron's `host-10-0-0-5`."""
    return port.hostname or "host-" + ip.replace(".", "-").replace(":", "-")


@dataclass(frozen=True)
class Files:
    """The contents dnsmasq reads (compared with what is on disk to decide on a reload)."""

    hosts: str
    addn_hosts: str
    opts: str


def render(net: NetworkSpec, dhcp_ips: dict[str, str]) -> Files:
    """The hosts, names and options files for `net`; `dhcp_ips` maps subnet id → DHCP port IP."""
    dhcp_subnets = {s.subnet_id: s for s in net.dhcp_subnets()}
    hosts, names = [], []
    for port in sorted(net.ports, key=lambda p: p.port_id):
        for subnet_id, ip in port.fixed_ips:
            if subnet_id not in dhcp_subnets:
                continue
            name = port_hostname(port, ip)
            if port != net.dhcp_port:
                tag = f"set:{port_tag(port)}," if port.dhcp_opts else ""
                hosts.append(f"{port.mac.lower()},{tag}{ip},{name}")
            names.append(f"{ip}\t{name}.{net.dns_domain} {name}")
    opts = []
    for subnet in dhcp_subnets.values():
        opts += _subnet_options(subnet, dhcp_ips.get(subnet.subnet_id))
    for port in sorted(net.ports, key=lambda p: p.port_id):
        opts += [
            f"tag:{port_tag(port)},{dnsmasq_option(name, value, version)}"
            for version, name, value in port.dhcp_opts
        ]
    return Files("\n".join(hosts) + "\n", "\n".join(names) + "\n", "\n".join(opts) + "\n")


def _subnet_options(subnet: SubnetSpec, dhcp_ip: str | None) -> list[str]:
    tag = "tag:" + subnet_tag(subnet)
    dns = ",".join(subnet.dns_nameservers) or dhcp_ip or ""
    routes: list[str] = []
    if dhcp_ip:
        routes += [f"{METADATA_IP}/32", dhcp_ip]
    for dest, nexthop in subnet.host_routes:
        routes += [dest, nexthop]
    if subnet.gateway_ip:
        routes += ["0.0.0.0/0", subnet.gateway_ip]
    out = [f"{tag},option:router" + (f",{subnet.gateway_ip}" if subnet.gateway_ip else "")]
    if dns:
        out.append(f"{tag},option:dns-server,{dns}")
    if routes:
        out.append(f"{tag},option:classless-static-route," + ",".join(routes))
    return out


class Dnsmasq:
    """The dnsmasq of one network; every method is idempotent and blocking (run it in the
    reconciler's thread)."""

    def __init__(self, state_dir: Path, network_id: str, namespace: str, interface: str) -> None:
        self.dir = state_dir / network_id
        self.network_id = network_id
        self.namespace = namespace
        self.interface = interface

    def argv(self, net: NetworkSpec) -> list[str]:
        d = self.dir
        args = [
            dnsmasq_binary() or "dnsmasq",
            "--no-hosts",
            "--no-resolv",
            "--conf-file=/dev/null",
            f"--pid-file={d / 'pid'}",
            f"--dhcp-hostsfile={d / 'host'}",
            f"--addn-hosts={d / 'addn_hosts'}",
            f"--dhcp-optsfile={d / 'opts'}",
            f"--dhcp-leasefile={d / 'leases'}",
            "--bind-interfaces",
            f"--interface={self.interface}",
            "--except-interface=lo",
            f"--domain={net.dns_domain}",
            f"--local=/{net.dns_domain}/",
            "--dhcp-authoritative",
            "--user=root",
            "--group=root",
            f"--dhcp-option-force=option:mtu,{net.mtu}",
        ]
        # as many leases as the subnets have addresses: a port change is then only a SIGHUP
        size = sum(
            ipaddress.ip_network(s.cidr, strict=False).num_addresses for s in net.dhcp_subnets()
        )
        args.append(f"--dhcp-lease-max={max(size, 16)}")
        for subnet in net.dhcp_subnets():
            cidr = ipaddress.ip_network(subnet.cidr, strict=False)
            args.append(
                f"--dhcp-range=set:{subnet_tag(subnet)},{cidr.network_address},static,"
                f"{cidr.netmask},{LEASE_SECONDS}s"
            )
        return args + self._ra_args(net)

    def _ra_args(self, net: NetworkSpec) -> list[str]:
        """Router advertisements of the IPv6 subnets with an RA mode: the prefix for SLAAC
        (`ra-only`: A flag) or SLAAC plus stateless DHCPv6 for the other options
        (`ra-stateless`: A and O flags); router lifetime 0, as the DHCP port routes nothing."""
        subnets = net.ra_subnets()
        if not subnets:
            return []
        args = ["--enable-ra", f"--ra-param={self.interface},{RA_INTERVAL},0"]
        for subnet in subnets:
            cidr = ipaddress.ip_network(subnet.cidr, strict=False)
            mode = "ra-stateless" if subnet.ipv6_ra_mode == "dhcpv6-stateless" else "ra-only"
            args.append(
                f"--dhcp-range=set:{subnet_tag(subnet)},{cidr.network_address},{mode},"
                f"{cidr.prefixlen},{LEASE_SECONDS}s"
            )
        return args

    def pid(self) -> int | None:
        """The pid of this network's running dnsmasq, or None."""
        try:
            pid = int((self.dir / "pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        if not alive(pid):
            return None
        return pid if str(self.dir).encode() in cmdline and b"dnsmasq" in cmdline else None

    def addresses(self) -> set[tuple[str, int]]:
        """The addresses last given to the DHCP device (recorded with the files)."""
        try:
            lines = (self.dir / "addresses").read_text().split()
        except FileNotFoundError:
            return set()
        return {(ip, int(plen)) for ip, _, plen in (line.partition("/") for line in lines)}

    def record_addresses(self, wanted: set[tuple[str, int]], tap: str) -> None:
        """Remember the DHCP device's addresses and the host end of its veth (`tap`)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write("addresses", "\n".join(f"{ip}/{plen}" for ip, plen in sorted(wanted)))
        self._write("tap", tap)

    def recorded_tap(self) -> str:
        try:
            return (self.dir / "tap").read_text().strip()
        except FileNotFoundError:
            return ""

    def ensure(self, net: NetworkSpec, dhcp_ips: dict[str, str]) -> str:
        """Write the files and make dnsmasq serve them: 'started', 'reloaded' or 'unchanged'."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        files = render(net, dhcp_ips)
        changed = self._write("host", files.hosts)
        changed |= self._write("addn_hosts", files.addn_hosts)
        changed |= self._write("opts", files.opts)
        argv = self.argv(net)
        argv_changed = self._write("argv", "\0".join(argv))
        pid = self.pid()
        if pid is not None and not argv_changed:
            if changed:
                os.kill(pid, signal.SIGHUP)
                return "reloaded"
            return "unchanged"
        if pid is not None:
            self._kill(pid)
        self._start(argv)
        return "started"

    def _write(self, name: str, text: str) -> bool:
        path = self.dir / name
        try:
            if path.read_text() == text:
                return False
        except FileNotFoundError:
            pass
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        return True

    def _start(self, argv: list[str]) -> None:
        # dnsmasq forks into the background once its sockets are bound: its exit means ready.
        proc = subprocess.run(
            argv,
            preexec_fn=netns.preexec(self.namespace),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=START_TIMEOUT,
            check=False,
        )
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"dnsmasq for network {self.network_id} failed: {message}")

    def _kill(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.01)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Stop the process and delete its files. Succeeds when nothing is left."""
        pid = self.pid()
        if pid is not None:
            self._kill(pid)
        shutil.rmtree(self.dir, ignore_errors=True)
