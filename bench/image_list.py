"""Benchmark: GET /v2/images (25 per page) with 10,000 images in the database; p50 latency.

The baseline in the same run is GET / (version discovery: the same HTTP and auth-free path
with no database work). Usage: python -m bench.image_list [images] (default 10000).
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from bench.image_transfer import token
from tests.cloud import running_cloud


def seed(db: Path, count: int, owner: str) -> None:
    rows = [
        (
            str(uuid.uuid4()),
            f"img-{i}",
            "active",
            "private" if i % 3 else "public",
            owner,
            "raw",
            "bare",
            1024,
            1024,
            0,
            0,
            0,
            0,
            f"2026-01-01 00:{i // 600 % 60:02d}:{i % 60:02d}",
            "2026-01-01 00:00:00",
        )
        for i in range(count)
    ]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO image_images (id, name, status, visibility, owner, disk_format, "
            "container_format, size, virtual_size, min_disk, min_ram, protected, os_hidden, "
            "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def p50(http: httpx.Client, url: str, n: int = 300) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        resp = http.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert resp.status_code in (200, 300), resp.text
    return statistics.median(samples)


def main() -> None:
    count = int(sys.argv[1] if len(sys.argv) > 1 else 10000)
    base = Path(tempfile.mkdtemp(prefix="bench-image-list-"))
    with running_cloud(base, services=("identity", "image")) as cloud:
        tok = token(cloud.auth_url)
        http = httpx.Client(base_url=cloud.url("image"), headers={"X-Auth-Token": tok})
        project = httpx.get(
            f"{cloud.auth_url}/auth/tokens", headers={"X-Auth-Token": tok, "X-Subject-Token": tok}
        ).json()["token"]["project"]["id"]
        seed(base / "ministack.db", count, project)
        page = http.get("/v2/images?limit=25").json()
        assert len(page["images"]) == 25 and "next" in page
        baseline = p50(http, "/")
        first = p50(http, "/v2/images?limit=25")
        deep = p50(http, page["next"])
        by_name = p50(http, "/v2/images?limit=25&sort=name:asc")
    print(f"images in database: {count}")
    print(f"GET / (baseline, no DB):              p50 {baseline:6.2f} ms")
    print(f"GET /v2/images?limit=25:              p50 {first:6.2f} ms")
    print(f"GET next page (marker):               p50 {deep:6.2f} ms")
    print(f"GET /v2/images?limit=25&sort=name:asc p50 {by_name:6.2f} ms")


if __name__ == "__main__":
    main()
