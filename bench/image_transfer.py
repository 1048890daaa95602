"""Benchmark: upload and download of a large image through the Image API versus `cp`.

Prints throughput of `cp` of the same file on the same disk (the baseline), of PUT /file and
GET /file through a running ministack, their ratio to cp, and the service's peak RSS growth
during each transfer. Usage: python -m bench.image_transfer [size_mib] (default 2048).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tests.cloud import admin_token, running_cloud

MiB = 1 << 20


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


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with path.open("wb") as fh:
        for i in range(size // MiB):
            fh.write(hashlib.md5(block + i.to_bytes(8, "little")).digest() + block[16:])


def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 2048) * MiB
    base = Path(tempfile.mkdtemp(prefix="bench-image-", dir="/var/tmp"))
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
        with PeakRss(pid) as up_rss, src.open("rb") as fh:
            started = time.perf_counter()
            resp = http.put(
                f"/v2/images/{image['id']}/file",
                content=fh,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
            subprocess.run(["sync"], check=True)
            up_s = time.perf_counter() - started
        assert resp.status_code == 204, resp.text
        before_down = rss_kib(pid)
        with PeakRss(pid) as down_rss, out.open("wb") as fh:
            started = time.perf_counter()
            with http.stream("GET", f"/v2/images/{image['id']}/file") as stream:
                for chunk in stream.iter_bytes(MiB):
                    fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
            down_s = time.perf_counter() - started
        assert out.stat().st_size == size
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
    for path in (src, out):
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
