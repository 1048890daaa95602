"""Kill the process in every transitional block device mapping status (PROMISES 4; compute
`states.BDM_TRANSITIONAL`).

One cloud (identity, image, placement, compute with a fake host, volume). Its resources are
made at rest, then it restarts with a file-backend delay that holds every volume creation:
a server booting from a new volume (image source) and an existing bootable volume leaves its
root mapping `creating` and the other `pending`; a fake-driver delay holds an
os-volume_attachments attach (`attaching`) and a detach (`detaching`). The process is
SIGKILLed there and started again without delays. Then each mapping ends as its row's
restart rule says: "discard" — the build is ERROR, the volume compute was making is
deleted, the user's volume is available with no attachment and no mapping is left;
"resume" — the attach completes (in-use) and the detach finishes (available)."""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ministack.compute import states as cs
from tests.api.compute.conftest import FAKE_ENV, SERVICES, Compute, prepare
from tests.cloud import make_cloud

HOLD = 900.0


def _until(what: str, check: Callable[[], bool], deadline: float = 120.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


@pytest.fixture(scope="module")
def compute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compute]:
    tmp: Path = tmp_path_factory.mktemp("bdmwalk")
    env = {**FAKE_ENV, "MINISTACK_COMPUTE_FAKE_HOSTS": "1"}
    cloud = make_cloud(tmp, services=(*SERVICES, "volume"), extra_env=env)
    cloud.start()
    try:
        yield prepare(cloud)
    finally:
        cloud.stop()


def _rows(c: Compute, server_id: str) -> dict[str | None, tuple[str, str | None]]:
    """The server's mappings: volume id → (status, source_type), read from the database."""
    with sqlite3.connect(f"file:{c.cloud.state_dir / 'ministack.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT volume_id, status, source_type FROM compute_block_device_mappings "
            "WHERE instance_uuid = ?",
            (server_id,),
        ).fetchall()
    return {v: (status, source) for v, status, source in rows}


def _volume(c: Compute, volume_id: str) -> Any:
    return c.conn.block_storage.find_volume(volume_id)


def _make_volume(c: Compute, **kw: Any) -> str:
    made = c.conn.block_storage.create_volume(size=1, name=f"w-{uuid.uuid4().hex[:6]}", **kw)
    _until(f"{made.id} available", lambda: _volume(c, made.id).status == "available")
    return str(made.id)


def _server(c: Compute, bdms: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {
        "name": f"w-{uuid.uuid4().hex[:6]}",
        "flavorRef": c.flavor_id,
        "imageRef": "" if bdms else c.image_id,
        "networks": "none",
    }
    if bdms:
        body["block_device_mapping_v2"] = bdms
    resp = c.api("POST", "/servers", "2.67", json={"server": body})
    assert resp.status_code == 202, resp.text
    server_id: str = resp.json()["server"]["id"]
    return server_id


def _status(c: Compute, server_id: str) -> str:
    return str(c.api("GET", f"/servers/{server_id}").json()["server"]["status"])


def _attach(c: Compute, server_id: str, volume_id: str) -> None:
    body = {"volumeAttachment": {"volumeId": volume_id}}
    resp = c.api("POST", f"/servers/{server_id}/os-volume_attachments", json=body)
    assert resp.status_code == 200, resp.text


def test_every_bdm_row_has_a_walk() -> None:
    walked = {cs.BDM_CREATING, cs.BDM_PENDING, cs.BDM_ATTACHING, cs.BDM_DETACHING}
    assert {t.status for t in cs.BDM_TRANSITIONAL} == walked
    for row in cs.BDM_TRANSITIONAL:
        assert row.owner == "agent" and row.timeout > 0
        assert row.restart in ("discard", "resume")


def test_kill_in_every_bdm_status_then_restart(compute: Compute) -> None:
    c, cloud = compute, compute.cloud
    (host,) = c.hosts
    user_volume, to_attach, to_detach = (
        _make_volume(c, image_id=c.image_id),
        *(_make_volume(c) for _ in range(2)),
    )
    steady = _server(c)
    _until("steady ACTIVE", lambda: _status(c, steady) == "ACTIVE")
    _attach(c, steady, to_detach)
    _until("attached", lambda: _volume(c, to_detach).status == "in-use")

    cloud.stop()
    cloud.env["MINISTACK_VOLUME_TEST_DELAYS"] = f"create={HOLD:g}"
    cloud.start()
    c.conn = cloud.connect()
    c.set_fake(host, delay={"attach_volume": HOLD, "detach_volume": HOLD})
    _attach(c, steady, to_attach)
    resp = c.api("DELETE", f"/servers/{steady}/os-volume_attachments/{to_detach}")
    assert resp.status_code == 202, resp.text
    root = {
        "uuid": c.image_id,
        "source_type": "image",
        "destination_type": "volume",
        "boot_index": 0,
        "volume_size": 1,
    }
    second = {"uuid": user_volume, "source_type": "volume", "destination_type": "volume"}
    building = _server(c, [root, second])

    def held() -> bool:
        rows, steady_rows = _rows(c, building), _rows(c, steady)
        made = [v for v, (status, _) in rows.items() if status == cs.BDM_CREATING and v]
        return (
            len(made) == 1
            and rows.get(user_volume, ("", None))[0] == cs.BDM_PENDING
            and steady_rows.get(to_attach, ("", None))[0] == cs.BDM_ATTACHING
            and steady_rows.get(to_detach, ("", None))[0] == cs.BDM_DETACHING
        )

    _until("every mapping status held", held)
    (made,) = [v for v, (status, _) in _rows(c, building).items() if status == cs.BDM_CREATING]
    assert made is not None and _volume(c, made).status in ("creating", "downloading")

    cloud.stop(signal.SIGKILL)
    del cloud.env["MINISTACK_VOLUME_TEST_DELAYS"]
    cloud.start()
    c.conn = cloud.connect()

    # discard: the build is ERROR, nothing it made is left, the user's volume is free again
    _until("build ERROR", lambda: _status(c, building) == "ERROR")
    _until("made volume deleted", lambda: _volume(c, made) is None)
    _until("user volume available", lambda: _volume(c, user_volume).status == "available")
    assert not _volume(c, user_volume).attachments
    assert _rows(c, building) == {}
    # resume: the attach and the detach of the steady server finish
    _until("attach resumed", lambda: _volume(c, to_attach).status == "in-use")
    _until("detach resumed", lambda: _volume(c, to_detach).status == "available")
    assert _rows(c, steady) == {to_attach: (cs.BDM_ATTACHED, "volume")}
    assert _status(c, steady) == "ACTIVE"
