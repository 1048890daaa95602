"""PROMISES 28: object data (stored, temporary and quarantined) is private to the service user."""

from __future__ import annotations

from tests.api.objectstore.conftest import Env, unique
from tests.lifecycle.test_secrets_at_rest import loose_entries


def test_object_files_are_private(object_env: Env) -> None:
    conn = object_env.swift("a_member")
    container = unique()
    conn.put_container(container)
    conn.put_object(container, "tenant-data", b"secret tenant bytes")
    conn.put_object(container, "segmented/1", b"x" * 1000)
    root = object_env.cloud.state_dir / "objects"
    assert any(root.rglob("*"))
    assert loose_entries(root) == []
