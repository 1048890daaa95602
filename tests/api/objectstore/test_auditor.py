"""PROMISES 26: an object whose stored bytes no longer match its checksum is never served:
a read that finds it, or the background auditor, quarantines it and reads answer 404."""

from __future__ import annotations

import time
from pathlib import Path

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
    assert [r["name"] for r in conn.get_container(container)[1]] == ["fine"]
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
