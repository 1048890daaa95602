"""PROMISES 25: a kill -9 at any moment of an object PUT leaves the old object or the new one,
never a torn one, and no partial file survives the restart.

The process is killed at a spread of moments: while the body streams in, as it ends (fsync,
rename, database commit) and after the reply. After each restart the object reads back
byte-for-byte as one of the two versions, its listing entry agrees with what is served, and
the store's temporary area is empty.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.cloud import admin_token, running_cloud

OLD = b"the old version\n" * 1000
NEW = os.urandom(8 << 20)
DELAYS = (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3)  # seconds after the PUT starts


def _slow_body() -> Iterator[bytes]:
    """NEW in 64 KiB pieces over about a second."""
    step = 64 << 10
    for i in range(0, len(NEW), step):
        yield NEW[i : i + step]
        time.sleep(0.008)


def _put_in_background(url: str, token: str) -> threading.Thread:
    def run() -> None:
        try:
            httpx.put(url, content=_slow_body(), headers={"X-Auth-Token": token}, timeout=30)
        except httpx.HTTPError:
            pass  # the server died under it: expected

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_kill_during_put_leaves_old_or_new(tmp_path: Path) -> None:
    with running_cloud(tmp_path, services=("identity", "object")) as cloud:
        token = admin_token(cloud.auth_url)
        storage = httpx.get(
            f"{cloud.auth_url}/auth/catalog", headers={"X-Auth-Token": token}
        ).json()["catalog"]
        url = next(
            e["url"]
            for s in storage
            if s["type"] == "object-store"
            for e in s["endpoints"]
            if e["interface"] == "public"
        )
        headers = {"X-Auth-Token": token}
        assert httpx.put(f"{url}/c", headers=headers).status_code == 201
        seen = set()
        for delay in DELAYS:
            assert httpx.put(f"{url}/c/obj", content=OLD, headers=headers).status_code == 201
            thread = _put_in_background(f"{url}/c/obj", token)
            time.sleep(delay)
            assert cloud.proc is not None
            cloud.proc.send_signal(signal.SIGKILL)
            cloud.proc.wait(30)
            thread.join(30)
            cloud.start()
            token = admin_token(cloud.auth_url)
            headers = {"X-Auth-Token": token}
            body = httpx.get(f"{url}/c/obj", headers=headers, timeout=30).content
            assert body in (OLD, NEW), f"torn object after a kill {delay}s into the PUT"
            seen.add("new" if body == NEW else "old")
            listing = httpx.get(f"{url}/c?format=json", headers=headers).json()
            entry = next(e for e in listing if e["name"] == "obj")
            assert entry["hash"] == hashlib.md5(body).hexdigest()
            assert entry["bytes"] == len(body)
            assert not list((tmp_path / "objects" / "tmp").iterdir())
        assert "old" in seen  # the early kills did land mid-upload
