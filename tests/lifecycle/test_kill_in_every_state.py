"""Kill the process in every transitional state (PROMISES 4, 1, 2; issue 9).

The walk iterates over the transitional-state tables of every service (compute's
`states.TRANSITIONAL`, the image service's `image.states.TRANSITIONAL`) and fails when a row
has no way here to reach it. In one process start it drives a resource into each state —
a fake-driver delay holds each compute action in its task_state, a request body that stops
streaming holds an image in `saving` or `uploading` — then SIGKILLs the process, starts it
again and checks each resource left its state as the row's restart rule says. States that no
delay can hold (the instant between two steps of one operation) are written into the stopped
process's database, as a kill at that instant would have left them.

The same restart checks the fake driver's promise: servers at rest (ACTIVE, SHUTOFF) on the
fake driver are still so afterwards, and a server deleted before the kill left nothing.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ministack.compute import states as cs
from ministack.compute.claims import node_uuid
from ministack.image import states as ims
from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.cloud import make_cloud

ENV = {
    "MINISTACK_COMPUTE_FAKE_HOSTS": "2",
    "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    "MINISTACK_COMPUTE_FAKE_MEMORY_MB": "16384",
    "MINISTACK_COMPUTE_ALLOW_RESIZE_TO_SAME_HOST": "0",
}
HOLD = 900.0  # a fake-driver delay no test outlives: the kill comes first
SLOW_OPS = (
    "spawn",
    "destroy",
    "power_off",
    "power_on",
    "reboot",
    "pause",
    "unpause",
    "suspend",
    "resume",
    "snapshot",
    "live_migrate",
)


Act = Callable[["Walk", str], None]


def _action(body: dict[str, Any]) -> Act:
    def act(w: Walk, server_id: str) -> None:
        resp = w.compute.api("POST", f"/servers/{server_id}/action", json=body)
        assert resp.status_code in (200, 202, 204), resp.text

    return act


def _delete(w: Walk, server_id: str) -> None:
    assert w.compute.api("DELETE", f"/servers/{server_id}").status_code == 204


def _rebuild(w: Walk, server_id: str) -> None:
    _action({"rebuild": {"imageRef": w.compute.image_id}})(w, server_id)


def _resize(w: Walk, server_id: str) -> None:
    _action({"resize": {"flavorRef": w.flavor2}})(w, server_id)


# task_state -> (the status a server is prepared in, the action whose driver call is held);
# spawning is held by creating a server while the delays are on.
HELD: dict[str, tuple[str, Act | None]] = {
    cs.SPAWNING: ("", None),
    cs.DELETING: ("ACTIVE", _delete),
    cs.POWERING_OFF: ("ACTIVE", _action({"os-stop": None})),
    cs.POWERING_ON: ("SHUTOFF", _action({"os-start": None})),
    cs.REBOOTING: ("ACTIVE", _action({"reboot": {"type": "SOFT"}})),
    cs.REBOOTING_HARD: ("ACTIVE", _action({"reboot": {"type": "HARD"}})),
    cs.PAUSING: ("ACTIVE", _action({"pause": None})),
    cs.UNPAUSING: ("PAUSED", _action({"unpause": None})),
    cs.SUSPENDING: ("ACTIVE", _action({"suspend": None})),
    cs.RESUMING: ("SUSPENDED", _action({"resume": None})),
    cs.REBUILDING: ("ACTIVE", _rebuild),
    cs.IMAGE_UPLOADING: ("ACTIVE", _action({"createImage": {"name": "walk-snapshot"}})),
    cs.RESIZE_PREP: ("ACTIVE", _resize),
    cs.RESIZE_CONFIRMING: ("VERIFY_RESIZE", _action({"confirmResize": None})),
    cs.RESIZE_REVERTING: ("VERIFY_RESIZE", _action({"revertResize": None})),
    cs.MIGRATING: (
        "ACTIVE",
        _action({"os-migrateLive": {"host": None, "block_migration": "auto"}}),
    ),
}
# The instant between two steps of one operation: written while the process is down.
INJECTED: dict[str, str] = {
    cs.SCHEDULING: cs.BUILDING,  # the conductor picked the host, the agent had not begun
    cs.NETWORKING: cs.BUILDING,
    cs.BLOCK_DEVICE_MAPPING: cs.BUILDING,
    cs.REBUILD_BLOCK_DEVICE_MAPPING: cs.ACTIVE,  # the old guest destroyed, disks being readied
    cs.REBUILD_SPAWNING: cs.ACTIVE,  # the old guest destroyed, the new one not spawned
    cs.RESIZE_MIGRATING: cs.ACTIVE,
    cs.RESIZE_FINISH: cs.ACTIVE,
    cs.IMAGE_SNAPSHOT: cs.ACTIVE,  # the API accepted createImage, the agent had not begun
    # issue 15: each step of shelve, unshelve, soft delete, rescue and backup, the guest
    # still running as it was before the action began
    **dict.fromkeys(
        (
            cs.IMAGE_BACKUP,
            cs.SHELVING,
            cs.SHELVING_IMAGE_PENDING_UPLOAD,
            cs.SHELVING_IMAGE_UPLOADING,
            cs.SHELVING_OFFLOADING,
            cs.UNSHELVING,
            cs.SOFT_DELETING,
            cs.RESTORING,
            cs.RESCUING,
            cs.UNRESCUING,
        ),
        cs.ACTIVE,
    ),
}
# Cleared states the restarted agent finishes instead (reconcile_lifecycle): the server ends
# as the action would have left it, not as it was before.
FINISHED: dict[str, str] = {cs.SOFT_DELETING: "SOFT_DELETED"}
# Image statuses: held by a request body that stops streaming, or injected (importing).
IMAGE_HELD = {"saving": "file", "uploading": "stage"}
IMAGE_INJECTED = ("importing",)


@dataclass
class Walk:
    compute: Compute
    flavor2: str
    project_id: str


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    tmp: Path = tmp_path_factory.mktemp("killwalk")
    cloud = make_cloud(tmp, services=SERVICES, extra_env=ENV)
    cloud.start()
    try:
        c = prepare(cloud)
        project_id = c.conn.current_project_id
        quota = {"instances": 100, "cores": 200, "ram": 100000}
        resp = c.api("PUT", f"/os-quota-sets/{project_id}", json={"quota_set": quota})
        assert resp.status_code == 200, resp.text
        flavor2 = c.conn.compute.create_flavor(
            name=f"walk-{uuid.uuid4().hex[:6]}", ram=128, vcpus=1, disk=1
        )
        yield Walk(c, flavor2.id, project_id)
    finally:
        cloud.stop()


def _status(c: Compute, server_id: str) -> dict[str, Any]:
    resp = c.api("GET", f"/servers/{server_id}", version="2.38")
    if resp.status_code == 404:
        return {"status": "GONE"}
    server: dict[str, Any] = resp.json()["server"]
    return server


def _until(what: str, check: Callable[[], bool], deadline: float = 120.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def _boot(c: Compute, host: str) -> str:
    body = {
        "server": {
            "name": f"walk-{uuid.uuid4().hex[:6]}",
            "imageRef": c.image_id,
            "flavorRef": c.flavor_id,
            "networks": "none",
            "availability_zone": f"nova:{host}",
        }
    }
    resp = c.api("POST", "/servers", json=body)
    assert resp.status_code == 202, resp.text
    server_id: str = resp.json()["server"]["id"]
    return server_id


def _task(server: dict[str, Any]) -> str | None:
    task: str | None = server.get("OS-EXT-STS:task_state")
    return task


def _prepare_server(w: Walk, host: str, status: str) -> str:
    c = w.compute
    server_id = _boot(c, host)
    _until(f"{server_id} ACTIVE", lambda: _status(c, server_id)["status"] == "ACTIVE")
    setup = {
        "SHUTOFF": {"os-stop": None},
        "PAUSED": {"pause": None},
        "SUSPENDED": {"suspend": None},
        "VERIFY_RESIZE": {"resize": {"flavorRef": w.flavor2}},
    }
    if status in setup:
        _action(setup[status])(w, server_id)
        _until(f"{server_id} {status}", lambda: _status(c, server_id)["status"] == status)
    return server_id


class StalledUpload:
    """A PUT of image data that sends one chunk, then nothing until the process dies."""

    def __init__(self, url: str, token: str) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url, token), daemon=True)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        yield b"\0" * 65536
        self.stop.wait(HOLD)

    def _run(self, url: str, token: str) -> None:
        headers = {"X-Auth-Token": token, "Content-Type": "application/octet-stream"}
        try:
            httpx.put(url, content=self._body(), headers=headers, timeout=HOLD)
        except httpx.HTTPError:
            pass  # the process was killed under it


def _image(w: Walk, name: str) -> str:
    image = w.compute.conn.image.create_image(name=name, disk_format="raw", container_format="bare")
    image_id: str = image.id
    return image_id


def _image_status(w: Walk, image_id: str) -> dict[str, Any]:
    c = w.compute
    resp = httpx.get(
        f"{c.cloud.url('image')}/v2/images/{image_id}",
        headers={"X-Auth-Token": c.conn.auth_token},
        timeout=30,
    )
    body: dict[str, Any] = resp.json()
    return body


def _put_data(w: Walk, image_id: str, path: str) -> int:
    """PUT a small raw body to /file or /stage of an image; the status code."""
    c = w.compute
    resp = httpx.put(
        f"{c.cloud.url('image')}/v2/images/{image_id}/{path}",
        content=b"\0" * 4096,
        headers={"X-Auth-Token": c.conn.auth_token, "Content-Type": "application/octet-stream"},
        timeout=30,
    )
    return resp.status_code


def _sql(db: Path, statement: str, *args: object) -> None:
    with sqlite3.connect(db) as conn:
        changed = conn.execute(statement, args).rowcount
    assert changed == 1, statement


def test_every_table_row_has_a_walk() -> None:
    assert set(HELD) | set(INJECTED) == {t.task_state for t in cs.TRANSITIONAL}
    assert not set(HELD) & set(INJECTED)
    assert set(IMAGE_HELD) | set(IMAGE_INJECTED) == {t.status for t in ims.TRANSITIONAL}
    for row in cs.TRANSITIONAL:
        assert row.owner in ("conductor", "agent") and row.timeout > 0
    for image_row in ims.TRANSITIONAL:
        assert image_row.timeout > 0 and image_row.restart == "queued"


def test_kill_in_every_state_then_restart(walk: Walk) -> None:
    c, cloud = walk.compute, walk.compute.cloud
    hosts = c.hosts
    # servers at rest and the ones each held action starts from, prepared with no delay
    at_rest = {"ACTIVE": _prepare_server(walk, hosts[0], "ACTIVE")}
    at_rest["SHUTOFF"] = _prepare_server(walk, hosts[1], "SHUTOFF")
    deleted = _prepare_server(walk, hosts[1], "ACTIVE")
    _delete(walk, deleted)
    _until("deleted server gone", lambda: _status(c, deleted)["status"] == "GONE")
    prepared = {
        state: _prepare_server(walk, hosts[i % 2], status)
        for i, (state, (status, _)) in enumerate(HELD.items())
        if status
    }
    injected = {state: _prepare_server(walk, hosts[0], "ACTIVE") for state in INJECTED}
    staged, importing = _image(walk, "walk-staged"), _image(walk, "walk-importing")
    assert _put_data(walk, staged, "stage") == _put_data(walk, importing, "stage") == 204

    # now every driver call waits, and each resource enters its state
    for host in hosts:
        c.set_fake(host, delay=dict.fromkeys(SLOW_OPS, HOLD))
    held = dict(prepared)
    held[cs.SPAWNING] = _boot(c, hosts[0])
    for state, server_id in prepared.items():
        act = HELD[state][1]
        assert act is not None
        act(walk, server_id)
    for state, server_id in held.items():
        _until(f"{server_id} in {state}", lambda s=server_id, t=state: _task(_status(c, s)) == t)
    stalled = {}
    for status, path in IMAGE_HELD.items():
        image_id = _image(walk, f"walk-{status}")
        url = f"{cloud.url('image')}/v2/images/{image_id}/{path}"
        stalled[status] = (image_id, StalledUpload(url, c.conn.auth_token))
        _until(
            f"image {status}", lambda i=image_id, s=status: _image_status(walk, i)["status"] == s
        )

    cloud.stop(signal.SIGKILL)
    db = cloud.state_dir / "ministack.db"
    for state, server_id in injected.items():
        _sql(
            db,
            "UPDATE compute_instances SET vm_state = ?, task_state = ? WHERE uuid = ?",
            INJECTED[state],
            state,
            server_id,
        )
    _sql(db, "UPDATE image_images SET status = 'importing' WHERE id = ?", importing)
    cloud.start()
    c.conn = cloud.connect()

    _check_servers(walk, {**held, **injected})
    _check_live_migration(walk, held[cs.MIGRATING])
    _check_fake_guests(walk, at_rest, deleted)
    _check_images(walk, stalled, importing, staged)


def _check_servers(w: Walk, servers: dict[str, str]) -> None:
    """Every server left its transitional state as the state's restart rule says."""
    c = w.compute
    _until(
        "every server left its transitional state",
        lambda: all(
            _task(_status(c, s)) is None or _status(c, s)["status"] in ("ERROR", "GONE")
            for s in servers.values()
        ),
    )
    for state, server_id in servers.items():
        rule = cs.BY_TASK_STATE[state].restart
        server = _status(c, server_id)
        if rule == "resume":
            assert server["status"] == "GONE", (state, server)
        elif rule == "error":
            assert server["status"] == "ERROR", (state, server)
            assert f"restarted during {state}" in server["fault"]["message"], (state, server)
        else:
            assert _task(server) is None, (state, server)
            before = HELD[state][0] if state in HELD else FINISHED.get(state, "ACTIVE")
            assert server["status"] == before, (state, server)  # the held call never ran


