"""A volume's bytes: created from raw and qcow2 images, kept by snapshots, shared by clones
copy-on-write, gone with the volume (PROMISES 21), and a create from an image that fails
half-way leaves an error with its reason, no file and its quota given back."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.api.volume.conftest import Env
from tests.nothing_made import nothing_made

MiB = 1 << 20


def _image(env: Env, tmp_path: Path, fmt: str, pattern: int) -> str:
    """An active image of `fmt` whose first MiB is `pattern` (virtual size 64 MiB)."""
    path = tmp_path / f"img.{fmt}"
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), "64M"], check=True)
    subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"write -P {pattern} 0 1M", str(path)],
        check=True,
        capture_output=True,
    )
    conn = env.people["a_member"].conn
    image = conn.image.create_image(
        name=f"img-{uuid.uuid4().hex[:6]}",
        disk_format=fmt,
        container_format="bare",
        data=path.read_bytes(),
    )
    return str(image.id)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_volume_from_image_holds_its_bytes(volume_env: Env, tmp_path: Path, fmt: str) -> None:
    image_id = _image(volume_env, tmp_path, fmt, 0x5A)
    out = volume_env.cli(
        "a_member",
        "volume",
        "create",
        "--image",
        image_id,
        "--size",
        "1",
        "-f",
        "value",
        "-c",
        "id",
        f"boot-{fmt}",
    ).strip()
    vol = volume_env.wait(out, "available", who="a_member")
    assert vol["bootable"] == "true"
    assert vol["volume_image_metadata"]["image_id"] == image_id
    assert vol["volume_image_metadata"]["disk_format"] == fmt
    assert volume_env.read(out, MiB) == b"\x5a" * MiB
    assert volume_env.read(out, MiB, offset=MiB) == bytes(MiB)
    volume_env.cli("a_member", "volume", "delete", out)
    volume_env.wait(out, "deleted", who="a_member")
    volume_env.people["a_member"].conn.image.delete_image(image_id)


def test_snapshot_keeps_its_bytes_and_clones_share_them(volume_env: Env) -> None:
    conn = volume_env.people["a_member"].conn
    vol = conn.block_storage.create_volume(size=1, name="cow")
    volume_env.wait(vol.id, "available", who="a_member")
    volume_env.write(vol.id, 0x11)
    snap = conn.block_storage.create_snapshot(volume_id=vol.id, name="cow-s")
    volume_env.wait(snap.id, "available", who="a_member", kind="snapshots")
    volume_env.write(vol.id, 0x22)  # the volume moves on; the snapshot must not
    from_snap = conn.block_storage.create_volume(snapshot_id=snap.id, name="cow-fs")
    clone = conn.block_storage.create_volume(source_volume_id=vol.id, name="cow-cl")
    volume_env.wait(from_snap.id, "available", who="a_member")
    volume_env.wait(clone.id, "available", who="a_member")
    assert volume_env.read(from_snap.id, MiB) == b"\x11" * MiB
    assert volume_env.read(clone.id, MiB) == b"\x22" * MiB
    volume_env.write(clone.id, 0x33)  # a clone's writes stay its own
    assert volume_env.read(vol.id, MiB) == b"\x22" * MiB
    # the snapshot's data outlives the snapshot and its volume while a volume uses it
    conn.block_storage.delete_snapshot(snap)
    volume_env.wait(snap.id, "deleted", who="a_member", kind="snapshots")
    conn.block_storage.delete_volume(vol)
    volume_env.wait(vol.id, "deleted", who="a_member")
    assert volume_env.read(from_snap.id, MiB) == b"\x11" * MiB
    assert volume_env.read(clone.id, MiB) == b"\x33" * MiB
    for v in (from_snap, clone):
        conn.block_storage.delete_volume(v)
        volume_env.wait(v.id, "deleted", who="a_member")
    left = volume_env.volume_files()
    if not any(f.startswith(("volume-", "snapshot-")) for f in left):
        assert not left, f"data left behind: {left}"


def test_deleted_volume_is_unreadable_by_the_next_tenant(volume_env: Env) -> None:
    """PROMISES 21: a's volume full of data is deleted; b's new volume reads zeros."""
    a = volume_env.people["a_member"].conn
    vol = a.block_storage.create_volume(size=1, name="secret")
    volume_env.wait(vol.id, "available", who="a_member")
    volume_env.write(vol.id, 0x77, 0, 8 * MiB)
    path = volume_env.volumes_dir / f"volume-{vol.id}"
    a.block_storage.delete_volume(vol)
    volume_env.wait(vol.id, "deleted", who="a_member")
    assert not path.exists()
    b = volume_env.people["b_member"].conn
    new = b.block_storage.create_volume(size=1, name="fresh")
    volume_env.wait(new.id, "available", who="b_member")
    assert volume_env.read(new.id, MiB) == bytes(MiB)
    b.block_storage.delete_volume(new)
    volume_env.wait(new.id, "deleted", who="b_member")


def test_image_larger_than_the_volume_is_400_and_creates_nothing(
    volume_env: Env, tmp_path: Path
) -> None:
    path = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "3G"], check=True)
    image = volume_env.people["a_member"].conn.image.create_image(
        name="big", disk_format="qcow2", container_format="bare", data=path.read_bytes()
    )
    with nothing_made(volume_env.cloud), volume_env.http("a_member") as http:
        resp = http.post("/volumes", json={"volume": {"size": 1, "imageRef": image.id}})
        assert resp.status_code == 400
        assert "doesn't fit in a volume of size 1GB" in resp.json()["badRequest"]["message"]
        resp = http.post("/volumes", json={"volume": {"size": 1, "imageRef": str(uuid.uuid4())}})
        assert resp.status_code == 400
    volume_env.people["a_member"].conn.image.delete_image(image)


def test_failure_half_way_through_create_from_image(volume_env: Env, tmp_path: Path) -> None:
    """The image's stored file is damaged (cut short): the volume manager, which reads the
    store's file directly here (in-process image service), finds it does not match the image
    (size; a streamed download fails its checksum); the volume is error with the reason, no
    file is left and the quota is given back."""
    image_id = _image(volume_env, tmp_path, "raw", 0x42)
    stored = [p for p in (volume_env.cloud.state_dir / "images").rglob("*") if image_id in p.name]
    assert stored, "the image store layout changed"
    with stored[0].open("r+b") as fh:
        fh.truncate(100)
    with volume_env.http("a_member") as http:
        used = http.get("/limits").json()["limits"]["absolute"]["totalGigabytesUsed"]
        resp = http.post("/volumes", json={"volume": {"size": 2, "imageRef": image_id}})
        assert resp.status_code == 202
        vol_id = resp.json()["volume"]["id"]
        vol = volume_env.wait(vol_id, "error", who="a_member")
        assert http.get("/limits").json()["limits"]["absolute"]["totalGigabytesUsed"] == used
    assert vol["consumes_quota"] is False
    with volume_env.http("a_member") as http:  # why, as Cinder's user messages say it
        (message,) = [
            msg
            for msg in http.get("/messages").json()["messages"]
            if msg["resource_uuid"] == vol_id
        ]
    assert message["message_level"] == "ERROR" and message["resource_type"] == "VOLUME"
    assert "checksum" in message["user_message"], message
    assert str(volume_env.cloud.state_dir) not in message["user_message"]
    with volume_env.http("admin") as http:
        resp = http.get(f"/volumes/{vol_id}")  # the admin sees the same status
        assert resp.json()["volume"]["status"] == "error"
    assert not any(vol_id in f for f in volume_env.volume_files())
    assert not [f for f in volume_env.volume_files() if f.startswith(".tmp-")]
    volume_env.cli("a_member", "volume", "delete", vol_id)
    volume_env.wait(vol_id, "deleted", who="a_member")
    volume_env.people["a_member"].conn.image.delete_image(image_id)


def test_image_create_from_a_volume_with_the_cli(volume_env: Env) -> None:
    """`openstack image create --volume`: the volume's bytes become an image (raw), and the
    volume is available again."""
    conn = volume_env.people["a_member"].conn
    vol = conn.block_storage.create_volume(size=1, name="to-image")
    volume_env.wait(vol.id, "available", who="a_member")
    volume_env.write(vol.id, 0x3C)
    name = f"from-vol-{uuid.uuid4().hex[:6]}"
    volume_env.cli("a_member", "image", "create", "--volume", vol.id, "--disk-format", "raw", name)
    volume_env.wait(vol.id, "available", who="a_member")
    image = conn.image.find_image(name, ignore_missing=False)
    start = time.monotonic()
    while image.status != "active":
        assert time.monotonic() - start < 60, image.status
        time.sleep(0.2)
        image = conn.image.get_image(image.id)
    assert image.disk_format == "raw" and image.size == 1 << 30
    resp = httpx.get(
        f"{volume_env.cloud.url('image')}/v2/images/{image.id}/file",
        headers={"X-Auth-Token": volume_env.people["a_member"].token, "Range": "bytes=0-2097151"},
        timeout=60,
    )
    data = resp.content[: 2 * MiB]
    assert data[:MiB] == b"\x3c" * MiB and data[MiB:] == bytes(MiB)
    conn.image.delete_image(image)
    conn.block_storage.delete_volume(vol)
    volume_env.wait(vol.id, "deleted", who="a_member")


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_volume_from_image_shares_the_stored_file(
    volume_env: Env, tmp_path: Path, fmt: str
) -> None:
    """Image and volume in one process with a file store: the volume's base is the stored
    image file itself (a hard link, nothing copied or converted), it reads the image's
    bytes, and deleting the image leaves the volume whole."""
    image_id = _image(volume_env, tmp_path, fmt, 0x5A)
    (stored,) = [
        p for p in (volume_env.cloud.state_dir / "images").rglob("*") if p.name == image_id
    ]
    with volume_env.http("a_member") as http:
        resp = http.post("/volumes", json={"volume": {"size": 1, "imageRef": image_id}})
        assert resp.status_code == 202, resp.text
        vol_id = resp.json()["volume"]["id"]
    volume_env.wait(vol_id, "available", who="a_member")
    inode = stored.stat().st_ino
    shared = [p for p in volume_env.volumes_dir.iterdir() if p.stat().st_ino == inode]
    assert [p.name.startswith("base-") for p in shared] == [True]
    volume_env.people["a_member"].conn.image.delete_image(image_id)
    assert volume_env.read(vol_id, 1 << 20) == bytes([0x5A]) * (1 << 20)
    with volume_env.http("a_member") as http:
        http.delete(f"/volumes/{vol_id}")
    volume_env.wait(vol_id, "deleted", who="a_member")
