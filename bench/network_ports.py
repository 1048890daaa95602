"""Port creates through the Networking API with 16 concurrent clients (ports/s), against a
baseline measured in the same run: GET of one port by the same 16 clients (the cost of a
request that reads: token check, routing, one query, rendering). Target: >= 200 ports/s.

Every created port claims an address through IPAM (the unique (subnet, address) row), a MAC,
the project's quota lock and its default security group binding, in one write transaction.

Run: .venv/bin/python bench/network_ports.py [ports] [backend] [--baseline REV] [--rounds N]
(default 1000 sqlite). With --baseline, the same figures are measured in the same run, round by
round, for the code of git revision REV (its src/ extracted with git archive and put first on
PYTHONPATH), so the machine's load hits both alike.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import admin_token, running_cloud

REPO = Path(__file__).resolve().parent.parent
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


def measure(tmp: Path, ports: int, backend: str, env: dict[str, str]) -> tuple[Result, Result]:
    with running_cloud(tmp, backend=backend, services=SERVICES, extra_env=env) as cloud:
        token = admin_token(cloud.auth_url)
        project = str(cloud.connect().current_project_id)
        assert cloud.proc is not None
        pid = cloud.proc.pid
        return asyncio.run(bench(cloud.url("network"), token, project, ports, pid))


def extract(rev: str, into: Path) -> Path:
    """The src/ tree of git revision `rev`, extracted under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> None:
    args = sys.argv[1:]
    baseline = args[args.index("--baseline") + 1] if "--baseline" in args else ""
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 1
    plain = [a for a in args if not a.startswith("--") and a not in (baseline, str(rounds))]
    ports = int(plain[0]) if plain else 1000
    backend = plain[1] if len(plain) > 1 else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        variants = {"current": {"PYTHONPATH": str(REPO / "src")}}
        if baseline:
            old = {"PYTHONPATH": str(extract(baseline, Path(tmp) / "base"))}
            variants = {f"baseline {baseline}": old, **variants}
        print(f"{backend}, {CLIENTS} clients, {ports} requests each run")
        print("round  code              load1   GET req/s  GET cpu/req   create/s  create cpu/port")
        for round_ in range(rounds):
            for n, (name, env) in enumerate(variants.items()):
                load = os.getloadavg()[0]
                run = Path(tmp) / f"run-{round_}-{n}"
                run.mkdir()
                got, created = measure(run, ports, backend, env)
                print(
                    f"{round_ + 1:5d}  {name:16s} {load:6.1f} {got.rate:10.1f} {got.cpu_ms:9.2f}ms "
                    f"{created.rate:10.1f} {created.cpu_ms:13.2f}ms",
                    flush=True,
                )
    print("target: port create >= 200 ports/s; every run checks no address was handed out twice")


if __name__ == "__main__":
    main()
