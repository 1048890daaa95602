"""Benchmark: snapshot, then a new volume from the snapshot, of a 10 GiB volume holding 1 GiB
of data (target < 1 s each: copy-on-write, no data copied). Baseline in the same run: `cp` of
the volume's file (what a full copy would cost). Prints each time and the blocks the
snapshot and clone added on disk.
Usage: python bench/volume_snapshot_clone.py [volume_gib] [data_mib] (default 10, 1024).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.volume_common import client, delete_all, wait
from tests.cloud import running_cloud


def used_bytes(root: Path) -> int:
    return sum({p.stat().st_ino: p.stat().st_blocks * 512 for p in root.iterdir()}.values())


def run(base: Path, gib: int, data_mib: int) -> None:
    with running_cloud(base / "cloud", services=("identity", "image", "volume")) as cloud:
        http = client(cloud)
        vol_id = http.post("/volumes", json={"volume": {"size": gib}}).json()["volume"]["id"]
        wait(http, "volumes", vol_id)
        root = cloud.state_dir / "volumes"
        path = root / f"volume-{vol_id}"
        subprocess.run(
            ["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {data_mib}M", str(path)],
            check=True,
            capture_output=True,
        )
        started = time.perf_counter()
        subprocess.run(["cp", "--sparse=always", str(path), str(base / "copy")], check=True)
        subprocess.run(["sync"], check=True)
        copy_time = time.perf_counter() - started
        before = used_bytes(root)
        started = time.perf_counter()
        snap = http.post("/snapshots", json={"snapshot": {"volume_id": vol_id}}).json()
        wait(http, "snapshots", snap["snapshot"]["id"])
        snap_time = time.perf_counter() - started
        started = time.perf_counter()
        clone = http.post(
            "/volumes", json={"volume": {"snapshot_id": snap["snapshot"]["id"]}}
        ).json()
        wait(http, "volumes", clone["volume"]["id"])
        clone_time = time.perf_counter() - started
        added = used_bytes(root) - before
        print(
            f"{gib} GiB volume with {data_mib} MiB of data: cp of its file {copy_time:.2f} s; "
            f"snapshot {snap_time:.3f} s, volume from snapshot {clone_time:.3f} s "
            f"(API until available); disk added by both {added / (1 << 20):.2f} MiB"
        )
        delete_all(http)


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-volume-", dir="/var/tmp"))
    try:
        args = [int(a) for a in sys.argv[1:3]]
        run(base, *(args + [10, 1024][len(args) :]))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
