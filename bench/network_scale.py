"""Routers, floating IPs and security groups at the issue's scale on one simulated host
(namespaces only; nothing touches the machine's own interfaces): 50 routers, each with a
private network and 10 floating IPs (500), 100 security groups of 20 ingress rules, the 500
ports spread over them.

Figures:
1. build: the agent's first full pass making all of it (bridges, 50 dnsmasq, 50 router
   namespaces with their NAT, the host's filter tables);
2. re-sync after an agent restart (data plane left in place, nothing to change);
3. nftables size: rules and sets (elements) in the host's tables and in the routers';
4. TCP throughput between two namespace guests on two networks of one router, both ports
   filtered by groups of 20 rules, against two plain namespaces on one plain bridge (the
   baseline, in its own namespace, same run; alternated rounds, medians; target ratio >= 0.8);
5. floating IP associated -> first connection from the outside namespace with all of the
   above loaded, p50 (target < 200 ms).

Run as root: .venv/bin/python bench/network_scale.py [routers] [fips_per_router] [groups] [rules]
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.network_sg import connects, listen, pct, throughput
from pyroute2 import IPRoute
from tests.e2e.network.dataplane import Lab, lease, new_id
from tests.e2e.network.test_routers import leg, outside

from ministack.network.agent.desired import NetworkSpec, RouterSpec, RuleSpec, SubnetSpec
from ministack.network.agent.linux import netns

EXTERNAL = "172.24.0.0/20"  # room for 50 gateways and 500 floating IPs, inside the lab only
EGRESS = (RuleSpec("egress", "IPv4"), RuleSpec("egress", "IPv6"))
ROUNDS = 5
BASE_PORT = 5201  # group g's rules open BASE_PORT + 20 g ... + 20 g + 19


def nft_counts(ns: str) -> tuple[int, int, int]:
    """(rules, sets and maps, their elements) of namespace `ns`'s whole ruleset."""
    done = subprocess.run(
        ["nft", "-j", "list", "ruleset"],
        capture_output=True,
        text=True,
        preexec_fn=netns.preexec(ns),
        check=True,
    )
    items = json.loads(done.stdout)["nftables"]
    rules = sum(1 for i in items if "rule" in i)
    sets = [i.get("set") or i["map"] for i in items if "set" in i or "map" in i]
    return rules, len(sets), sum(len(s.get("elem", [])) for s in sets)


def external(lab: Lab) -> str:
    net_id = new_id()
    subnet = SubnetSpec(new_id(), EXTERNAL, "172.24.0.1", enable_dhcp=False)
    lab.world.networks[net_id] = NetworkSpec(net_id, 1500, None, (subnet,), external=True)
    return net_id


def ext_ip(index: int) -> str:
    return f"172.24.{1 + index // 250}.{1 + index % 250}"


def plain_pair(prefix: str) -> tuple[str, str]:
    """Two namespaces joined by one plain bridge in a third (the baseline): 10.99.0.1 and .2."""
    br_ns, a, b = f"{prefix}pbr", f"{prefix}pa", f"{prefix}pb"
    for ns in (br_ns, a, b):
        netns.ensure(ns)
    with IPRoute(netns=br_ns) as ipr:
        ipr.link("add", ifname="br0", kind="bridge")
        br = ipr.link_lookup(ifname="br0")[0]
        ipr.link("set", index=br, state="up")
        for name, ns in (("va", a), ("vb", b)):
            ipr.link("add", ifname=name, kind="veth", peer={"ifname": "eth0", "net_ns_fd": ns})
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], master=br, state="up")
    for ns, ip in ((a, "10.99.0.1"), (b, "10.99.0.2")):
        with IPRoute(netns=ns) as ipr:
            eth0 = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=eth0, address=ip, prefixlen=24)
            ipr.link("set", index=eth0, state="up")
    return a, b


def build_world(lab: Lab, routers: int, per_router: int, groups: int, rules: int) -> dict:  # type: ignore[type-arg]
    """The desired state: groups, routers with their networks, ports and floating IPs."""
    for g in range(groups):
        group = f"sg-{g}"
        for rule in EGRESS:
            lab.world.add_rule(group, rule)
        for r in range(rules):
            port = BASE_PORT + rules * g + r
            lab.world.add_rule(group, RuleSpec("ingress", "IPv4", "tcp", port, port))
    ext = external(lab)
    nets, specs = [], {}
    for r in range(routers):
        net = lab.network(f"10.200.{r}.0/24")
        nets.append(net)
        router_id = f"router-{r}"
        inside = leg(lab, net, f"10.200.{r}.1", "network:router_interface", router_id)
        gateway = leg(lab, ext, ext_ip(r), "network:router_gateway", router_id)
        floating = []
        for i in range(per_router):
            fixed = f"10.200.{r}.{10 + i}"
            group = f"sg-{(r * per_router + i) % groups}"
            lab.port(net, fixed, "h1", f"vm-{r}-{i}", (group,))
            floating.append((ext_ip(routers + r * per_router + i), fixed))
        specs[router_id] = RouterSpec(
            router_id, (inside,), gateway, "172.24.0.1", True, (), tuple(floating)
        )
    # router 0 gets a second network: the throughput pair crosses the router between them
    second = lab.network("10.201.0.0/24")
    extra = leg(lab, second, "10.201.0.1", "network:router_interface", "router-0")
    specs["router-0"] = dataclasses.replace(
        specs["router-0"], interfaces=(*specs["router-0"].interfaces, extra)
    )
    lab.world.routers.update(specs)
    return {"ext": ext, "nets": nets, "second": second, "index": routers * (1 + per_router)}


