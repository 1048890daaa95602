"""Resident memory of the all-in-one process (identity, image, compute) with 1,000 fake compute
hosts, against the same process with 1 fake host measured in the same run. Target: < 400 MB.

Run: .venv/bin/python bench/compute_memory.py [hosts] (default 1000)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import running_cloud

SERVICES = ("identity", "image", "compute")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measure(hosts: int) -> tuple[float, float, int]:
    """(RSS MB once every host is registered, seconds to start, hypervisors listed)."""
    env = {"MINISTACK_COMPUTE_FAKE_HOSTS": str(hosts)}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        with running_cloud(Path(tmp), services=SERVICES, extra_env=env) as cloud:
            took = time.monotonic() - started
            assert cloud.proc is not None
            conn = cloud.connect()
            listed = len(list(conn.compute.hypervisors()))
            httpx.get(cloud.url("compute") + "/v2.1")
            time.sleep(2)
            return rss_mb(cloud.proc.pid), took, listed


def main() -> None:
    hosts = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    base_rss, base_start, _ = measure(1)
    rss, start, listed = measure(hosts)
    print(f"all-in-one, 1 fake host (baseline): {base_rss:7.1f} MB, started in {base_start:5.1f} s")
    print(
        f"all-in-one, {hosts} fake hosts:       {rss:7.1f} MB, started in {start:5.1f} s "
        f"({listed} hypervisors listed; target < 400 MB)"
    )


if __name__ == "__main__":
    main()
