"""The network agent's data plane on one simulated host (a namespace; nothing touches the
machine's own interfaces):

1. port bound → tap in its bridge and the port's DHCP entry live (hosts file written, dnsmasq
   re-read it): p50/p95 over N ports, against the bare netlink call that enslaves a veth to a
   bridge, measured in the same run (the floor any data plane pays). Target p50 < 100 ms.
2. 100 networks with DHCP (VXLAN, one port each) on one host: time to create them all, the
   resident memory of the agent's process plus its dnsmasqs (target < 200 MB in all), and the
   time a restarted agent takes to re-sync them (target < 10 s).

Run as root: .venv/bin/python bench/network_dataplane.py [ports] [networks] (default 40 100)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyroute2 import IPRoute
from tests.e2e.network.dataplane import Lab, dnsmasq_pids

from ministack.compute.virt import netns_guest
from ministack.network.agent.linux.dnsmasq import Dnsmasq


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (libc, the dnsmasq binary) counted once in all."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bare_enslave(ns: str, n: int) -> list[float]:
    """Seconds to add a veth to a bridge with one netlink call each (the baseline)."""
    out = []
    with IPRoute(netns=ns) as ipr:
        ipr.link("add", ifname="benchbr", kind="bridge")
        br = ipr.link_lookup(ifname="benchbr")[0]
        for i in range(n):
            ipr.link("add", ifname=f"bv{i}", kind="veth", peer=f"bp{i}")
            index = ipr.link_lookup(ifname=f"bv{i}")[0]
            started = time.perf_counter()
            ipr.link("set", index=index, master=br, state="up")
            out.append(time.perf_counter() - started)
        for i in range(n):
            ipr.link("del", index=ipr.link_lookup(ifname=f"bv{i}")[0])
        ipr.link("del", index=br)
    return out


async def port_to_ready(lab: Lab, ports: int) -> list[float]:
    h1 = lab.hosts["h1"]
    agent = h1.agent
    assert agent is not None
    net = lab.network("10.200.0.0/24", vni=200)
    await agent.sync_network(net)
    hosts_file = Dnsmasq(h1.state_dir / "dhcp", net, "", "").dir / "host"
    took = []
    for i in range(ports):
        port = lab.port(net, f"10.200.0.{10 + i}", "h1", f"bench{i}")
        ns = netns_guest.namespace(port.device_id, f"{lab.prefix}-")
        nic = netns_guest.Nic("tap" + port.port_id[:11], port.mac)
        await asyncio.to_thread(netns_guest.plug, ns, [nic], h1.ns)  # the hypervisor's part
        started = time.perf_counter()
        outcome = await agent.sync_network(net)  # what a port_changed message runs
        took.append(time.perf_counter() - started)
        assert outcome.wired[port.port_id], outcome
        assert port.mac in hosts_file.read_text() and outcome.dhcp[net] == "reloaded", (i, outcome)
        await asyncio.to_thread(netns_guest.remove, ns, Path("/nonexistent"), h1.ns, [nic.tap])
        await asyncio.sleep(0.3)  # the unplug's link events re-sync the network: let them
    return took


async def many_networks(lab: Lab, count: int) -> tuple[float, dict[str, float], float]:
    """(seconds to create, memory figures in MB, seconds to re-sync after restart)."""
    h1 = lab.hosts["h1"]
    for i in range(count):
        net = lab.network(f"10.{201 + i // 200}.{i % 200}.0/24", vni=1000 + i)
        lab.port(net, f"10.{201 + i // 200}.{i % 200}.10", "h1", f"m{i}")
    agent = h1.agent
    assert agent is not None
    started = time.perf_counter()
    await agent.sync()
    created = time.perf_counter() - started
    await asyncio.sleep(1.0)
    me, servers = os.getpid(), dnsmasq_pids(lab.tmp)
    memory = {
        "agent_rss": rss_mb(me),
        "agent_pss": pss_mb(me),
        "dnsmasq_rss": sum(rss_mb(pid) for pid in servers),
        "dnsmasq_pss": sum(pss_mb(pid) for pid in servers),
        "dnsmasq_count": float(len(servers)),
    }
    await agent.stop()
    restarted = lab.agent(h1)
    started = time.perf_counter()
    await restarted.start()
    resync = time.perf_counter() - started
    return created, memory, resync


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


async def main() -> None:
    ports = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    networks = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp))
        await lab.start()
        try:
            h1 = await lab.host("h1")
            agent = lab.agent(h1)
            await agent.start()
            base = await asyncio.to_thread(bare_enslave, h1.ns, ports)
            ready = await port_to_ready(lab, ports)
            print(f"bare netlink enslave (baseline): p50 {pct(base, 0.5):6.2f} ms")
            print(
                f"port bound -> tap in bridge + DHCP entry live: p50 {pct(ready, 0.5):6.2f} ms, "
                f"p95 {pct(ready, 0.95):6.2f} ms, mean {statistics.mean(ready) * 1000:6.2f} ms "
                f"({ports} ports; target p50 < 100 ms)"
            )
            created, mem, resync = await many_networks(lab, networks)
            print(f"{networks} networks with DHCP created in {created:5.2f} s")
            count = int(mem["dnsmasq_count"])
            for kind in ("pss", "rss"):
                agent_mb, dns_mb = mem[f"agent_{kind}"], mem[f"dnsmasq_{kind}"]
                print(
                    f"memory ({kind.upper()}): agent process {agent_mb:5.1f} MB + {count} dnsmasq "
                    f"{dns_mb:5.1f} MB = {agent_mb + dns_mb:5.1f} MB (target < 200 MB)"
                )
            print(f"agent restart -> re-synced in {resync:5.2f} s (target < 10 s)")
        finally:
            await lab.close()


if __name__ == "__main__":
    asyncio.run(main())
