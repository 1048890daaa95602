"""PROMISES 26: an object whose stored bytes no longer match its checksum is never served:
a read that finds it, or the background auditor, quarantines it and reads answer 404."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
import swiftclient

from tests.api.objectstore.conftest import Env, unique


def _data_file(env: Env, content: bytes) -> Path:
    root = env.cloud.state_dir / "objects" / "data"
    found = [p for p in root.rglob("*") if p.is_file() and p.read_bytes() == content]
    assert len(found) == 1
    return found[0]


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))  # same size: only a checksum can tell


def test_auditor_quarantines_a_corrupt_object(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    content = b"audited " + unique().encode()
    conn.put_object(container, "rot", content)
    conn.put_object(container, "fine", b"untouched")
    path = _data_file(object_env, content)
    _corrupt(path)
    deadline = time.monotonic() + 30  # the test cloud audits every second
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not path.exists()
    quarantined = object_env.cloud.state_dir / "objects" / "quarantined" / path.name
    assert quarantined.exists()
    with pytest.raises(swiftclient.ClientException) as err:
        conn.get_object(container, "rot")
    assert err.value.http_status == 404
    # the auditor moves the file first, then deletes the row: wait for the row too
    names = [r["name"] for r in conn.get_container(container)[1]]
    while names != ["fine"] and time.monotonic() < deadline + 30:
        time.sleep(0.2)
        names = [r["name"] for r in conn.get_container(container)[1]]
    assert names == ["fine"]
    assert conn.get_object(container, "fine")[1] == b"untouched"


def test_a_read_never_serves_corrupt_bytes(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    content = b"read-checked " + unique().encode()
    conn.put_object(container, "rot", content)
    _corrupt(_data_file(object_env, content))
    # whichever comes first, the read or the auditor: never the corrupt bytes
    with pytest.raises(swiftclient.ClientException) as err:
        conn.get_object(container, "rot")
    assert err.value.http_status == 404


def test_auditor_removes_data_no_object_names(object_env: Env) -> None:
    """Data a crash left between its write and its commit (never torn, but unnamed) is
    removed once it is an hour old; data an object names stays."""
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    content = b"kept " + unique().encode()
    conn.put_object(container, "kept", content)
    kept = _data_file(object_env, content)
    old = time.time() - 7200
    os.utime(kept, (old, old))  # old, but named by a row
    orphan = kept.parent.parent / "ff" / ("f" * 32)  # where the backend would have put it
    orphan.parent.mkdir(mode=0o700, exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    os.utime(orphan, (old, old))
    deadline = time.monotonic() + 30
    while orphan.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not orphan.exists()
    assert kept.exists()
    assert conn.get_object(container, "kept")[1] == content


def test_a_streamed_read_never_completes_with_corrupt_bytes(object_env: Env) -> None:
    """A large object is checked as it streams (its blocks hashed while they are sent): the
    mismatch is known before the last block goes, so the client never gets a whole body."""
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    content = os.urandom(9 << 20) + unique().encode()  # several read blocks
    conn.put_object(container, "big-rot", content)
    _corrupt(_data_file(object_env, content))
    got = bytearray()
    status = 0
    path = f"/v1/{object_env.people['a_member'].account}/{container}/big-rot"
    with object_env.http("a_member") as http:
        try:
            with http.stream("GET", path) as response:
                status = response.status_code
                for block in response.iter_bytes():
                    got += block
        except httpx.HTTPError:
            pass  # the connection broke mid-body: what a corrupt stream must do
        # whichever comes first, the read or the auditor: never the whole corrupt body
        assert status in (200, 404)
        assert len(got) < len(content)
        deadline = time.monotonic() + 30  # the read quarantined the data; the auditor unlists
        while http.head(path).status_code != 404 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert http.head(path).status_code == 404
