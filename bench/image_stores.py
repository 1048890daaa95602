"""Benchmark: image upload and download through the object store versus the filesystem store.

One ministack (identity, image, object; `[image] stores = "file,object"`) in the same run:
the same file is uploaded with PUT /file into the `file` store (the baseline) and into the
`object` store (X-Image-Meta-Store), then downloaded from each. Prints the seconds, MiB/s,
the ratio to the file store, and the service's peak RSS growth during each transfer (the data
streams: it must stay far below the image size). Usage: python -m bench.image_stores
[size_mib] (default 512).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench.image_transfer import OCTETS, MiB, PeakRss, curl, make_file, md5_of, rss_kib, token
from tests.cloud import running_cloud

ENV = {"MINISTACK_IMAGE_STORE": "file", "MINISTACK_IMAGE_STORES": "file,object"}


def transfer(cloud_url: str, auth: str, pid: int, src: Path, out: Path, store: str) -> list[float]:
    """[upload s, upload RSS growth MiB, download s, download RSS growth MiB] for one store."""
    http = httpx.Client(base_url=cloud_url, headers={"X-Auth-Token": auth}, timeout=600)
    image = http.post(
        "/v2/images",
        json={"name": f"bench-{store}", "disk_format": "raw", "container_format": "bare"},
    ).json()
    url = f"{cloud_url}/v2/images/{image['id']}/file"
    header = f"X-Auth-Token: {auth}"
    figures: list[float] = []
    before = rss_kib(pid)
    with PeakRss(pid) as rss:
        started = time.perf_counter()
        curl("-X", "PUT", "-T", str(src), "-H", header, "-H", "Content-Type: " + OCTETS,
             "-H", f"X-Image-Meta-Store: {store}", url)  # fmt: skip
        subprocess.run(["sync"], check=True)
        figures += [time.perf_counter() - started, (rss.peak - before) / 1024]
    before = rss_kib(pid)
    with PeakRss(pid) as rss:
        started = time.perf_counter()
        curl("-o", str(out), "-H", header, url)
        subprocess.run(["sync", str(out)], check=True)
        figures += [time.perf_counter() - started, (rss.peak - before) / 1024]
    stored = http.get(f"/v2/images/{image['id']}").json()
    assert stored["stores"] == store and stored["checksum"] == md5_of(src) == md5_of(out), stored
    http.delete(f"/v2/images/{image['id']}")
    out.unlink()
    return figures


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-stores-", dir="/var/tmp"))
    size = int(sys.argv[1] if len(sys.argv) > 1 else 512) * MiB
    try:
        src, out = base / "src.img", base / "out.img"
        make_file(src, size)
        services = ("identity", "image", "object")
        with running_cloud(base / "cloud", services=services, extra_env=ENV) as cloud:
            assert cloud.proc is not None
            auth, url = token(cloud.auth_url), cloud.url("image")
            result = {
                s: transfer(url, auth, cloud.proc.pid, src, out, s) for s in ("file", "object")
            }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    mib = size / MiB
    print(f"image size: {mib:.0f} MiB")
    file_up, _, file_down, _ = result["file"]
    for store, (up, up_rss, down, down_rss) in result.items():
        print(
            f"{store:6} upload   {up:6.2f} s {mib / up:7.1f} MiB/s {file_up / up:4.2f}x of file  "
            f"peak RSS growth {up_rss:5.1f} MiB"
        )
        print(
            f"{store:6} download {down:6.2f} s {mib / down:7.1f} MiB/s {file_down / down:4.2f}x "
            f"of file  peak RSS growth {down_rss:5.1f} MiB"
        )


if __name__ == "__main__":
    main()
