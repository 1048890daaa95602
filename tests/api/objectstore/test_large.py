"""Large objects: `swift upload --segment-size` (a static large object), `swift download`,
dynamic manifests (X-Object-Manifest), manifest GET and DELETE with multipart-manifest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import swiftclient

from tests.api.objectstore.conftest import Env, unique
from tests.nothing_made import nothing_made


def test_swift_cli_segmented_upload_and_download(object_env: Env, tmp_path: Path) -> None:
    container = unique()
    data = os.urandom(300_000)
    (tmp_path / "big.iso").write_bytes(data)
    object_env.swift_cli(
        "a_member", "upload", "--segment-size", "100000", container, "big.iso", cwd=tmp_path
    )
    conn = object_env.swift("a_member")
    head = conn.head_object(container, "big.iso")
    assert head["x-static-large-object"] == "True"
    assert head["content-length"] == str(len(data))
    _h, segments = conn.get_container(f"{container}_segments")
    assert len(segments) == 3
    out = tmp_path / "out"
    out.mkdir()
    object_env.swift_cli("a_member", "download", container, "big.iso", cwd=out)
    assert (out / "big.iso").read_bytes() == data
    stat = object_env.swift_cli("a_member", "stat", container, "big.iso").stdout
    assert "Manifest" in stat or "Static Large Object" in stat or str(len(data)) in stat
    _h, part = conn.get_object(container, "big.iso", headers={"Range": "bytes=99990-100009"})
    assert part == data[99990:100010]
    object_env.swift_cli("a_member", "delete", container, "big.iso")
    assert conn.get_container(f"{container}_segments")[1] == []


def test_static_manifest_put_get_delete(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    parts = [b"a" * 10, b"b" * 20]
    etags = [conn.put_object(container, f"seg/{i}", p) for i, p in enumerate(parts)]
    manifest = [
        {"path": f"/{container}/seg/0", "etag": etags[0], "size_bytes": 10},
        {"path": f"/{container}/seg/1", "etag": None, "size_bytes": None},
    ]
    conn.put_object(container, "whole", json.dumps(manifest), query_string="multipart-manifest=put")
    headers, body = conn.get_object(container, "whole")
    assert body == b"".join(parts)
    want = hashlib.md5("".join(etags).encode()).hexdigest()
    assert headers["etag"] == f'"{want}"'
    _h, raw = conn.get_object(container, "whole", query_string="multipart-manifest=get")
    stored = json.loads(raw)
    assert [s["name"] for s in stored] == [f"/{container}/seg/0", f"/{container}/seg/1"]
    listing = {r["name"]: r for r in conn.get_container(container)[1]}
    assert listing["whole"]["bytes"] == 30
    conn.delete_object(container, "whole", query_string="multipart-manifest=delete")
    assert conn.get_container(container)[1] == []


def test_static_manifest_refuses_bad_segments(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    etag = conn.put_object(container, "seg", b"12345")
    bad = [
        [{"path": f"/{container}/missing"}],
        [{"path": f"/{container}/seg", "etag": "0" * 32}],
        [{"path": f"/{container}/seg", "size_bytes": 6}],
        {"not": "a list"},
    ]
    with nothing_made(object_env.cloud):
        for manifest in bad:
            with pytest.raises(swiftclient.ClientException) as err:
                conn.put_object(
                    container, "m", json.dumps(manifest), query_string="multipart-manifest=put"
                )
            assert err.value.http_status == 400
        with pytest.raises(swiftclient.ClientException) as err:
            conn.put_object(
                container,
                "m",
                json.dumps([{"path": f"/{container}/seg"}]),
                query_string="multipart-manifest=put",
                etag="f" * 32,
            )
        assert err.value.http_status == 422
    assert etag


def test_dynamic_manifest(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    for i in range(3):
        conn.put_object(container, f"parts/{i:02d}", str(i).encode() * 5)
    conn.put_object(container, "dlo", b"", headers={"X-Object-Manifest": f"{container}/parts/"})
    headers, body = conn.get_object(container, "dlo")
    assert body == b"000001111122222"
    assert headers["x-object-manifest"] == f"{container}/parts/"
    conn.put_object(container, "parts/03", b"33")  # a dynamic manifest sees new segments
    assert conn.get_object(container, "dlo")[1].endswith(b"33")
    copy_headers = {"X-Copy-From": f"/{container}/dlo"}
    conn.put_object(container, "flat", b"", headers=copy_headers)
    flat_headers, flat = conn.get_object(container, "flat")
    assert flat == b"00000111112222233" and "x-object-manifest" not in flat_headers
