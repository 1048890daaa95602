"""1 GiB object PUT and GET through the Object Storage API (curl as the client) against `cp`
of the same file on the same disk in the same run (cp + sync for the PUT, whose data the
service fsyncs before it answers). Target: ratio >= 0.7 both ways.

Run: .venv/bin/python bench/object_transfer.py [MiB] [--baseline REV] [--rounds N] (default
1024 MiB, 2 rounds). Beside each rate: the server process's CPU seconds (user + system, all
threads) for the transfer. With
--baseline, the code of git revision REV is measured in the same run too (its src/ extracted
and put first on PYTHONPATH, as bench/object_small.py does), the two codes round by round.
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
from bench.object_small import cpu_seconds, extract
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


def one_round(
    tmp: Path, src: Path, url: str, token: str, pid: int
) -> tuple[float, float, float, float, float, float]:
    """Seconds of: cp + sync, the PUT, cp (cold cache), the GET (cold cache); the server's
    CPU seconds for the PUT and for the GET."""
    auth = f"X-Auth-Token: {token}"
    cp_in = timed("sh", "-c", f"cp {src} {tmp}/copy.bin && sync {tmp}/copy.bin")
    cpu = cpu_seconds(pid)
    put = timed("curl", "-sf", "-T", str(src), "-H", auth, f"{url}/bench/big")
    put_cpu = cpu_seconds(pid) - cpu
    os.sync()
    subprocess.run(["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"], check=False)
    cp_out = timed("cp", f"{tmp}/copy.bin", f"{tmp}/back.bin")
    subprocess.run(["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"], check=False)
    cpu = cpu_seconds(pid)
    get = timed("curl", "-sf", "-o", f"{tmp}/got.bin", "-H", auth, f"{url}/bench/big")
    get_cpu = cpu_seconds(pid) - cpu
    for name in ("copy.bin", "back.bin", "got.bin"):
        (tmp / name).unlink()
    return cp_in, put, cp_out, get, put_cpu, get_cpu


def main() -> None:
    args = sys.argv[1:]
    mib = int(args[0]) if args and args[0].isdigit() else 1024
    baseline = args[args.index("--baseline") + 1] if "--baseline" in args else ""
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 2
    rows = []
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "src.bin"
        with src.open("wb") as fh:
            for _ in range(mib):
                fh.write(os.urandom(1 << 20))
        os.sync()
        variants: dict[str, dict[str, str]] = {"current": {}}
        if baseline:
            (tmp / "base").mkdir()
            base_src = str(extract(baseline, tmp / "base"))
            variants = {f"baseline {baseline}": {"PYTHONPATH": base_src}, "current": {}}
        for round_ in range(rounds):  # alternate, so a burst of load on the machine hits both
            for name, env in variants.items():
                with running_cloud(
                    tmp / f"cloud-{round_}-{len(name)}", services=("identity", "object"),
                    extra_env=env,
                ) as cloud:  # fmt: skip
                    token = admin_token(cloud.auth_url)
                    url = storage_url(cloud.auth_url, token)
                    httpx.put(f"{url}/bench", headers={"X-Auth-Token": token})
                    load = os.getloadavg()[0]
                    assert cloud.proc is not None
                    rows.append((name, load, *one_round(tmp, src, url, token, cloud.proc.pid)))
    for name, load, cp_in, put, cp_out, get, put_cpu, get_cpu in rows:
        print(
            f"{name:17s} load {load:4.1f}  {mib} MiB  PUT {mib / put:7.1f} MiB/s vs cp+sync "
            f"{mib / cp_in:7.1f} MiB/s (ratio {cp_in / put:4.2f}, cpu {put_cpu:4.2f} s)   "
            f"GET {mib / get:7.1f} MiB/s vs cp {mib / cp_out:7.1f} MiB/s "
            f"(ratio {cp_out / get:4.2f}, cpu {get_cpu:4.2f} s)   targets >= 0.7"
        )


if __name__ == "__main__":
    main()
