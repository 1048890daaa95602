"""Kill the volume service in every transitional state of `volume/states.py` (PROMISES 4, 5).

One cloud (identity, image, volume) makes its resources at rest, restarts with file-backend
delays that hold each operation in its transitional status (creating, downloading, deleting,
extending, uploading; snapshot creating and deleting), is SIGKILLed there, and starts again
without delays. Each resource must then be where its row's restart rule says: creating and
downloading → error (no file, quota given back), deleting → deleted (no file), extending →
error_extending with its old size, uploading → available again, snapshots creating → error
and deleting → deleted; the statuses a compute host owns (reserved, attaching, detaching) are
kept. `detaching`, which no API call of this service holds, is written into the stopped
process's database as a compute host's detach would have left it.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ministack.volume import states as st
from tests.cloud import Cloud, admin_token, make_cloud

HOLD = "create=900,delete=900,extend=900,snapshot=900,upload=900"
Check = Callable[[dict[str, Any] | None], None]


class Api:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.refresh()

    def refresh(self) -> None:
        self.token = admin_token(self.cloud.auth_url)
        info = httpx.get(
            f"{self.cloud.auth_url}/auth/tokens",
            headers={"X-Auth-Token": self.token, "X-Subject-Token": self.token},
        ).json()
        self.project = info["token"]["project"]["id"]

    def __call__(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.cloud.url('volume')}/v3/{self.project}{path}",
            headers={"X-Auth-Token": self.token, "OpenStack-API-Version": "volume 3.71"},
            timeout=60,
            **kw,
        )

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        resp = self("GET", f"/{kind}/{ident}")
        if resp.status_code == 404:
            return None
        item: dict[str, Any] = resp.json()[kind[:-1]]
        return item

    def wait(self, kind: str, ident: str, status: str) -> None:
        deadline = time.monotonic() + 60
        while (item := self.get(kind, ident)) is None or item["status"] != status:
            assert time.monotonic() < deadline, f"{kind} {ident}: {item}"
            time.sleep(0.1)

    def volume(self, size: int = 1, **extra: Any) -> str:
        resp = self("POST", "/volumes", json={"volume": {"size": size, **extra}})
        assert resp.status_code == 202, resp.text
        ident: str = resp.json()["volume"]["id"]
        return ident


def _image(cloud: Cloud, api: Api, tmp: Path) -> str:
    path = tmp / "img.raw"
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(path), "16M"], check=True)
    conn = cloud.connect()
    image = conn.image.create_image(
        name="walk", disk_format="raw", container_format="bare", data=path.read_bytes()
    )
    return str(image.id)


def test_every_volume_table_row_has_a_walk() -> None:
    walked = {("volume", s) for s in WALKED_VOLUME} | {("snapshot", s) for s in WALKED_SNAPSHOT}
    assert walked == {(t.kind, t.status) for t in st.TRANSITIONAL}
    for row in st.TRANSITIONAL:
        assert row.owner and row.timeout > 0 and row.restart


WALKED_VOLUME = (
    st.CREATING,
    st.DOWNLOADING,
    st.DELETING,
    st.EXTENDING,
    st.UPLOADING,
    st.RESERVED,
    st.ATTACHING,
    st.DETACHING,
)
WALKED_SNAPSHOT = (st.CREATING, st.DELETING)


def _hold(api: Api, image_id: str, at_rest: dict[str, str]) -> dict[tuple[str, str], str]:
    """Drive one resource into each held status; returns (kind, status) -> id."""
    held: dict[tuple[str, str], str] = {}
    held[("volume", st.CREATING)] = api.volume()
    held[("volume", st.DOWNLOADING)] = api.volume(imageRef=image_id)
    assert api("DELETE", f"/volumes/{at_rest['delete']}").status_code == 202
    held[("volume", st.DELETING)] = at_rest["delete"]
    resp = api("POST", f"/volumes/{at_rest['extend']}/action", json={"os-extend": {"new_size": 2}})
    assert resp.status_code == 202
    held[("volume", st.EXTENDING)] = at_rest["extend"]
    resp = api(
        "POST",
        f"/volumes/{at_rest['upload']}/action",
        json={"os-volume_upload_image": {"image_name": "up", "disk_format": "raw"}},
    )
    assert resp.status_code == 202, resp.text
    held[("volume", st.UPLOADING)] = at_rest["upload"]
    resp = api("POST", "/snapshots", json={"snapshot": {"volume_id": at_rest["snap_src"]}})
    held[("snapshot", st.CREATING)] = resp.json()["snapshot"]["id"]
    assert api("DELETE", f"/snapshots/{at_rest['snap']}").status_code == 202
    held[("snapshot", st.DELETING)] = at_rest["snap"]
    for status, connector in ((st.RESERVED, None), (st.ATTACHING, {"host": "h"})):
        body = {
            "volume_uuid": at_rest[status],
            "instance_uuid": str(uuid.uuid4()),
            "connector": connector,
        }
        assert api("POST", "/attachments", json={"attachment": body}).status_code == 200
        held[("volume", status)] = at_rest[status]
    for (kind, status), ident in held.items():
        if status not in (st.DETACHING,):
            api.wait(f"{kind}s", ident, status)
    return held


def test_kill_in_every_volume_state_then_restart(tmp_path: Path) -> None:
    cloud = make_cloud(tmp_path, services=("identity", "image", "volume"))
    try:
        cloud.start()
        api = Api(cloud)
        image_id = _image(cloud, api, tmp_path)
        names = (
            "delete",
            "extend",
            "upload",
            "snap_src",
            "snap_vol",
            st.RESERVED,
            st.ATTACHING,
            st.DETACHING,
        )
        at_rest = {n: api.volume() for n in names}
        for ident in at_rest.values():
            api.wait("volumes", ident, "available")
        snap = api("POST", "/snapshots", json={"snapshot": {"volume_id": at_rest["snap_vol"]}})
        at_rest["snap"] = snap.json()["snapshot"]["id"]
        api.wait("snapshots", at_rest["snap"], "available")
        cloud.stop()
        cloud.env["MINISTACK_VOLUME_TEST_DELAYS"] = HOLD
        cloud.start()
        api.refresh()
        held = _hold(api, image_id, at_rest)
        cloud.stop(signal.SIGKILL)
        db = sqlite3.connect(tmp_path / "ministack.db")
        with db:
            db.execute(
                "UPDATE volume_volumes SET status = 'detaching' WHERE id = ?",
                (at_rest[st.DETACHING],),
            )
        db.close()
        held[("volume", st.DETACHING)] = at_rest[st.DETACHING]
        del cloud.env["MINISTACK_VOLUME_TEST_DELAYS"]
        cloud.start()
        api.refresh()
        _check(api, held, tmp_path / "volumes")
    finally:
        cloud.stop()


def _check(api: Api, held: dict[tuple[str, str], str], volumes: Path) -> None:
    files = {p.name for p in volumes.iterdir()}
    v = {
        status: api.get("volumes", ident)
        for (kind, status), ident in held.items()
        if kind == "volume"
    }
    for status in (st.CREATING, st.DOWNLOADING):
        item = v[status]
        assert item is not None and item["status"] == st.ERROR, (status, item)
        assert item["consumes_quota"] is False
        assert f"volume-{item['id']}" not in files
    assert v[st.DELETING] is None
    assert f"volume-{held[('volume', st.DELETING)]}" not in files
    extended = v[st.EXTENDING]
    assert extended is not None and (extended["status"], extended["size"]) == (
        st.ERROR_EXTENDING,
        1,
    )
    assert v[st.UPLOADING] is not None and v[st.UPLOADING]["status"] == st.AVAILABLE
    for status in (st.RESERVED, st.ATTACHING, st.DETACHING):
        assert v[status] is not None and v[status]["status"] == status, (status, v[status])
    creating = api.get("snapshots", held[("snapshot", st.CREATING)])
    assert creating is not None and creating["status"] == st.ERROR
    assert f"snapshot-{creating['id']}" not in files
    assert api.get("snapshots", held[("snapshot", st.DELETING)]) is None
    assert f"snapshot-{held[('snapshot', st.DELETING)]}" not in files
    assert not [f for f in files if f.startswith(".tmp-")]