def _check_live_migration(w: Walk, server_id: str) -> None:
    """The live migration the kill cut short is failed and its claims are given back: the
    server holds its own host's allocation only, the migration's uuid nothing."""
    c = w.compute
    resp = c.api("GET", "/os-migrations", version="2.59", params={"instance_uuid": server_id})
    (mig,) = resp.json()["migrations"]
    assert mig["status"] == "failed", mig
    host = _status(c, server_id)["OS-EXT-SRV-ATTR:host"]
    assert host == mig["source_compute"]
    assert set(c.allocations(server_id)) == {node_uuid(host)}
    assert c.allocations(mig["uuid"]) == {}


def _check_fake_guests(w: Walk, at_rest: dict[str, str], deleted: str) -> None:
    """The fake driver kept its guests: servers at rest are as they were, and deletable; a
    server deleted before the kill (and the ones deleted now) left no guest record."""
    c = w.compute
    for status, server_id in at_rest.items():
        assert _status(c, server_id)["status"] == status
    assert _status(c, deleted)["status"] == "GONE"
    for server_id in at_rest.values():
        _delete(w, server_id)
        _until("deleted", lambda s=server_id: _status(c, s)["status"] == "GONE")
    records = (c.cloud.state_dir / "fake-hosts").glob("*.json")
    left = {u for path in records for u in json.loads(path.read_text())}
    assert not left & {deleted, *at_rest.values()}, left


