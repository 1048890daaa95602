"""The persona matrix (PROMISES 15): every persona against representative compute policies.

Personas: admin, manager, member and reader of project P; member and reader of another
project Q; a user with no role anywhere (whose token is unscoped). Authorized plus
unauthorized cover every persona for every rule checked here.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from tests.api.compute.conftest import Compute
from tests.cloud import password_body

PASSWORD = "persona-pw-1"


@dataclass
class World:
    tokens: dict[str, str]
    project_id: str
    server_id: str


def _user(compute: Compute, project: object | None, role: str | None) -> str:
    conn = compute.conn
    name = f"persona-{uuid.uuid4().hex[:8]}"
    user = conn.identity.create_user(name=name, password=PASSWORD, domain_id="default")
    if project is not None and role is not None:
        conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role(role))
    scope = getattr(project, "name", None)
    resp = httpx.post(
        f"{compute.cloud.auth_url}/auth/tokens",
        json=password_body(name, PASSWORD, scope),
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


@pytest.fixture(scope="module")
def world(compute: Compute) -> World:
    conn = compute.conn
    p = conn.identity.create_project(name=f"pp-{uuid.uuid4().hex[:6]}", domain_id="default")
    q = conn.identity.create_project(name=f"pq-{uuid.uuid4().hex[:6]}", domain_id="default")
    tokens = {
        "admin": _user(compute, p, "admin"),
        "manager": _user(compute, p, "manager"),
        "member": _user(compute, p, "member"),
        "reader": _user(compute, p, "reader"),
        "other_member": _user(compute, q, "member"),
        "other_reader": _user(compute, q, "reader"),
        "no_role": _user(compute, None, None),
    }
    resp = _call(compute, tokens["member"], "POST", "/servers", _server_body())
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    _wait_active(compute, server_id)
    return World(tokens=tokens, project_id=p.id, server_id=server_id)


def _server_body() -> dict[str, object]:
    return {"server": {"name": "persona-vm", "imageRef": "", "flavorRef": "", "networks": "none"}}


def _call(
    compute: Compute, token: str, method: str, path: str, body: dict[str, object] | None = None
) -> httpx.Response:
    if body is not None and "server" in body:
        server = dict(body["server"])  # type: ignore[arg-type]
        server.update(imageRef=compute.image_id, flavorRef=compute.flavor_id)
        body = {"server": server}
    return httpx.request(
        method,
        f"{compute.cloud.url('compute')}/v2.1{path}",
        headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.38"},
        json=body,
        timeout=30,
    )


def _wait_active(compute: Compute, server_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = compute.api("GET", f"/servers/{server_id}").json()["server"]["status"]
        if status in ("ACTIVE", "ERROR"):
            assert status == "ACTIVE"
            return
        time.sleep(0.1)
    raise AssertionError("server did not become ACTIVE")


OWN = ("admin", "manager", "member", "reader")
WRITERS = ("admin", "manager", "member")
OTHERS = ("other_member", "other_reader")


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "allowed", "denied_status"),
    [
        ("show server", "GET", "/servers/{sid}", None, OWN, {"other": 404, "no_role": 403}),
        ("list servers", "GET", "/servers", None, OWN + OTHERS, {"no_role": 403}),
        (
            "server actions list",
            "GET",
            "/servers/{sid}/os-instance-actions",
            None,
            OWN,
            {"other": 404, "no_role": 403},
        ),
        (
            "server metadata",
            "GET",
            "/servers/{sid}/metadata",
            None,
            OWN,
            {"other": 404, "no_role": 403},
        ),
        (
            "create server",
            "POST",
            "/servers",
            {"server": {}},
            (*WRITERS, "other_member"),
            {"reader": 403, "other_reader": 403, "no_role": 403},
        ),
        # a reader may write nowhere, so another project's reader gets 403 before any lookup:
        # that reveals nothing about which servers exist
        (
            "update metadata",
            "POST",
            "/servers/{sid}/metadata",
            {"metadata": {"k": "v"}},
            WRITERS,
            {"reader": 403, "other_member": 404, "other_reader": 403, "no_role": 403},
        ),
        ("list hypervisors", "GET", "/os-hypervisors", None, ("admin",), {"default": 403}),
        ("list services", "GET", "/os-services", None, ("admin",), {"default": 403}),
        (
            "create flavor",
            "POST",
            "/flavors",
            {"flavor": {"name": "persona-flavor", "ram": 64, "vcpus": 1, "disk": 0}},
            ("admin",),
            {"default": 403},
        ),
        (
            "update quota",
            "PUT",
            "/os-quota-sets/{pid}",
            {"quota_set": {"instances": 10}},
            ("admin",),
            {"default": 403},
        ),
        ("list usage", "GET", "/os-simple-tenant-usage", None, ("admin",), {"default": 403}),
        (
            "show own usage",
            "GET",
            "/os-simple-tenant-usage/{pid}",
            None,
            OWN,
            {"other": 403, "no_role": 403},
        ),
        ("audit log", "GET", "/os-instance_usage_audit_log", None, ("admin",), {"default": 403}),
        ("list hosts", "GET", "/os-hosts", None, ("admin",), {"default": 403}),
        ("migrations", "GET", "/os-migrations", None, ("admin",), {"default": 403}),
        (
            "diagnostics",
            "GET",
            "/servers/{sid}/diagnostics",
            None,
            ("admin",),
            {"default": 403},
        ),
        (
            "reset state",
            "POST",
            "/servers/{sid}/action",
            {"os-resetState": {"state": "active"}},
            ("admin",),
            {"default": 403},
        ),
        (
            "update quota class",
            "PUT",
            "/os-quota-class-sets/persona",
            {"quota_class_set": {"instances": 10}},
            ("admin",),
            {"default": 403},
        ),
        ("server tags", "GET", "/servers/{sid}/tags", None, OWN, {"other": 404, "no_role": 403}),
        (
            "add server tag",
            "PUT",
            "/servers/{sid}/tags/persona",
            None,
            WRITERS,
            {"reader": 403, "other_member": 404, "other_reader": 403, "no_role": 403},
        ),
        # rule "any", as Nova's os_compute_api:extensions: every authenticated caller
        ("extensions", "GET", "/extensions", None, (*OWN, *OTHERS, "no_role"), {}),
    ],
)
def test_persona_matrix(
    compute: Compute,
    world: World,
    name: str,
    method: str,
    path: str,
    body: dict[str, object] | None,
    allowed: tuple[str, ...],
    denied_status: dict[str, int],
) -> None:
    url = path.format(sid=world.server_id, pid=world.project_id)
    if body is not None and "server" in body:
        body = _server_body()
    if body is not None and "flavor" in body:
        flavor = dict(body["flavor"])  # type: ignore[arg-type]
        flavor["name"] = f"persona-{uuid.uuid4().hex[:6]}"
        body = {"flavor": flavor}
    got: dict[str, int] = {}
    for persona, token in world.tokens.items():
        got[persona] = _call(compute, token, method, url, body).status_code
    for persona in world.tokens:
        if persona in allowed:
            assert got[persona] < 400, f"{name}: {persona} got {got[persona]}"
            continue
        kind = "other" if persona in OTHERS else persona
        expected = denied_status.get(persona, denied_status.get(kind, denied_status.get("default")))
        assert got[persona] == expected, f"{name}: {persona} got {got[persona]}, want {expected}"
