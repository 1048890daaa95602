"""Refused requests answer Cinder's error bodies and leave nothing behind (PROMISES 13):
deleting an attached volume or one with snapshots, sizes below the snapshot or the source,
bad sizes, names and types, unknown resources, over quota (413 overLimit)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.volume.conftest import Env
from tests.api.volume.test_attachments import CONNECTOR
from tests.nothing_made import nothing_made


def _volume(env: Env, who: str = "a_member", size: int = 1) -> str:
    with env.http(who) as http:
        resp = http.post("/volumes", json={"volume": {"size": size}})
        assert resp.status_code == 202, resp.text
        vol_id: str = resp.json()["volume"]["id"]
    env.wait(vol_id, "available", who=who)
    return vol_id


def _delete(env: Env, vol_id: str, who: str = "a_member") -> None:
    with env.http(who) as http:
        assert http.delete(f"/volumes/{vol_id}").status_code == 202
    env.wait(vol_id, "deleted", who=who)


@pytest.mark.parametrize(
    "body",
    [
        {"volume": {"size": 0}},
        {"volume": {"size": -1}},
        {"volume": {"size": "abc"}},
        {"volume": {"size": 1.5}},
        {"volume": {}},
        {"volume": {"size": 1, "name": "x" * 256}},
        {"volume": {"size": 1, "metadata": {"k": 1}}},
        {"volume": {"size": 1, "snapshot_id": "not-a-uuid"}},
        {"volume": {"size": 1, "volume_type": 5}},
        {"volume": {"size": 1, "availability_zone": "nowhere"}},
        {"volume": "x"},
        {"volumes": {"size": 1}},
    ],
)
def test_bad_create_bodies_are_400(volume_env: Env, body: dict[str, Any]) -> None:
    with nothing_made(volume_env.cloud), volume_env.http("a_member") as http:
        resp = http.post("/volumes", json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["badRequest"]["code"] == 400


def test_unknown_things_are_404(volume_env: Env) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    with nothing_made(volume_env.cloud), volume_env.http("a_member") as http:
        resp = http.post("/volumes", json={"volume": {"size": 1, "volume_type": "nope"}})
        assert resp.status_code == 404 and "itemNotFound" in resp.json()
        resp = http.post("/volumes", json={"volume": {"snapshot_id": missing}})
        assert resp.status_code == 404
        assert resp.json()["itemNotFound"]["message"] == f"Snapshot {missing} could not be found."
        assert http.get(f"/volumes/{missing}").status_code == 404
        assert http.delete(f"/volumes/{missing}").status_code == 404
        assert (
            http.post(f"/volumes/{missing}/action", json={"os-extend": {"new_size": 2}}).status_code
            == 404
        )


def test_delete_of_an_attached_volume_or_one_with_snapshots_is_400(volume_env: Env) -> None:
    vol_id = _volume(volume_env)
    with volume_env.http("a_member") as http:
        resp = http.post("/snapshots", json={"snapshot": {"volume_id": vol_id}})
        snap_id = resp.json()["snapshot"]["id"]
    volume_env.wait(snap_id, "available", who="a_member", kind="snapshots")
    with nothing_made(volume_env.cloud), volume_env.http("a_member") as http:
        resp = http.delete(f"/volumes/{vol_id}")
        assert resp.status_code == 400
        assert "dependent snapshots" in resp.json()["badRequest"]["message"]
        # a snapshot's size is the floor of a volume made from it
        resp = http.post("/volumes", json={"volume": {"size": 0, "snapshot_id": snap_id}})
        assert resp.status_code == 400
    with volume_env.http("a_member") as http:
        http.delete(f"/snapshots/{snap_id}")
    volume_env.wait(snap_id, "deleted", who="a_member", kind="snapshots")
    with volume_env.http("a_member") as http:
        att = http.post(
            "/attachments",
            json={"attachment": {"volume_uuid": vol_id, "instance_uuid": vol_id}},
        ).json()["attachment"]
    with nothing_made(volume_env.cloud), volume_env.http("a_member") as http:
        resp = http.delete(f"/volumes/{vol_id}")
        assert resp.status_code == 400
        assert "attached" in resp.json()["badRequest"]["message"]
        # not multiattach: another instance may not attach it (the same one may, as Cinder
        # lets a server move its attachment to another host)
        other = str(uuid.uuid4())
        second = http.post(
            "/attachments",
            json={"attachment": {"volume_uuid": vol_id, "instance_uuid": other}},
        )
        assert second.status_code == 400
        assert http.post("/snapshots", json={"snapshot": {"volume_id": vol_id}}).status_code == 400
    with volume_env.http("a_member") as http:
        assert http.delete(f"/attachments/{att['id']}").status_code == 200
    _delete(volume_env, vol_id)


def test_forced_snapshot_of_an_in_use_volume_is_400(volume_env: Env) -> None:
    """A copy taken while a guest may write is not crash-consistent: refused with 400 to a
    member and to an admin alike (compute snapshots a stopped volume-backed server)."""
    vol_id = _volume(volume_env)
    body = {"attachment": {"volume_uuid": vol_id, "instance_uuid": str(uuid.uuid4())}}
    with volume_env.http("a_member") as http:
        att = http.post(
            "/attachments", json={"attachment": {**body["attachment"], "connector": CONNECTOR}}
        ).json()["attachment"]
        assert (
            http.post(f"/attachments/{att['id']}/action", json={"os-complete": None}).status_code
            == 204
        )
    volume_env.wait(vol_id, "in-use")
    for who in ("a_member", "admin"):
        with nothing_made(volume_env.cloud), volume_env.http(who) as http:
            forced = http.post(
                "/snapshots", json={"snapshot": {"volume_id": vol_id, "force": True}}
            )
            assert forced.status_code == 400, forced.text
            assert "crash-consistent" in forced.json()["badRequest"]["message"]
    with volume_env.http("a_member") as http:
        assert http.delete(f"/attachments/{att['id']}").status_code == 200
        listed = http.get("/snapshots", params={"volume_id": vol_id}).json()["snapshots"]
        assert listed == []
    volume_env.wait(vol_id, "available")
    _delete(volume_env, vol_id)


def test_sizes_below_the_source_and_bad_extends_are_400(volume_env: Env) -> None:
    vol_id = _volume(volume_env, size=2)
    with nothing_made(volume_env.cloud), volume_env.http("a_member") as http:
        resp = http.post("/volumes", json={"volume": {"size": 1, "source_volid": vol_id}})
        assert resp.status_code == 400
        assert "cannot be smaller than the source volume size 2GB" in resp.text
        for new_size in (1, 2):
            resp = http.post(
                f"/volumes/{vol_id}/action", json={"os-extend": {"new_size": new_size}}
            )
            assert resp.status_code == 400
            assert "must be greater than current size" in resp.json()["badRequest"]["message"]
        resp = http.post(f"/volumes/{vol_id}/action", json={"os-extend": {"new_size": "x"}})
        assert resp.status_code == 400
        resp = http.post(f"/volumes/{vol_id}/action", json={"os-frobnicate": {}})
        assert resp.status_code == 400
    _delete(volume_env, vol_id)


def test_over_quota_is_413_with_cinders_body(volume_env: Env) -> None:
    b = volume_env.people["b_member"].project_id
    with volume_env.http("admin") as admin:
        resp = admin.put(f"/os-quota-sets/{b}", json={"quota_set": {"volumes": 1, "gigabytes": 3}})
        assert resp.status_code == 200, resp.text
    try:
        vol_id = _volume(volume_env, "b_member")
        with nothing_made(volume_env.cloud), volume_env.http("b_member") as http:
            resp = http.post("/volumes", json={"volume": {"size": 1}})
            assert resp.status_code == 413
            assert resp.json()["overLimit"]["message"] == (
                "Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
            )
            resp = http.post(f"/volumes/{vol_id}/action", json={"os-extend": {"new_size": 4}})
            assert resp.status_code == 413
            assert "exceeds allowed gigabytes quota" in resp.json()["overLimit"]["message"]
        _delete(volume_env, vol_id, "b_member")
    finally:
        with volume_env.http("admin") as admin:
            admin.delete(f"/os-quota-sets/{b}")
