"""Benchmark: a compute host fetching a large image over HTTP versus the in-process path.

A running ministack (identity + image) holds a 2 GiB image. In this process, the same
download that a compute agent does runs twice each way, alternating: the in-process client
(`image.client.ImageClient`, what the all-in-one process uses; the baseline) and the HTTP
client (`HttpImageClient`, what `ministack compute` on another host uses: logged in as the
nova service user, endpoint from the catalog). Each figure ends with a sync of its output;
both verify the md5. Prints the best time of each and the ratio (target >= 0.8).
Usage: python -m bench.image_fetch_remote [size_mib] (default 2048).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench.image_transfer import OCTETS, MiB, curl, make_file, md5_of, token
from tests.cloud import Cloud, running_cloud

from ministack import config
from ministack.common.db import Database
from ministack.image.client import ImageApi, in_process, over_http

ROUNDS = 2


async def timed_fetch(client: ImageApi, image_id: str, dest: Path) -> float:
    dest.unlink(missing_ok=True)
    started = time.perf_counter()
    await client.download(image_id, dest)
    await asyncio.to_thread(subprocess.run, ["sync", str(dest)], check=True)
    return time.perf_counter() - started


async def measure(cloud: Cloud, image_id: str, dest: Path) -> tuple[float, float]:
    settings = config.load(env=cloud.env)
    db = Database(settings.database_url)
    local: ImageApi = in_process(settings, db)
    remote = over_http(settings, "nova")
    best_local, best_http = float("inf"), float("inf")
    try:
        for _ in range(ROUNDS):
            best_local = min(best_local, await timed_fetch(local, image_id, dest))
            best_http = min(best_http, await timed_fetch(remote, image_id, dest))
    finally:
        await remote.session.close()
        await db.close()
    return best_local, best_http


def run(base: Path, size: int) -> None:
    src, dest = base / "src.img", base / "fetched.img"
    make_file(src, size)
    with running_cloud(base / "cloud", services=("identity", "image")) as cloud:
        admin = token(cloud.auth_url)
        created = httpx.post(
            f"{cloud.url('image')}/v2/images",
            json={"name": "bench", "disk_format": "raw", "container_format": "bare"},
            headers={"X-Auth-Token": admin},
            timeout=60,
        )
        image_id = created.raise_for_status().json()["id"]
        auth = f"X-Auth-Token: {admin}"
        url = f"{cloud.url('image')}/v2/images/{image_id}/file"
        curl("-X", "PUT", "-T", str(src), "-H", auth, "-H", "Content-Type: " + OCTETS, url)
        local_s, http_s = asyncio.run(measure(cloud, image_id, dest))
        assert md5_of(dest) == md5_of(src)
    mib = size / MiB
    print(f"image size: {size // MiB} MiB, best of {ROUNDS} each, alternating")
    print(f"in-process: {local_s:6.2f} s  {mib / local_s:7.1f} MiB/s  (baseline)")
    print(f"over HTTP:  {http_s:6.2f} s  {mib / http_s:7.1f} MiB/s")
    print(f"ratio (in-process time / HTTP time): {local_s / http_s:4.2f}  (target >= 0.8)")


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-fetch-", dir="/var/tmp"))
    try:
        run(base, int(sys.argv[1] if len(sys.argv) > 1 else 2048) * MiB)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
