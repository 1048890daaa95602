"""Security groups on one simulated host (namespaces only; nothing touches the machine's own
interfaces):

1. rule added → enforced: the time from adding an ingress tcp rule to the desired state until
   a new connection through it succeeds (agent pass + first SYN), p50/p95 over N rules; and the
   agent pass alone (`sync_firewall`: derive, diff, one `nft -f -`).
2. TCP throughput between two namespace guests on one bridge, with port security off (the
   baseline, in the same run) and on (anti-spoofing + conntrack + a group with 20 rules).
3. floating IP associated → first connection through it from the outside namespace, p50
   (target < 200 ms): agent pass (router NAT re-made) + first SYN.

Run as root: .venv/bin/python bench/network_sg.py [rules] (default 20)
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.network import packets
from tests.e2e.network.dataplane import Lab, lease
from tests.e2e.network.test_routers import WHOAMI_PORT, Whoami, external, leg, outside

from ministack.network.agent.desired import RouterSpec, RuleSpec
from ministack.network.agent.linux import netns

EGRESS = (RuleSpec("egress", "IPv4"), RuleSpec("egress", "IPv6"))
SECONDS = 2.0
ROUNDS = 3


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def connects(ns: str, ip: str, port: int) -> bool:
    def go() -> bool:
        try:
            with socket.create_connection((ip, port), timeout=0.05):
                return True
        except OSError:
            return False

    return netns.run_in(ns, go)


def listen(ns: str, port: int) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(64)
        return sock

    return netns.run_in(ns, make)


def throughput(server_ns: str, client_ns: str, ip: str, port: int) -> float:
    """MB/s of one TCP stream for SECONDS."""
    server = listen(server_ns, port)
    got = [0]

    def sink() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(1 << 20):
                got[0] += len(data)

    thread = threading.Thread(target=sink)
    thread.start()
    conn = netns.run_in(client_ns, lambda: socket.create_connection((ip, port), timeout=5))
    chunk = b"\0" * (1 << 20)
    started = time.perf_counter()
    with conn:
        while time.perf_counter() - started < SECONDS:
            conn.sendall(chunk)
    thread.join()
    took = time.perf_counter() - started
    server.close()
    return got[0] / took / 1e6


async def floating(lab: Lab, h1: object, private: str, guest: object, n: int) -> list[float]:
    """Associate a floating IP with `guest` n times (a new address each) and time each until
    a connection from the outside namespace reaches the guest."""
    agent = lab.hosts["h1"].agent
    assert agent is not None
    ext = external(lab)
    router_id = "bench-router"
    inside = leg(lab, private, "10.210.0.1", "network:router_interface", router_id)
    gateway = leg(lab, ext, "172.24.4.10", "network:router_gateway", router_id)
    spec = RouterSpec(router_id, (inside,), gateway, "172.24.4.1", True, (), ())
    lab.world.routers[router_id] = spec
    await agent.sync()
    out_ns = await asyncio.to_thread(outside, lab, lab.hosts["h1"], ext)
    server = await asyncio.to_thread(Whoami, guest.ns)  # type: ignore[attr-defined]
    took = []
    try:
        for i in range(n):
            fip = f"172.24.4.{100 + 1 + i}"
            lab.world.routers[router_id] = RouterSpec(
                router_id,
                (inside,),
                gateway,
                "172.24.4.1",
                True,
                (),
                ((fip, guest.ip),),  # type: ignore[attr-defined]
            )
            started = time.perf_counter()
            await agent.sync_network(private)
            while not await asyncio.to_thread(connects, out_ns, fip, WHOAMI_PORT):
                pass
            took.append(time.perf_counter() - started)
    finally:
        await asyncio.to_thread(server.close)
    return took


async def main(rules: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp))
        try:
            await lab.start()
            h1 = await lab.host("h1")
            agent = lab.agent(h1)
            net = lab.network("10.210.0.0/24")
            client_sg, server_sg = "bench-client", "bench-server"
            for rule in EGRESS:
                lab.world.add_rule(client_sg, rule)
                lab.world.add_rule(server_sg, rule)
            guests = [
                await lab.boot(h1, net, lab.port(net, "10.210.0.11", "h1", "c", (client_sg,))),
                await lab.boot(h1, net, lab.port(net, "10.210.0.12", "h1", "s", (server_sg,))),
                await lab.boot(h1, net, lab.port(net, "10.210.0.21", "h1", "pc")),
                await lab.boot(h1, net, lab.port(net, "10.210.0.22", "h1", "ps")),
            ]
            client, server, plain_client, plain_server = guests
            await agent.start()
            for guest in guests:
                await lease(guest)
            listeners = [await asyncio.to_thread(listen, server.ns, 9000 + i) for i in range(rules)]
            enforced, passes = [], []
            for i in range(rules):
                lab.world.add_rule(
                    server_sg, RuleSpec("ingress", "IPv4", "tcp", 9000 + i, 9000 + i)
                )
                started = time.perf_counter()
                await agent.sync_firewall()
                passes.append(time.perf_counter() - started)
                while not await asyncio.to_thread(connects, client.ns, server.ip, 9000 + i):
                    pass
                enforced.append(time.perf_counter() - started)
            for sock in listeners:
                sock.close()
            lab.world.add_rule(server_sg, RuleSpec("ingress", "IPv4", "tcp", 5201, 5201))
            await agent.sync_firewall()
            plains, filtereds = [], []
            for round_ in range(ROUNDS):  # alternated: the machine's load hits both alike
                plains.append(
                    await asyncio.to_thread(
                        throughput, plain_server.ns, plain_client.ns, plain_server.ip, 5300 + round_
                    )
                )
                filtereds.append(
                    await asyncio.to_thread(throughput, server.ns, client.ns, server.ip, 5201)
                )
            plain, filtered = statistics.median(plains), statistics.median(filtereds)
            fip_times = await floating(lab, h1, net, plain_server, rules)
            count = packets.ruleset(h1.ns).count("accept")
            print(
                f"rule added -> enforced ({rules} rules): p50 {pct(enforced, 0.5):.1f} ms, "
                f"p95 {pct(enforced, 0.95):.1f} ms"
            )
            print(
                f"agent pass (sync_firewall) alone: p50 {pct(passes, 0.5):.1f} ms, "
                f"mean {statistics.mean(passes) * 1000:.1f} ms"
            )
            print(f"accept rules in the host's ruleset: {count}")
            print(f"TCP throughput, port security off (baseline, median): {plain:.0f} MB/s")
            print(
                f"TCP throughput, port security on ({rules + 3} rules): {filtered:.0f} MB/s "
                f"(ratio {filtered / plain:.2f})"
            )
            print(
                f"floating IP associated -> first connection from outside ({rules} FIPs): "
                f"p50 {pct(fip_times, 0.5):.1f} ms, p95 {pct(fip_times, 0.95):.1f} ms"
            )
        finally:
            await lab.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
