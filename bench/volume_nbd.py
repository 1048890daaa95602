"""Sequential writes inside a real guest: a volume attached over NBD from the volume service
on another host vs a volume attached as a local file, in the same run.

Two libvirt hosts (the controller, which runs the volume service, and a second `ministack
compute` process: tests/e2e/test_volume_nbd_libvirt.py's pair). Guest A on the controller gets
its volume as a local qcow2 file; guest B on host 2 gets its own over NBD (export:
qemu-storage-daemon with TLS-PSK; host 2 reaches it through its local TLS-PSK client on a unix
socket). Each guest runs `dd if=/dev/zero of=/dev/vdb bs=1M count=N conv=fsync` RUNS times
(one guest at a time), timed by the guest's /proc/uptime (guest clock, 10 ms). Figures:
median MB/s of each and the ratio NBD / local.

TCG caveat: without KVM every guest I/O is emulated, so the guest's CPU (virtio-blk and the
page cache under TCG), not the disk path, is usually the bottleneck; the ratio is what to read,
and it understates what the extra hops cost on KVM.

    .venv/bin/python bench/volume_nbd.py [--mib 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.test_servers_libvirt import console  # noqa: E402
from tests.e2e.test_volume_nbd_libvirt import Pair, boot_on, libvirt_pair  # noqa: E402
from tests.e2e.test_volumes_libvirt import wait_volume  # noqa: E402

TIMED = re.compile(r"bench-dd: start=([\d.]+) end=([\d.]+)")


def script(mib: int, runs: int) -> bytes:
    return f"""#!/bin/sh
(
while [ ! -b /dev/vdb ]; do sleep 0.5; done
sleep 1
i=0
while [ $i -lt {runs} ]; do
    read start _ < /proc/uptime
    dd if=/dev/zero of=/dev/vdb bs=1M count={mib} conv=fsync 2>/dev/null
    read end _ < /proc/uptime
    echo "bench-dd: start=$start end=$end"
    i=$((i + 1))
done
echo bench-done
) </dev/null &
""".encode()


def measure(pair: Pair, host: str, name: str, mib: int, runs: int) -> list[float]:
    """MB/s of each run in a guest on `host` writing to a freshly attached 1 GiB volume."""
    cloud, conn = pair.cloud, pair.cloud.connect()
    server = boot_on(pair, host, name, script(mib, runs))
    vol = conn.block_storage.create_volume(size=1, name=f"{name}-vol")
    try:
        wait_volume(cloud, vol.id, "available")
        cloud.cli("server", "add", "volume", server.id, vol.id)
        wait_volume(cloud, vol.id, "in-use")
        deadline = time.monotonic() + 900
        text = ""
        while time.monotonic() < deadline and "bench-done" not in text:
            time.sleep(2)
            text = console(conn, server)
        seconds = [float(end) - float(start) for start, end in TIMED.findall(text)]
        assert len(seconds) == runs, text[-2000:]
        return [mib * 1.048576 / s for s in seconds]
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
        wait_volume(cloud, vol.id, "available")
        conn.block_storage.delete_volume(vol)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with libvirt_pair() as pair:
        local = measure(pair, pair.host1, "bench-local", args.mib, args.runs)
        nbd = measure(pair, pair.host2, "bench-nbd", args.mib, args.runs)
    for label, rows in (("local file (baseline)", local), ("NBD from another host", nbd)):
        print(
            f"{label:24s} {args.mib} MiB dd conv=fsync: p50 {statistics.median(rows):.1f} MB/s"
            f"  (runs: {', '.join(f'{r:.1f}' for r in rows)})"
        )
    print(f"ratio NBD / local: {statistics.median(nbd) / statistics.median(local):.2f}")


if __name__ == "__main__":
    main()
