"""The web-download import method, tasks, store discovery and the empty image id, through the
`openstack` CLI, openstacksdk and raw HTTP. The "web" is an HTTP server this module runs on
127.0.0.1 (the only host the test cloud allows); `localhost` plays a host that is not allowed."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.image.conftest import Env
from tests.image import formats

GOOD = formats.qcow2(virtual_size=16 << 20)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path == "/good.qcow2":
            self._send(200, GOOD)
        elif self.path == "/junk":
            self._send(200, b"this is not a qcow2 image" * 100)
        elif self.path == "/hop":
            self._redirect(f"http://127.0.0.1:{port}/good.qcow2")
        elif self.path == "/elsewhere":
            self._redirect(f"http://localhost:{port}/good.qcow2")
        else:
            self._send(404, b"no such file")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _new_image(env: Env, who: str = "a_member", disk_format: str = "qcow2") -> str:
    with env.http(who) as http:
        resp = http.post(
            "/v2/images",
            json={
                "name": f"web-{uuid.uuid4().hex[:6]}",
                "disk_format": disk_format,
                "container_format": "bare",
            },
        )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _wait(env: Env, image_id: str, *, done: Any, who: str = "a_member") -> dict[str, Any]:
    """The image once `done(image)` holds (generous deadline: the import runs in background)."""
    deadline = time.monotonic() + 60
    with env.http(who) as http:
        while True:
            image: dict[str, Any] = http.get(f"/v2/images/{image_id}").json()
            if done(image) or time.monotonic() > deadline:
                return image
            time.sleep(0.1)


def _failed(image: dict[str, Any]) -> bool:
    return image["status"] == "queued" and image.get("os_glance_failed_import") == "file"


def _import(env: Env, image_id: str, uri: str, who: str = "a_member") -> int:
    body = {"method": {"name": "web-download", "uri": uri}}
    with env.http(who) as http:
        return http.post(f"/v2/images/{image_id}/import", json=body).status_code


def test_web_download_with_the_cli_becomes_active(image_env: Env, web: str) -> None:
    image_id = _new_image(image_env)
    image_env.cli(
        "a_member",
        "image",
        "import",
        image_id,
        "--method",
        "web-download",
        "--uri",
        f"{web}/hop",
    )
    image = _wait(image_env, image_id, done=lambda i: i["status"] == "active")
    assert image["status"] == "active"
    assert image["checksum"] == hashlib.md5(GOOD).hexdigest()
    assert image["os_hash_value"] == hashlib.sha512(GOOD).hexdigest()
    assert image["virtual_size"] == 16 << 20 and image["size"] == len(GOOD)
    assert image["stores"] == "file"
    assert image["os_glance_importing_to_stores"] == ""
    assert "os_glance_import_task" not in image
    with image_env.http("a_member") as http:
        assert http.get(f"/v2/images/{image_id}/file").content == GOOD
        tasks = http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
    assert [(t["type"], t["status"]) for t in tasks] == [("api_image_import", "success")]
    assert tasks[0]["input"]["import_req"]["method"]["uri"] == f"{web}/hop"
    assert tasks[0]["result"] == {"image_id": image_id}
    # the task list is the admin's (Glance's tasks_api_access), through the CLI
    shown = image_env.cli(
        "admin", "image", "task", "show", tasks[0]["id"], "-f", "value", "-c", "status"
    )
    assert shown.strip() == "success"
    assert tasks[0]["id"] in image_env.cli("admin", "image", "task", "list", "-f", "value")
    with image_env.http("a_member") as http:
        assert http.get("/v2/tasks").status_code == 403
        assert http.get(f"/v2/tasks/{tasks[0]['id']}").status_code == 403
    with image_env.http("b_member") as http:  # another project's private image
        assert http.get(f"/v2/images/{image_id}/tasks").status_code == 404
    image_env.people["a_member"].conn.image.delete_image(image_id)


def test_a_host_not_allowed_is_refused_before_anything_starts(image_env: Env, web: str) -> None:
    image_id = _new_image(image_env)
    port = web.rsplit(":", 1)[1]
    refused = (
        f"http://localhost:{port}/good.qcow2",
        f"http://2130706433:{port}/good.qcow2",  # 127.0.0.1 spelled otherwise: not on the list
        f"http://0x7f.0.0.1:{port}/good.qcow2",
        f"http://127.1:{port}/good.qcow2",
        f"http://127.0.0.1@localhost:{port}/good.qcow2",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "not a url",
    )
    for uri in refused:
        assert _import(image_env, image_id, uri) == 400, uri
    with image_env.http("a_member") as http:
        image = http.get(f"/v2/images/{image_id}").json()
        assert image["status"] == "queued" and "os_glance_failed_import" not in image
        assert http.get(f"/v2/images/{image_id}/tasks").json()["tasks"] == []
        http.delete(f"/v2/images/{image_id}")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "404"),
        ("/elsewhere", "does not pass filtering"),
        ("/junk", "qcow2"),
    ],
)
def test_a_failed_download_is_202_then_recorded(
    image_env: Env, web: str, path: str, reason: str
) -> None:
    image_id = _new_image(image_env)
    assert _import(image_env, image_id, web + path) == 202
    image = _wait(image_env, image_id, done=_failed)
    assert _failed(image), image
    assert image["os_glance_importing_to_stores"] == "" and image["size"] is None
    left = image_env.stored_files()
    assert not any(image_id in p or p.endswith(".part") for p in left), left
    with image_env.http("a_member") as http:
        tasks = http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        assert [t["status"] for t in tasks] == ["failure"]
        assert reason in tasks[0]["message"]
        # queued again: a second try is accepted
        assert _import(image_env, image_id, f"{web}/good.qcow2") == 202
        assert (
            _wait(image_env, image_id, done=lambda i: i["status"] == "active")["status"] == "active"
        )
        http.delete(f"/v2/images/{image_id}")


def test_import_preconditions_as_glance(image_env: Env, web: str) -> None:
    with image_env.http("a_member") as http:
        bare = http.post("/v2/images", json={"name": "no-formats"}).json()["id"]
        assert _import(image_env, bare, f"{web}/good.qcow2") == 409
        image_id = _new_image(image_env)
        body = {"method": {"name": "web-download", "uri": f"{web}/good.qcow2"}, "stores": ["x"]}
        assert http.post(f"/v2/images/{image_id}/import", json=body).status_code == 409
        assert _import(image_env, image_id, f"{web}/good.qcow2", who="b_member") == 404
        assert _import(image_env, image_id, f"{web}/good.qcow2", who="a_reader") == 403
        body["stores"] = ["file"]
        assert http.post(f"/v2/images/{image_id}/import", json=body).status_code == 202
        _wait(image_env, image_id, done=lambda i: i["status"] == "active")
        # an active image cannot be imported into again
        assert _import(image_env, image_id, f"{web}/good.qcow2") == 409
        for iid in (bare, image_id):
            http.delete(f"/v2/images/{iid}")


def test_store_and_import_discovery(image_env: Env) -> None:
    conn = image_env.people["a_reader"].conn
    stores = list(conn.image.stores())
    assert [(s.id, s.is_default) for s in stores] == [("file", True)]
    info = conn.image.get_import_info()
    assert info.import_methods["value"] == ["glance-direct", "web-download"]
    listed = image_env.cli("a_reader", "image", "stores", "list", "-f", "value")
    assert listed.split()[0] == "file"
    methods = image_env.cli("a_reader", "image", "import", "info", "-f", "json")
    assert "web-download" in methods


def test_empty_image_id_is_404(image_env: Env) -> None:
    with image_env.http("a_member") as http:
        assert http.get("/v2/images/").status_code == 404
        assert http.delete("/v2/images/").status_code == 404
        assert http.get("/v2/images").status_code == 200
