"""Resident memory of the idle all-in-one process, against a bare Python interpreter measured in
the same run. Target (issue 2): under 150 MB with identity alone.

Run: .venv/bin/python bench/idle_memory.py [--services identity]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import running_cloud


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", default="identity")
    args = parser.parse_args()
    services = tuple(args.services.split(","))
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    time.sleep(0.5)
    baseline = rss_mb(bare.pid)
    bare.kill()
    with tempfile.TemporaryDirectory() as tmp, running_cloud(Path(tmp), services=services) as cloud:
        assert cloud.proc is not None
        httpx.get(cloud.auth_url)  # one request so every lazy import has happened
        time.sleep(2)
        idle = rss_mb(cloud.proc.pid)
    print(f"bare python interpreter     {baseline:7.1f} MB")
    print(f"idle ministack ({','.join(services)}) {idle:7.1f} MB")


if __name__ == "__main__":
    main()
