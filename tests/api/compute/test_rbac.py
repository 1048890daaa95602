"""Isolation (PROMISES 15, 16): another project's servers are 404, a reader only reads, and
admin-only APIs are 403 for members."""

from __future__ import annotations

import httpx

from tests.api.compute.conftest import Compute
from tests.api.compute.test_quotas import member_token
from tests.api.compute.test_servers import boot


def as_token(compute: Compute, token: str, method: str, path: str, **kw: object) -> int:
    resp = httpx.request(
        method,
        f"{compute.cloud.url('compute')}/v2.1{path}",
        timeout=30,
        headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.38"},
        **kw,
    )  # type: ignore[arg-type]
    return resp.status_code


def test_other_project_sees_404_and_members_cannot_admin(compute: Compute) -> None:
    server = boot(compute)
    _project, token = member_token(compute)
    assert as_token(compute, token, "GET", f"/servers/{server.id}") == 404
    assert as_token(compute, token, "DELETE", f"/servers/{server.id}") == 404
    assert (
        as_token(compute, token, "POST", f"/servers/{server.id}/action", json={"os-stop": None})
        == 404
    )
    assert as_token(compute, token, "GET", "/os-hypervisors") == 403
    assert as_token(compute, token, "GET", "/os-services") == 403
    assert (
        as_token(
            compute,
            token,
            "POST",
            "/flavors",
            json={"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 0}},
        )
        == 403
    )
    assert as_token(compute, token, "GET", "/servers") == 200
    compute.conn.compute.delete_server(server)


def test_no_token_is_401(compute: Compute) -> None:
    resp = httpx.get(f"{compute.cloud.url('compute')}/v2.1/servers", timeout=30)
    assert resp.status_code == 401 and "unauthorized" in resp.json()
