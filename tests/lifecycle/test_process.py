"""The process as an operator sees it: start, status, logs, stop in flight, restart."""

from __future__ import annotations

import concurrent.futures
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.cloud import ADMIN_PASSWORD, Cloud, admin_token, make_cloud, running_cloud


def _token(cloud: Cloud) -> str:
    return admin_token(cloud.auth_url)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_stop_with_requests_in_flight_loses_no_committed_data(tmp_path: Path, backend: str) -> None:
    cloud = make_cloud(tmp_path, backend=backend)
    try:
        cloud.start()
        token = _token(cloud)
        created: list[str] = []

        def create(i: int) -> None:
            name = f"inflight-{i}-{uuid.uuid4().hex[:6]}"
            try:
                resp = httpx.post(
                    f"{cloud.auth_url}/projects",
                    json={"project": {"name": name}},
                    headers={"X-Auth-Token": token},
                    timeout=30,
                )
            except httpx.HTTPError:
                return  # the server went away before answering: not committed as far as we know
            if resp.status_code == 201:
                created.append(resp.json()["project"]["id"])

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(create, i) for i in range(40)]
            deadline = time.monotonic() + 60
            while len(created) < 5:
                assert time.monotonic() < deadline, "5 projects were never created"
                time.sleep(0.01)
            assert cloud.stop(signal.SIGTERM) == 0
            for f in futures:
                f.result()
        cloud.start()
        token = _token(cloud)
        listed = httpx.get(f"{cloud.auth_url}/projects", headers={"X-Auth-Token": token}).json()
        ids = {p["id"] for p in listed["projects"]}
        assert set(created) <= ids
        assert len(created) >= 5
    finally:
        cloud.stop()
        if cloud.database_url:
            from tests.cloud import drop_pg_database

            drop_pg_database(cloud.database_url)


def test_status_logs_and_background_up_down(tmp_path: Path) -> None:
    cloud = make_cloud(tmp_path)
    up = cloud.ministack("up")
    try:
        assert "ministack is up" in up.stdout
        again = cloud.ministack("up")
        assert "already running" in again.stdout
        _token(cloud)
        status = cloud.ministack("status").stdout
        assert "running, pid" in status and "identity" in status and "up" in status
        deadline = time.monotonic() + 15
        while "ministack-identity" not in status and time.monotonic() < deadline:
            time.sleep(0.5)
            status = cloud.ministack("status").stdout
        assert "ministack-identity" in status
        logs = cloud.ministack("logs", "identity", "-n", "20").stdout
        assert "POST /v3/auth/tokens 201" in logs
    finally:
        down = cloud.ministack("down")
    assert "stopped" in down.stdout
    assert "not running" in cloud.ministack("status").stdout


def test_tokens_and_passwords_never_reach_the_logs(tmp_path: Path) -> None:
    with running_cloud(tmp_path, extra_env={"MINISTACK_DEFAULT_DEBUG": "true"}) as cloud:
        token = _token(cloud)
        cloud.cli("project", "list")
        httpx.get(
            f"{cloud.auth_url}/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        )
        logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "/v3/auth/tokens" in logs
    assert token not in logs
    assert ADMIN_PASSWORD not in logs


def test_tokens_expire(tmp_path: Path) -> None:
    with running_cloud(tmp_path, extra_env={"MINISTACK_IDENTITY_TOKEN_EXPIRATION": "2"}) as cloud:
        token = _token(cloud)
        url = f"{cloud.auth_url}/projects"
        assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200
        time.sleep(2.5)
        assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 401


def test_config_file_errors_are_reported(tmp_path: Path) -> None:
    cloud = make_cloud(tmp_path)
    (tmp_path / "ministack.toml").write_text("[database]\nnope = 1\n")
    result = cloud.ministack("status", check=False)
    assert result.returncode == 2
    assert "unknown key [database] nope" in result.stdout
