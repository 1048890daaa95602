"""Port creates through the Networking API with 16 concurrent clients (ports/s), against a
baseline measured in the same run: GET of one port by the same 16 clients (the cost of a
request that reads: token check, routing, one query, rendering). Target: >= 200 ports/s.

Every created port claims an address through IPAM (the unique (subnet, address) row), a MAC,
the project's quota lock and its default security group binding, in one write transaction.

Run: .venv/bin/python bench/network_ports.py [ports] [backend] (default 1000 sqlite)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import admin_token, running_cloud

CLIENTS = 16
SERVICES = ("identity", "network")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _run(n: int, clients: int, send: object) -> float:
    """Requests per second of `n` requests made by `clients` concurrent workers."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await send(i)  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return n / (time.perf_counter() - started)


@dataclass
class Result:
    rate: float
    cpu_ms: float
    """Server CPU per request (ms): the rate one free core could sustain is 1000 / cpu_ms."""


async def measured(pid: int, n: int, send: object) -> Result:
    before = cpu_seconds(pid)
    rate = await _run(n, CLIENTS, send)
    return Result(rate, (cpu_seconds(pid) - before) * 1000 / n)


async def bench(url: str, token: str, project: str, ports: int, pid: int) -> tuple[Result, Result]:
    headers = {"X-Auth-Token": token}
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as c:
        await c.put(f"/v2.0/quotas/{project}", json={"quota": {"port": -1, "network": -1}})
        net = (await c.post("/v2.0/networks", json={"network": {"name": "bench"}})).json()
        net_id = net["network"]["id"]
        body = {"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.128.0.0/16"}}
        assert (await c.post("/v2.0/subnets", json=body)).status_code == 201
        first = await c.post("/v2.0/ports", json={"port": {"network_id": net_id}})
        port_id = first.json()["port"]["id"]

        async def get(_i: int) -> None:
            resp = await c.get(f"/v2.0/ports/{port_id}")
            assert resp.status_code == 200, resp.text

        async def create(i: int) -> None:
            resp = await c.post(
                "/v2.0/ports", json={"port": {"network_id": net_id, "name": f"b{i}"}}
            )
            assert resp.status_code == 201, resp.text

        await _run(100, CLIENTS, get)  # warm up
        baseline = await measured(pid, ports, get)
        created = await measured(pid, ports, create)
        listed = (
            await c.get("/v2.0/ports", params={"network_id": net_id, "fields": "fixed_ips"})
        ).json()
        addresses = [p["fixed_ips"][0]["ip_address"] for p in listed["ports"]]
        assert len(addresses) == len(set(addresses)) == ports + 1
        return baseline, created


def main() -> None:
    ports = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_cloud(Path(tmp), backend=backend, services=SERVICES) as cloud,
    ):
        token = admin_token(cloud.auth_url)
        project = str(cloud.connect().current_project_id)
        assert cloud.proc is not None
        pid = cloud.proc.pid
        baseline, created = asyncio.run(bench(cloud.url("network"), token, project, ports, pid))
    print(f"{backend}, {CLIENTS} clients, {ports} requests each run")
    print(
        f"GET one port (baseline):  {baseline.rate:7.1f} req/s, server CPU "
        f"{baseline.cpu_ms:5.2f} ms/request"
    )
    print(
        f"port create:              {created.rate:7.1f} ports/s (target >= 200/s), server CPU "
        f"{created.cpu_ms:5.2f} ms/port; {created.rate / baseline.rate:.2f} of the baseline "
        "rate; no address twice"
    )


if __name__ == "__main__":
    main()
