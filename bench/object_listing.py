"""Listing a container of 1,000,000 objects with prefix and delimiter: p50 and p95 over HTTP,
against the same listing of a 10-object container in the same run. Target: p50 < 50 ms.

The big container's rows are written straight into the database (the API would take an hour
to make a million objects here); names are 100 dirs x 100 subdirs x 100 files.

Run: .venv/bin/python bench/object_listing.py [objects] (default 1000000)
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import admin_token, running_cloud

QUERIES = {
    "top level, delimiter /": {"delimiter": "/"},
    "prefix dir042/, delimiter /": {"prefix": "dir042/", "delimiter": "/"},
    "prefix dir042/sub017/, delimiter /": {"prefix": "dir042/sub017/", "delimiter": "/"},
    "prefix dir042/sub017/ (no delimiter)": {"prefix": "dir042/sub017/"},
    "marker in the middle, limit 1000": {"marker": "dir050/", "limit": "1000"},
}


def storage_url(auth_url: str, token: str) -> str:
    catalog = httpx.get(f"{auth_url}/auth/catalog", headers={"X-Auth-Token": token}).json()
    return next(
        e["url"]
        for s in catalog["catalog"]
        if s["type"] == "object-store"
        for e in s["endpoints"]
        if e["interface"] == "public"
    )


def fill(db: Path, container_id: int, count: int) -> None:
    per = max(1, round(count ** (1 / 3)))
    rows = (
        (container_id, f"dir{a:03d}/sub{b:03d}/file{c:05d}", 4096, "0" * 32, "text/plain",
         time.time(), None, "{}", "", "x", 4096, "0" * 64)
        for a in range(per) for b in range(per) for c in range(per)
    )  # fmt: skip
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO objstore_objects (container_id, name, size, etag, content_type, "
            "last_modified, delete_at, meta, kind, location, stored_size, sha256) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def timings(http: httpx.Client, path: str, params: dict[str, str], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.monotonic()
        resp = http.get(path, params={**params, "format": "json"})
        out.append((time.monotonic() - started) * 1000)
        assert resp.status_code == 200, resp.text
    return out


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with (
        tempfile.TemporaryDirectory(dir=Path.home()) as tmp,
        running_cloud(Path(tmp), services=("identity", "object")) as cloud,
    ):
        token = admin_token(cloud.auth_url)
        url = storage_url(cloud.auth_url, token)
        with httpx.Client(headers={"X-Auth-Token": token}, timeout=60) as http:
            http.put(f"{url}/big")
            http.put(f"{url}/small")
            for i in range(10):
                http.put(f"{url}/small/dir{i:03d}/sub000/file00000", content=b"x")
            db = Path(tmp) / "ministack.db"
            with sqlite3.connect(db) as conn:
                cid = conn.execute(
                    "SELECT id FROM objstore_containers WHERE name = 'big'"
                ).fetchone()[0]
            started = time.monotonic()
            fill(db, cid, count)
            built = time.monotonic() - started
            total = 0
            with sqlite3.connect(db) as conn:
                total = conn.execute(
                    "SELECT count(*) FROM objstore_objects WHERE container_id = ?", (cid,)
                ).fetchone()[0]
            print(f"container of {total} objects built in {built:.0f} s")
            path = url
            for label, params in QUERIES.items():
                base = timings(http, f"{path}/small", params, 30)
                big = timings(http, f"{path}/big", params, 30)
                rows = len(http.get(f"{path}/big", params={**params, "format": "json"}).json())
                q = statistics.quantiles(big, n=20)
                print(
                    f"{label:40s} {rows:5d} entries: p50 {statistics.median(big):6.1f} ms, "
                    f"p95 {q[18]:6.1f} ms (10-object container p50 "
                    f"{statistics.median(base):5.1f} ms; target p50 < 50 ms)"
                )


if __name__ == "__main__":
    main()
