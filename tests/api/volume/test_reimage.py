"""os-reimage (Block Storage 3.68): an image written onto a volume that exists, as Nova's
rebuild of a volume-backed server asks. The volume's data and image metadata become the new
image's; a failure keeps the old data and puts the volume back in its status with the reason;
bad input is 4xx and changes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.api.volume.conftest import Env
from tests.api.volume.test_data import _image
from tests.nothing_made import nothing_made

MiB = 1 << 20


def _reimage(
    env: Env, volume_id: str, image_id: str, version: str = "3.68", **more: object
) -> httpx.Response:
    with env.http("a_member", version) as http:
        body = {"os-reimage": {"image_id": image_id, **more}}
        return http.post(f"/volumes/{volume_id}/action", json=body)


def _volume_from(env: Env, image_id: str) -> str:
    with env.http("a_member") as http:
        resp = http.post("/volumes", json={"volume": {"size": 1, "imageRef": image_id}})
        assert resp.status_code == 202, resp.text
        vol_id = str(resp.json()["volume"]["id"])
    env.wait(vol_id, "available", who="a_member")
    return vol_id


def test_reimage_writes_the_new_image(volume_env: Env, tmp_path: Path) -> None:
    old = _image(volume_env, tmp_path, "raw", 0x11)
    new = _image(volume_env, tmp_path, "qcow2", 0x22)
    vol_id = _volume_from(volume_env, old)
    volume_env.write(vol_id, 0x33, offset=2 * MiB)  # what a guest wrote since
    resp = _reimage(volume_env, vol_id, new)
    assert resp.status_code == 202, resp.text
    vol = volume_env.wait(vol_id, "available", who="a_member")
    assert vol["volume_image_metadata"]["image_id"] == new
    assert vol["volume_image_metadata"]["disk_format"] == "qcow2"
    assert vol["bootable"] == "true"
    assert volume_env.read(vol_id, MiB) == bytes([0x22]) * MiB
    assert volume_env.read(vol_id, MiB, offset=2 * MiB) == bytes(MiB)  # the guest's data gone
    # the CLI reads the same image metadata
    shown = volume_env.cli(
        "a_member", "volume", "show", vol_id, "-f", "value", "-c", "volume_image_metadata"
    )
    assert new in shown
    volume_env.cli("a_member", "volume", "delete", vol_id)
    volume_env.wait(vol_id, "deleted", who="a_member")
    assert not any(vol_id in f for f in volume_env.volume_files())


def test_reimage_bad_input_changes_nothing(volume_env: Env, tmp_path: Path) -> None:
    image = _image(volume_env, tmp_path, "raw", 0x44)
    vol_id = _volume_from(volume_env, image)
    with volume_env.http("a_member") as http:  # a reserved attachment: a server holds it
        resp = http.post("/attachments", json={"attachment": {"volume_uuid": vol_id}})
        assert resp.status_code == 200, resp.text
        att_id = resp.json()["attachment"]["id"]
    with nothing_made(volume_env.cloud):
        resp = _reimage(volume_env, vol_id, image, version="3.67")
        assert resp.status_code == 404, resp.text
        resp = _reimage(volume_env, vol_id, str(uuid.uuid4()), reimage_reserved=True)
        assert resp.status_code == 400, resp.text
        assert "unable to access requested image" in resp.json()["badRequest"]["message"]
        resp = _reimage(volume_env, vol_id, image)  # reserved, and not reimage_reserved
        assert resp.status_code == 400, resp.text
        message = resp.json()["badRequest"]["message"]
        assert "status must be available, error" in message and "reserved" in message
        resp = _reimage(volume_env, vol_id, "not-a-uuid")
        assert resp.status_code == 400, resp.text
        with volume_env.http("a_reader", "3.68") as http:
            body = {"os-reimage": {"image_id": image}}
            assert http.post(f"/volumes/{vol_id}/action", json=body).status_code == 403
        with volume_env.http("b_member", "3.68") as http:
            body = {"os-reimage": {"image_id": image}}
            assert http.post(f"/volumes/{vol_id}/action", json=body).status_code == 404
    assert volume_env.wait(vol_id, "reserved", who="a_member")
    resp = _reimage(volume_env, vol_id, image, reimage_reserved=True)  # as Nova asks
    assert resp.status_code == 202, resp.text
    volume_env.wait(vol_id, "reserved", who="a_member")
    with volume_env.http("a_member") as http:
        assert http.delete(f"/attachments/{att_id}").status_code == 200
    volume_env.cli("a_member", "volume", "delete", vol_id)
    volume_env.wait(vol_id, "deleted", who="a_member")


def test_failed_reimage_keeps_the_old_data(volume_env: Env, tmp_path: Path) -> None:
    """The new image's stored file is damaged: the volume is not left downloading; it is
    available again with its old data and the reason as its fault."""
    old = _image(volume_env, tmp_path, "raw", 0x55)
    bad = _image(volume_env, tmp_path, "raw", 0x66)
    vol_id = _volume_from(volume_env, old)
    stored = [p for p in (volume_env.cloud.state_dir / "images").rglob("*") if bad in p.name]
    assert stored, "the image store layout changed"
    with stored[0].open("r+b") as fh:
        fh.truncate(100)
    resp = _reimage(volume_env, vol_id, bad)
    assert resp.status_code == 202, resp.text
    vol = volume_env.wait(vol_id, "available", who="a_member")
    assert vol["volume_image_metadata"]["image_id"] == old
    assert volume_env.read(vol_id, MiB) == bytes([0x55]) * MiB
    with volume_env.http("a_member") as http:  # why, as Cinder's user messages say it
        (message,) = [
            msg
            for msg in http.get("/messages").json()["messages"]
            if msg["resource_uuid"] == vol_id
        ]
    assert f"Re-imaging volume {vol_id} with image {bad} failed" in message["user_message"]
    assert "checksum" in message["user_message"], message
    assert not [f for f in volume_env.volume_files() if f.startswith(".tmp-")]
    volume_env.cli("a_member", "volume", "delete", vol_id)
    volume_env.wait(vol_id, "deleted", who="a_member")
