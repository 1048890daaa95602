"""Benchmark: upload and download of a large image through the Image API versus `cp`.

Prints throughput of `cp` of the same file on the same disk (the baseline), of PUT /file and
GET /file through a running ministack, their ratio to cp, and the service's peak RSS growth
during each transfer. Usage: python -m bench.image_transfer [size_mib] (default 2048).

The client is `curl` (streaming from / to the file) so that on a 2-core machine the client
takes as little CPU from the server as `cp` does; every figure ends with a sync of its
output, as the cp baseline does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.cloud import admin_token, running_cloud

MiB = 1 << 20
OCTETS = "application/octet-stream"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakRss:
    """Samples a process's RSS every 10 ms in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, rss_kib(pid), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def token(auth_url: str) -> str:
    return admin_token(auth_url)


def curl(*args: str) -> None:
    subprocess.run(["curl", "-sSf", *args], check=True)


def md5_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with path.open("wb") as fh:
        for i in range(size // MiB):
            fh.write(hashlib.md5(block + i.to_bytes(8, "little")).digest() + block[16:])


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-image-", dir="/var/tmp"))
    try:
        run(base, int(sys.argv[1] if len(sys.argv) > 1 else 2048) * MiB)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path, size: int) -> None:
    """Measure cp, upload and download of a `size`-byte file, all under `base`."""
    src, copy, out = base / "src.img", base / "copy.img", base / "out.img"
    make_file(src, size)
    started = time.perf_counter()
    subprocess.run(["cp", str(src), str(copy)], check=True)
    subprocess.run(["sync"], check=True)
    cp_s = time.perf_counter() - started
    copy.unlink()
    with running_cloud(base / "cloud", services=("identity", "image")) as cloud:
        assert cloud.proc is not None
        pid = cloud.proc.pid
        headers = {"X-Auth-Token": token(cloud.auth_url)}
        http = httpx.Client(base_url=cloud.url("image"), headers=headers, timeout=600)
        image = http.post(
            "/v2/images", json={"name": "bench", "disk_format": "raw", "container_format": "bare"}
        ).json()
        before = rss_kib(pid)
        url = f"{cloud.url('image')}/v2/images/{image['id']}/file"
        auth = f"X-Auth-Token: {headers['X-Auth-Token']}"
        with PeakRss(pid) as up_rss:
            started = time.perf_counter()
            curl("-X", "PUT", "-T", str(src), "-H", auth, "-H", "Content-Type: " + OCTETS, url)
            subprocess.run(["sync"], check=True)
            up_s = time.perf_counter() - started
        before_down = rss_kib(pid)
        with PeakRss(pid) as down_rss:
            started = time.perf_counter()
            curl("-o", str(out), "-H", auth, url)
            subprocess.run(["sync", str(out)], check=True)
            down_s = time.perf_counter() - started
        assert out.stat().st_size == size
        stored = http.get(f"/v2/images/{image['id']}").json()
        assert stored["status"] == "active" and stored["checksum"] == md5_of(src), stored
        http.delete(f"/v2/images/{image['id']}")
    gib = size / (1 << 30)
    print(f"image size: {size // MiB} MiB")
    print(f"cp:       {cp_s:6.2f} s  {size / MiB / cp_s:7.1f} MiB/s  (baseline)")
    print(
        f"upload:   {up_s:6.2f} s  {size / MiB / up_s:7.1f} MiB/s  {cp_s / up_s:4.2f}x of cp  "
        f"peak RSS growth {(up_rss.peak - before) / 1024:5.1f} MiB"
    )
    print(
        f"download: {down_s:6.2f} s  {size / MiB / down_s:7.1f} MiB/s  {cp_s / down_s:4.2f}x "
        f"of cp  peak RSS growth {(down_rss.peak - before_down) / 1024:5.1f} MiB"
    )
    print(f"({gib:.1f} GiB; md5 + sha512 computed during upload)")


if __name__ == "__main__":
    main()
