"""Shared fixtures: real ministack processes started per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openstack.connection
import pytest

from tests.cloud import Cloud, running_cloud


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def identity_cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    """An identity-only cloud, once on SQLite and once on PostgreSQL."""
    tmp: Path = tmp_path_factory.mktemp(f"identity-{request.param}")
    with running_cloud(tmp, backend=request.param, services=("identity",)) as cloud:
        yield cloud


@pytest.fixture(scope="session")
def admin(identity_cloud: Cloud) -> openstack.connection.Connection:
    return identity_cloud.connect()
