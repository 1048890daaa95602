"""1 GiB object PUT and GET through the Object Storage API (curl as the client) against `cp`
of the same file on the same disk in the same run (cp + sync for the PUT, whose data the
service fsyncs before it answers). Target: ratio >= 0.7 both ways.

Run: .venv/bin/python bench/object_transfer.py [MiB] (default 1024)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import admin_token, running_cloud


def timed(*argv: str) -> float:
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True)
    return time.monotonic() - started


def storage_url(auth_url: str, token: str) -> str:
    catalog = httpx.get(f"{auth_url}/auth/catalog", headers={"X-Auth-Token": token}).json()
    return next(
        e["url"]
        for s in catalog["catalog"]
        if s["type"] == "object-store"
        for e in s["endpoints"]
        if e["interface"] == "public"
    )


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        src = Path(tmp) / "src.bin"
        with src.open("wb") as fh:
            for _ in range(mib):
                fh.write(os.urandom(1 << 20))
        os.sync()
        with running_cloud(Path(tmp) / "cloud", services=("identity", "object")) as cloud:
            token = admin_token(cloud.auth_url)
            url = storage_url(cloud.auth_url, token)
            auth = f"X-Auth-Token: {token}"
            httpx.put(f"{url}/bench", headers={"X-Auth-Token": token})
            rows = []
            for _ in range(2):  # alternate, so a burst of load on the machine hits both
                cp_in = timed("sh", "-c", f"cp {src} {tmp}/copy.bin && sync {tmp}/copy.bin")
                put = timed("curl", "-sf", "-T", str(src), "-H", auth, f"{url}/bench/big")
                os.sync()
                subprocess.run(["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"], check=False)
                cp_out = timed("cp", f"{tmp}/copy.bin", f"{tmp}/back.bin")
                subprocess.run(["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"], check=False)
                get = timed("curl", "-sf", "-o", f"{tmp}/got.bin", "-H", auth, f"{url}/bench/big")
                rows.append((cp_in, put, cp_out, get))
                for name in ("copy.bin", "back.bin", "got.bin"):
                    (Path(tmp) / name).unlink()
    for cp_in, put, cp_out, get in rows:
        print(
            f"{mib} MiB  PUT {mib / put:7.1f} MiB/s vs cp+sync {mib / cp_in:7.1f} MiB/s "
            f"(ratio {cp_in / put:4.2f})   GET {mib / get:7.1f} MiB/s vs cp {mib / cp_out:7.1f} "
            f"MiB/s (ratio {cp_out / get:4.2f})   targets >= 0.7"
        )


if __name__ == "__main__":
    main()
