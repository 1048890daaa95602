"""The token validation other services use when identity runs in another process."""

from __future__ import annotations

import pytest

from ministack.common import errors
from ministack.identity.client import HttpValidator
from tests.cloud import Cloud


async def test_http_validator_returns_scope_and_roles(identity_cloud: Cloud) -> None:
    conn = identity_cloud.connect()
    token = conn.session.get_token()
    validator = HttpValidator(identity_cloud.auth_url, cache_seconds=30)
    try:
        auth = await validator.validate(token)
        assert auth.user_name == "admin"
        assert auth.project_name == "admin"
        assert auth.is_admin and auth.has_role("reader")
        with pytest.raises(errors.Unauthorized):
            await validator.validate("not-a-token")
    finally:
        await validator.close()


def test_doctor_reports_each_check(identity_cloud: Cloud) -> None:
    result = identity_cloud.ministack("doctor", check=False)
    out = result.stdout
    for name in ("python", "database", "message bus", "ports", "qemu-system-x86_64", "nft"):
        assert f"{name}:" in out
    assert "database:" in out and "FAIL" not in out.split("database:")[0].splitlines()[-1]