def outside_wide(lab: Lab, ext: str) -> str:
    """The outside namespace (172.24.4.100/24) with the whole external range on its link."""
    ns = outside(lab, lab.hosts["h1"], ext)
    with IPRoute(netns=ns) as ipr:
        ipr.route("add", dst=EXTERNAL, oif=ipr.link_lookup(ifname="eth0")[0])
    return ns


async def fip_first_packet(
    lab: Lab,
    world: dict,  # type: ignore[type-arg]
    guest: object,
    n: int,
) -> tuple[list[float], list[float]]:
    """Associate n more floating IPs with `guest` on router 0 (one at a time), timing each
    from the change to a connection from the outside namespace reaching the guest."""
    agent = lab.hosts["h1"].agent
    assert agent is not None
    out_ns = await asyncio.to_thread(outside_wide, lab, world["ext"])
    port = BASE_PORT + 1  # opened by the guest's group (sg-0)
    server = await asyncio.to_thread(listen, guest.ns, port)  # type: ignore[attr-defined]
    took, passes = [], []
    try:
        for i in range(n):
            fip = ext_ip(world["index"] + i)
            spec = lab.world.routers["router-0"]
            pairs = (*spec.floating, (fip, guest.ip))  # type: ignore[attr-defined]
            lab.world.routers["router-0"] = dataclasses.replace(spec, floating=pairs)
            started = time.perf_counter()
            await agent.sync_network(world["nets"][0])
            passes.append(time.perf_counter() - started)
            while not await asyncio.to_thread(connects, out_ns, fip, port):
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"floating IP {fip} not reachable within 30 s")
            took.append(time.perf_counter() - started)
    finally:
        server.close()
    return took, passes


def counts(lab: Lab, host_ns: str) -> str:
    host = nft_counts(host_ns)
    routers = [nft_counts(ns) for ns in netns.names(lab.prefix) if "qrouter-" in ns]
    r_rules = sum(c[0] for c in routers)
    r_sets = sum(c[1] for c in routers)
    r_elems = sum(c[2] for c in routers)
    return (
        f"nftables: host {host[0]} rules, {host[1]} sets/maps ({host[2]} elements); "
        f"{len(routers)} routers {r_rules} rules, {r_sets} sets/maps ({r_elems} elements)"
    )


async def main(routers: int, per_router: int, groups: int, rules: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp))
        try:
            await lab.start()
            h1 = await lab.host("h1")
            world = build_world(lab, routers, per_router, groups, rules)
            client_port = lab.port(world["nets"][0], "10.200.0.250", "h1", "c", ("sg-0",))
            server_port = lab.port(world["second"], "10.201.0.250", "h1", "s", ("sg-0",))
            client = await lab.boot(h1, world["nets"][0], client_port)
            server = await lab.boot(h1, world["second"], server_port)
            agent = lab.agent(h1)
            started = time.perf_counter()
            await agent.start()
            build = time.perf_counter() - started
            await lease(client, timeout=120)
            await lease(server, timeout=120)
            sizes = await asyncio.to_thread(counts, lab, h1.ns)

            await agent.stop()  # a restart: the data plane stays
            agent = lab.agent(h1)
            started = time.perf_counter()
            await agent.start()
            resync = time.perf_counter() - started

            plain_a, plain_b = await asyncio.to_thread(plain_pair, lab.prefix)
            plains, routed = [], []
            for round_ in range(ROUNDS):  # alternated: the machine's load hits both alike
                plains.append(
                    await asyncio.to_thread(
                        throughput, plain_b, plain_a, "10.99.0.2", 5300 + round_
                    )
                )
                routed.append(
                    await asyncio.to_thread(throughput, server.ns, client.ns, server.ip, BASE_PORT)
                )
            plain, through = statistics.median(plains), statistics.median(routed)
            fips, passes = await fip_first_packet(lab, world, server, 20)
            total_rules = groups * rules
            print(f"load average: {os.getloadavg()[0]:.1f}")
            print(
                f"scale: {routers} routers, {routers * per_router} floating IPs, "
                f"{groups} groups x {rules} rules ({total_rules} rules), "
                f"{routers * per_router + 2} filtered ports"
            )
            print(f"build (agent's first full pass): {build:.1f} s")
            print(f"re-sync after an agent restart (nothing to change): {resync:.1f} s")
            print(sizes)
            print(
                f"TCP throughput, two plain namespaces on one bridge (baseline): {plain:.0f} MB/s"
            )
            print(
                f"TCP throughput, two guests through a router, groups of {rules} rules loaded: "
                f"{through:.0f} MB/s (ratio {through / plain:.2f})"
            )
            print(
                f"floating IP associated -> first connection from outside (20, at scale): "
                f"p50 {pct(fips, 0.5):.1f} ms, p95 {pct(fips, 0.95):.1f} ms"
            )
            print(f"  of which the agent's one-network pass: p50 {pct(passes, 0.5):.1f} ms")
        finally:
            await lab.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]] + [50, 10, 100, 20][len(sys.argv) - 1 :]
    asyncio.run(main(*args[:4]))
