"""Port creates through the Networking API with 16 concurrent clients (ports/s), against a
baseline measured in the same run: GET of one port by the same 16 clients (the cost of a
request that reads: token check, routing, one query, rendering). Target: >= 200 ports/s.

Every created port claims an address through IPAM (the unique (subnet, address) row), a MAC,
the project's quota lock and its default security group binding, in one write transaction.

Run: .venv/bin/python bench/network_ports.py [ports] [backend] (default 1000 sqlite)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import admin_token, running_cloud

CLIENTS = 16
SERVICES = ("identity", "network")


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


async def bench(url: str, token: str, project: str, ports: int) -> tuple[float, float]:
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
        baseline = await _run(ports, CLIENTS, get)
        created = await _run(ports, CLIENTS, create)
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
        baseline, created = asyncio.run(bench(cloud.url("network"), token, project, ports))
    print(f"{backend}, {CLIENTS} clients, {ports} requests each run")
    print(f"GET one port (baseline):  {baseline:7.1f} req/s")
    print(
        f"port create:              {created:7.1f} ports/s (target >= 200/s); "
        f"{created / baseline:.2f} of the baseline rate; no address twice"
    )


if __name__ == "__main__":
    main()
