"""Benchmark: the dashboard's instances page with 1,000 servers (fake driver, rows seeded in
the database), in a real browser (Debian's chromium through Playwright).

Figures (p50 of 20 loads each): time to first byte and to fully rendered (the load event) of
/project/instances?limit=1000 (every server on one page) and of the default page (50 rows),
against the baseline measured in the same run: GET /v2.1/servers/detail?limit=1000 of the same
servers straight from the compute API. Targets: TTFB < 300 ms, rendered < 1 s.

Resident memory the dashboard adds: the all-in-one process with the dashboard after 20 loads
of the 1,000-row page, against the same process without the dashboard after the same 20
GET /servers/detail?limit=1000 (so both did the same API work). Target < 50 MB.

Upload: a 256 MiB image sent through the dashboard (browser side played by httpx: the form,
then the streamed PUT), with the process's peak RSS during the upload against its RSS just
before: the file is streamed to the image service, never held whole (growth well under 256 MB).

Run: .venv/bin/python bench/dashboard_instances.py [servers] (default 1000)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from bench.compute_servers import seed
from bench.idle_memory import rss_mb
from playwright.sync_api import sync_playwright
from tests.cloud import ADMIN_PASSWORD, Cloud, running_cloud

API = ("identity", "image", "placement", "compute")
LOADS = 20


def prepare(cloud: Cloud, base: Path, count: int) -> dict[str, str]:
    conn = cloud.connect()
    flavor = conn.compute.create_flavor(name="b1", ram=64, vcpus=1, disk=1)
    seed(
        base / "ministack.db",
        count,
        conn.current_project_id,
        conn.current_user_id,
        {"id": flavor.id, "name": "b1", "vcpus": 1, "ram": 64, "disk": 1},
    )
    return {"X-Auth-Token": conn.auth_token}


def api_p50(cloud: Cloud, headers: dict[str, str], count: int) -> float:
    samples = []
    with httpx.Client(base_url=cloud.url("compute"), headers=headers, timeout=60) as http:
        for _ in range(LOADS):
            started = time.perf_counter()
            resp = http.get(f"/v2.1/servers/detail?limit={count}")
            assert resp.status_code == 200 and len(resp.json()["servers"]) == count
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def browser_p50(cloud: Cloud, path: str, rows: int) -> tuple[float, float]:
    """p50 of (time to first byte, time to the load event) in ms, logged in as admin."""
    base = cloud.url("dashboard")
    ttfb, loaded = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/auth/login")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("#login")
        page.wait_for_url("**/project/")
        for i in range(LOADS + 1):
            page.goto(f"{base}{path}", wait_until="load")
            assert page.locator("#instance-rows tr").count() == rows
            timing: dict[str, Any] = page.evaluate(
                "JSON.parse(JSON.stringify(performance.getEntriesByType('navigation')[0]))"
            )
            if i:  # the first load warms caches
                ttfb.append(timing["responseStart"] - timing["startTime"])
                loaded.append(timing["loadEventEnd"] - timing["startTime"])
        browser.close()
    return statistics.median(ttfb), statistics.median(loaded)


UPLOAD_MIB = 256


def upload_peak(cloud: Cloud) -> tuple[float, float, float]:
    """(RSS before, peak RSS during, seconds) of a UPLOAD_MIB upload through the dashboard."""
    assert cloud.proc is not None
    pid = cloud.proc.pid
    with httpx.Client(base_url=cloud.url("dashboard"), timeout=600) as http:
        login_page = http.get("/auth/login").text
        csrf = login_page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        form = {"username": "admin", "password": ADMIN_PASSWORD, "domain": "Default"}
        assert http.post("/auth/login", data={**form, "csrf_token": csrf}).status_code == 303
        page = http.get("/project/images/create").text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        made = http.post(
            "/project/images/create",
            data={"name": "big", "disk_format": "raw", "container_format": "bare"},
            headers={"Accept": "application/json", "X-CSRF-Token": csrf},
        ).json()
        before = rss_mb(pid)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(pid))
                time.sleep(0.02)

        def body() -> Iterator[bytes]:
            chunk = b"\x5a" * (1 << 20)
            for _ in range(UPLOAD_MIB):
                yield chunk

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        resp = http.put(
            made["upload_url"],
            content=body(),
            headers={
                "X-CSRF-Token": csrf,
                "Content-Type": "application/octet-stream",
                "Content-Length": str(UPLOAD_MIB << 20),
            },
        )
        took = time.perf_counter() - started
        done.set()
        sampler.join()
        assert resp.status_code == 200, resp.text
    return before, peak[0], took


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
        base = Path(tmp)
        with running_cloud(base, services=(*API, "dashboard")) as cloud:
            headers = prepare(cloud, base, count)
            baseline = api_p50(cloud, headers, count)
            full = browser_p50(cloud, f"/project/instances?limit={count}", count)
            page = browser_p50(cloud, "/project/instances", 50)
            assert cloud.proc is not None
            with_dashboard = rss_mb(cloud.proc.pid)
            upload = upload_peak(cloud)
    with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
        base = Path(tmp)
        with running_cloud(base, services=API) as cloud:
            headers = prepare(cloud, base, count)
            api_p50(cloud, headers, count)
            assert cloud.proc is not None
            without = rss_mb(cloud.proc.pid)
    print(f"GET /servers/detail?limit={count} (API baseline):  p50 {baseline:7.1f} ms")
    print(
        f"dashboard, {count} rows on one page:  TTFB p50 {full[0]:7.1f} ms, "
        f"rendered p50 {full[1]:7.1f} ms (targets < 300 ms, < 1000 ms)"
    )
    print(
        f"dashboard, default page (50 of {count}): TTFB p50 {page[0]:7.1f} ms, "
        f"rendered p50 {page[1]:7.1f} ms"
    )
    print(
        f"RSS with dashboard {with_dashboard:.1f} MB, without {without:.1f} MB: "
        f"the dashboard adds {with_dashboard - without:.1f} MB (target < 50 MB)"
    )
    print(
        f"{UPLOAD_MIB} MiB image upload through the dashboard: {upload[2]:.1f} s, RSS "
        f"{upload[0]:.1f} MB before, peak {upload[1]:.1f} MB (+{upload[1] - upload[0]:.1f} MB)"
    )


if __name__ == "__main__":
    main()
