"""Two identity processes on one PostgreSQL database, as on two hosts: a revocation made through
one is honoured by the other (PostgreSQL LISTEN/NOTIFY invalidates its cached validations)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.cloud import admin_token, drop_pg_database, make_cloud


def test_revocation_reaches_the_other_process(tmp_path: Path) -> None:
    first = make_cloud(tmp_path / "a", backend="postgresql")
    second = make_cloud(tmp_path / "b", extra_env={"MINISTACK_DATABASE_URL": first.database_url})
    # both processes must sign tokens with the same key, as hosts sharing a keyring do
    key_dir = tmp_path / "b" / "identity"
    key_dir.mkdir(parents=True, exist_ok=True)
    try:
        first.start()
        (key_dir / "fernet.key").write_bytes(
            (tmp_path / "a" / "identity" / "fernet.key").read_bytes()
        )
        second.start()
        token = admin_token(first.auth_url)
        caller = admin_token(second.auth_url)
        url_b = f"{second.auth_url}/projects"
        assert httpx.get(url_b, headers={"X-Auth-Token": token}).status_code == 200
        revoke = httpx.delete(
            f"{first.auth_url}/auth/tokens",
            headers={"X-Auth-Token": caller, "X-Subject-Token": token},
        )
        assert revoke.status_code == 204
        # The notification is asynchronous: wait for it (generously; without it the other
        # process keeps its cached revision for good), then it must hold for good.
        deadline = time.monotonic() + 30.0
        status = 200
        while status != 401:
            assert time.monotonic() < deadline, "the other process never saw the revocation"
            time.sleep(0.05)
            status = httpx.get(url_b, headers={"X-Auth-Token": token}).status_code
        assert httpx.get(url_b, headers={"X-Auth-Token": token}).status_code == 401
    finally:
        second.stop()
        first.stop()
        drop_pg_database(first.database_url)
