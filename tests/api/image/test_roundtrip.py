"""Create, upload, list, show, set, save and delete with the unmodified CLI and openstacksdk."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

from tests.api.image.conftest import Env
from tests.image import formats

MiB = 1 << 20


def _random_file(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        for _ in range(size // MiB):
            fh.write(os.urandom(MiB))
        fh.write(os.urandom(size % MiB))
    return path


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as fh:
        while chunk := fh.read(MiB):
            h.update(chunk)
    return h.hexdigest()


def test_cli_round_trip_of_a_64_mib_image(image_env: Env, tmp_path: Path) -> None:
    src = _random_file(tmp_path / "disk.raw", 64 * MiB + 123)
    name = f"cli-{uuid.uuid4().hex[:6]}"
    created = json.loads(
        image_env.cli(
            "admin",
            "image",
            "create",
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "--file",
            str(src),
            "--public",
            name,
            "-f",
            "json",
        )
    )
    assert created["status"] == "active"
    assert created["size"] == created["virtual_size"] == src.stat().st_size
    assert created["checksum"] == _digest(src, "md5")
    assert created["properties"]["os_hash_algo"] == "sha512"
    assert created["properties"]["os_hash_value"] == _digest(src, "sha512")
    assert created["visibility"] == "public"

    listed = json.loads(image_env.cli("admin", "image", "list", "--name", name, "-f", "json"))
    assert [i["ID"] for i in listed] == [created["id"]]

    image_env.cli(
        "admin",
        "image",
        "set",
        "--property",
        "os_distro=debian",
        "--tag",
        "golden",
        "--min-disk",
        "1",
        name,
    )
    shown = json.loads(image_env.cli("admin", "image", "show", name, "-f", "json"))
    assert shown["properties"]["os_distro"] == "debian"
    assert shown["tags"] == ["golden"]
    assert shown["min_disk"] == 1

    out = tmp_path / "out.img"
    image_env.cli("admin", "image", "save", "--file", str(out), name)
    assert _digest(out, "sha512") == _digest(src, "sha512")

    image_env.cli("admin", "image", "delete", name)
    assert created["id"] not in image_env.stored_files()
    gone = image_env.cli("admin", "image", "show", created["id"], check=False)
    assert "No Image found" in gone or "404" in gone or "Could not find" in gone


def test_sdk_round_trip_of_a_qcow2(image_env: Env, tmp_path: Path) -> None:
    conn = image_env.people["a_member"].conn
    src = tmp_path / "disk.qcow2"
    src.write_bytes(formats.qcow2(virtual_size=1 << 30))
    with src.open("rb") as fh:  # filename= would leak the SDK's file handle
        image = conn.image.create_image(
            name=f"sdk-{uuid.uuid4().hex[:6]}",
            data=fh,
            disk_format="qcow2",
            container_format="bare",
            visibility="private",
            validate_checksum=False,
        )
    image = conn.image.get_image(image.id)
    assert image.status == "active"
    assert image.virtual_size == 1 << 30
    assert image.size == src.stat().st_size
    assert image.hash_value == _digest(src, "sha512")
    assert image.owner_id == image_env.people["a_member"].project_id
    out = tmp_path / "back.qcow2"
    conn.image.download_image(image, output=str(out))
    assert out.read_bytes() == src.read_bytes()
    conn.image.update_image(image, name="renamed", os_distro="cirros")
    again = conn.image.get_image(image.id)
    assert again.name == "renamed"
    assert again.os_distro == "cirros"
    conn.image.delete_image(image)
    assert conn.image.find_image(image.id) is None
    assert image.id not in image_env.stored_files()


def test_range_download_and_content_md5(image_env: Env, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    conn = image_env.admin
    image = conn.image.create_image(
        name="ranged",
        data=data,
        disk_format="raw",
        container_format="bare",
        validate_checksum=False,
    )
    with image_env.http() as http:
        full = http.get(f"/v2/images/{image.id}/file")
        assert full.status_code == 200
        assert full.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
        assert full.content == data
        part = http.get(f"/v2/images/{image.id}/file", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
        assert part.content == data[100:200]
        tail = http.get(f"/v2/images/{image.id}/file", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        bad = http.get(f"/v2/images/{image.id}/file", headers={"Range": f"bytes={len(data)}-"})
        assert bad.status_code == 416
    conn.image.delete_image(image)
