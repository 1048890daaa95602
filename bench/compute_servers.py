"""Benchmark: POST /servers until the server is ACTIVE (fake driver, no injected delay), one at a
time (p50, p99) and 50 at once (time until all ACTIVE); GET /servers/detail?limit=100 with
10,000 servers in the database (p50). Targets: p50 < 100 ms alone; 50 concurrent all ACTIVE
within 3 s; detail list p50 < 50 ms.

Baseline in the same run: GET /v2.1 (version document: HTTP and routing, no auth, no DB).
Usage: python bench/compute_servers.py [servers-in-db] (default 10000).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.cloud import running_cloud

ENV = {"MINISTACK_COMPUTE_FAKE_HOSTS": "3", "MINISTACK_COMPUTE_FAKE_MEMORY_MB": "65536"}


def ms(seconds: float) -> float:
    return seconds * 1000


def boot(http: httpx.Client, body: dict[str, object]) -> float:
    """Seconds from POST /servers until GET shows ACTIVE (polled every 2 ms)."""
    started = time.perf_counter()
    resp = http.post("/v2.1/servers", json=body)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    while True:
        status = http.get(f"/v2.1/servers/{server_id}").json()["server"]["status"]
        if status == "ACTIVE":
            return time.perf_counter() - started
        assert status == "BUILD", status
        time.sleep(0.002)


def burst_until_active(
    url: str, headers: dict[str, str], body: dict[str, object], observer: httpx.Client
) -> float:
    """50 parallel POST /servers; one observer polls the list (every 20 ms) until all 50 are
    ACTIVE. Returns the seconds from the first POST to that moment."""
    clients = [httpx.Client(base_url=url, headers=headers, timeout=60) for _ in range(50)]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    started = time.perf_counter()
    with ThreadPoolExecutor(50) as pool:
        posts = [pool.submit(c.post, "/v2.1/servers", json=body) for c in clients]
        ids = {f.result().json()["server"]["id"] for f in posts}
    while True:
        active = observer.get(f"/v2.1/servers?status=ACTIVE&changes-since={since}").json()
        if ids <= {s["id"] for s in active["servers"]}:
            return time.perf_counter() - started
        time.sleep(0.02)


def seed(db: Path, count: int, project: str, user: str, flavor: dict[str, object]) -> None:
    now = "2026-01-01 00:00:00.000000"
    rows = [
        (
            str(uuid.uuid4()),
            f"seed-{i}",
            f"seed-{i}",
            project,
            user,
            "r-seed",
            0,
            "",
            json.dumps(flavor),
            1,
            64,
            1,
            "{}",
            "{}",
            "{}",
            "active",
            1,
            0,
            "",
            "[]",
            f"2026-01-01 00:{i // 600 % 60:02d}:{i % 60:02d}.000000",
            now,
            0,
            "nova",
            "seed-host",
        )
        for i in range(count)
    ]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO compute_instances (uuid, display_name, hostname, project_id, user_id, "
            "reservation_id, launch_index, image_ref, flavor, vcpus, memory_mb, root_gb, "
            "metadata, system_metadata, request_spec, vm_state, power_state, locked, "
            "config_drive, security_groups, created_at, updated_at, deleted, availability_zone, "
            "host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def p50(http: httpx.Client, path: str, n: int = 200) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        assert http.get(path).status_code == 200
        samples.append(ms(time.perf_counter() - started))
    return statistics.median(samples)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    base = Path(tempfile.mkdtemp(prefix="bench-compute-"))
    with running_cloud(base, services=("identity", "image", "compute"), extra_env=ENV) as cloud:
        conn = cloud.connect()
        image = conn.image.create_image(
            name="b",
            data=b"\0" * 512,
            disk_format="raw",
            container_format="bare",
            visibility="public",
        )
        flavor = conn.compute.create_flavor(name="b1", ram=64, vcpus=1, disk=1)
        conn.compute.update_quota_set(
            conn.current_project_id, instances=1000, cores=1000, ram=1000000
        )
        headers = {"X-Auth-Token": conn.auth_token, "OpenStack-API-Version": "compute 2.38"}
        http = httpx.Client(base_url=cloud.url("compute"), headers=headers, timeout=60)
        body = {
            "server": {
                "name": "b",
                "imageRef": image.id,
                "flavorRef": flavor.id,
                "networks": "none",
            }
        }
        baseline = p50(http, "/v2.1")
        boot(http, body)  # warm-up
        alone = sorted(ms(boot(http, body)) for _ in range(100))
        burst = burst_until_active(cloud.url("compute"), headers, body, http)
        seed(
            base / "ministack.db",
            count,
            conn.current_project_id,
            conn.current_user_id,
            {"id": flavor.id, "name": "b1", "vcpus": 1, "ram": 64, "disk": 1},
        )
        detail = p50(http, "/v2.1/servers/detail?limit=100")
    print(f"GET /v2.1 (baseline, no auth/DB):          p50 {baseline:7.2f} ms")
    print(
        f"POST /servers -> ACTIVE, one at a time:    p50 {statistics.median(alone):7.2f} ms,"
        f" p99 {alone[98]:7.2f} ms (target p50 < 100 ms)"
    )
    print(f"50 concurrent POST /servers -> all ACTIVE: {ms(burst):7.1f} ms (target < 3000 ms)")
    print(f"GET /servers/detail?limit=100 ({count} servers): p50 {detail:7.2f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
