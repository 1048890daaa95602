"""Object versioning as Swift's versioned_writes: X-Versions-Location (stack: a DELETE restores
the previous version) and X-History-Location (history: a DELETE archives and marks), archive
names ``<3-hex length><name>/<X-Timestamp>``."""

from __future__ import annotations

import pytest
import swiftclient

from tests.api.objectstore.conftest import Env, unique
from tests.nothing_made import nothing_made

MARKER = "application/x-deleted;swift_versions_deleted=1"


def _names(conn: swiftclient.Connection, container: str) -> list[str]:
    return [o["name"] for o in conn.get_container(container)[1]]


def test_stack_mode_archives_and_restores(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    box, archive = unique("ver"), unique("arch")
    conn.put_container(archive)
    conn.put_container(box)
    object_env.swift_cli("a_member", "post", "-H", f"X-Versions-Location: {archive}", box)
    assert conn.head_container(box)["x-versions-location"] == archive
    stamps = []
    for body in (b"v1", b"v2", b"v3"):
        conn.put_object(box, "obj", body)
        stamps.append(conn.head_object(box, "obj")["x-timestamp"])
    assert _names(conn, archive) == [f"003obj/{stamps[0]}", f"003obj/{stamps[1]}"]
    assert conn.get_object(archive, f"003obj/{stamps[0]}")[1] == b"v1"
    conn.delete_object(box, "obj")
    assert conn.get_object(box, "obj")[1] == b"v2"
    assert _names(conn, archive) == [f"003obj/{stamps[0]}"]
    conn.delete_object(box, "obj")
    assert conn.get_object(box, "obj")[1] == b"v1"
    assert _names(conn, archive) == []
    conn.delete_object(box, "obj")
    with pytest.raises(swiftclient.ClientException) as exc:
        conn.delete_object(box, "obj")
    assert exc.value.http_status == 404
    conn.post_container(box, {"X-Remove-Versions-Location": "x"})
    assert "x-versions-location" not in conn.head_container(box)


def test_history_mode_keeps_every_version_and_a_delete_marker(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    box, archive = unique("ver"), unique("arch")
    conn.put_container(archive)
    conn.put_container(box, headers={"X-History-Location": archive})
    conn.put_object(box, "doc", b"first")
    conn.put_object(box, "doc", b"second")
    conn.delete_object(box, "doc")
    with pytest.raises(swiftclient.ClientException) as exc:
        conn.head_object(box, "doc")
    assert exc.value.http_status == 404
    listed = conn.get_container(archive)[1]
    assert [o["name"][:6] for o in listed] == ["003doc"] * 3
    bodies = [conn.get_object(archive, o["name"])[1] for o in listed]
    assert bodies == [b"first", b"second", b""]
    assert listed[2]["content_type"] == MARKER


def test_bad_versioning_requests_change_nothing(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    box = unique("ver")
    conn.put_container(box, headers={"X-Versions-Location": f"missing-{box}"})
    conn.put_object(box, "obj", b"kept")  # nothing to archive yet: allowed
    with nothing_made(object_env.cloud):
        with pytest.raises(swiftclient.ClientException) as exc:
            conn.put_object(box, "obj", b"replacement")
        assert exc.value.http_status == 412
        with pytest.raises(swiftclient.ClientException) as exc:
            conn.delete_object(box, "obj")
        assert exc.value.http_status == 412
        both = {"X-Versions-Location": "a", "X-History-Location": "b"}
        with pytest.raises(swiftclient.ClientException) as exc:
            conn.post_container(box, both)
        assert exc.value.http_status == 400
        with pytest.raises(swiftclient.ClientException) as exc:
            conn.post_container(box, {"X-Versions-Location": "a/b"})
        assert exc.value.http_status == 412
    assert conn.get_object(box, "obj")[1] == b"kept"