def _check_images(
    w: Walk, stalled: dict[str, tuple[str, StalledUpload]], importing: str, staged: str
) -> None:
    """Images back to queued with no data and no files, and their data calls work again; a
    finished stage (not transitional) stays uploading and imports after the restart."""
    images = w.compute.cloud.state_dir / "images"
    for image_id, upload in stalled.values():
        upload.stop.set()  # its client notices the dead connection on the next send
        upload.thread.join(30)
        shown = _image_status(w, image_id)
        assert (shown["status"], shown["size"], shown["checksum"]) == ("queued", None, None)
    assert _image_status(w, importing)["status"] == "queued"
    assert not (images / "staging" / importing).exists()
    assert not list((images / "tmp").glob("*.part"))
    assert _image_status(w, staged)["status"] == "uploading"
    resp = httpx.post(
        f"{w.compute.cloud.url('image')}/v2/images/{staged}/import",
        json={"method": {"name": "glance-direct"}},
        headers={"X-Auth-Token": w.compute.conn.auth_token},
        timeout=30,
    )
    assert resp.status_code == 202, resp.text
    _until("staged image active", lambda: _image_status(w, staged)["status"] == "active")
    assert _put_data(w, stalled["saving"][0], "file") == 204
    assert _put_data(w, stalled["uploading"][0], "stage") == 204
    assert _put_data(w, importing, "stage") == 204
