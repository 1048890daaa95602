"""A web-download import cut off by a killed image service: after the restart the image is
queued again with `os_glance_failed_import`, its task failed, and no partial file is left."""

from __future__ import annotations

import http.server
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.cloud import admin_token, running_cloud

RELEASE = threading.Event()


class _Slow(http.server.BaseHTTPRequestHandler):
    """Announces 64 MiB, sends 1 MiB, then waits until the test lets it go."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(64 << 20))
        self.end_headers()
        self.wfile.write(b"\0" * (1 << 20))
        self.wfile.flush()
        RELEASE.wait(120)

    def log_message(self, *_args: Any) -> None:
        return


def _wait(get: Any, done: Any) -> Any:
    deadline = time.monotonic() + 60
    value = get()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = get()
    return value


def test_killed_during_web_download_is_failed_after_restart(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed = {"MINISTACK_IMAGE_WEB_DOWNLOAD_ALLOWED_HOSTS": "127.0.0.1"}
    try:
        with running_cloud(tmp_path, services=("identity", "image"), extra_env=allowed) as cloud:
            base = cloud.url("image") + "/v2"
            with httpx.Client(headers={"X-Auth-Token": admin_token(cloud.auth_url)}) as client:
                image = client.post(
                    f"{base}/images",
                    json={"name": "cut", "disk_format": "raw", "container_format": "bare"},
                ).json()
                uri = f"http://127.0.0.1:{server.server_address[1]}/big.raw"
                body = {"method": {"name": "web-download", "uri": uri}}
                assert (
                    client.post(f"{base}/images/{image['id']}/import", json=body).status_code == 202
                )
                scratch = tmp_path / "images" / "tmp"
                parts = _wait(lambda: list(scratch.glob("*.part")), bool)
                assert parts, "the download never started"
                assert client.get(f"{base}/images/{image['id']}").json()["status"] == "importing"
            cloud.stop(signal.SIGKILL)
            cloud.start()
            with httpx.Client(headers={"X-Auth-Token": admin_token(cloud.auth_url)}) as client:
                after = client.get(f"{base}/images/{image['id']}").json()
                tasks = client.get(f"{base}/images/{image['id']}/tasks").json()["tasks"]
            assert after["status"] == "queued" and after["size"] is None
            assert after["os_glance_failed_import"] == "file"
            assert after["os_glance_importing_to_stores"] == ""
            assert "os_glance_import_task" not in after
            assert [t["status"] for t in tasks] == ["failure"]
            assert "restarted" in tasks[0]["message"]
            assert list(scratch.glob("*.part")) == []
    finally:
        RELEASE.set()
        server.shutdown()
        server.server_close()
