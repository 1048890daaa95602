"""Benchmark: blank volume creates through the API with 16 clients (POST /volumes, then poll
until available), volumes per second. Baseline in the same run: GET /volumes/detail with the
same 16 clients (HTTP, auth and a DB read, no write), requests per second.
Usage: python bench/volume_create_rate.py [volumes] (default 160).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.volume_common import client, delete_all, wait
from tests.cloud import running_cloud

CLIENTS = 16


def run(base: Path, count: int) -> None:
    with running_cloud(base / "cloud", services=("identity", "image", "volume")) as cloud:
        clients = [client(cloud) for _ in range(CLIENTS)]

        def reads(i: int) -> None:
            for _ in range(count // CLIENTS):
                clients[i].get("/volumes/detail", params={"limit": 10}).raise_for_status()

        def creates(i: int) -> None:
            made = []
            for _ in range(count // CLIENTS):
                resp = clients[i].post("/volumes", json={"volume": {"size": 1}})
                resp.raise_for_status()
                made.append(resp.json()["volume"]["id"])
            for vol_id in made:
                wait(clients[i], "volumes", vol_id)

        with ThreadPoolExecutor(CLIENTS) as pool:
            started = time.perf_counter()
            list(pool.map(reads, range(CLIENTS)))
            read_rate = count / (time.perf_counter() - started)
            started = time.perf_counter()
            list(pool.map(creates, range(CLIENTS)))
            create_rate = count / (time.perf_counter() - started)
        print(
            f"{CLIENTS} clients: GET /volumes/detail {read_rate:.0f}/s; blank volume create "
            f"until available {create_rate:.1f} volumes/s ({count} volumes)"
        )
        delete_all(clients[0])


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-volume-", dir="/var/tmp"))
    try:
        run(base, int(sys.argv[1] if len(sys.argv) > 1 else 160))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
