"""The persona matrix (PROMISES 15): every persona against representative compute policies,
the expected answer of each derived from the rule's default in compute/policies.py.

Personas: admin, manager, member and reader of project P; member and reader of another
project Q; a user with no role anywhere (whose token is unscoped: it passes only the rules
open to any token or to the key pair's owner, as upstream). Authorized plus unauthorized
cover every persona for every rule checked here.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from ministack.common import policy
from ministack.common.auth import Auth
from ministack.compute.policies import RULES
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


def _persona_auth(name: str) -> Auth:
    """The Auth a persona's token stands for: its roles (with implied ones) and its project."""
    roles = {
        "admin": ("admin", "manager", "member", "reader"),
        "manager": ("manager", "member", "reader"),
        "member": ("member", "reader"),
        "reader": ("reader",),
        "other_member": ("member", "reader"),
        "other_reader": ("reader",),
        "no_role": (),
    }[name]
    project = None if name == "no_role" else ("Q" if name.startswith("other") else "P")
    return Auth(name, name, "default", roles, dt.datetime(2100, 1, 1), project_id=project)


OTHERS = ("other_member", "other_reader")
PERSONAS = ("admin", "manager", "member", "reader", *OTHERS, "no_role")


def expected_status(persona: str, rule: str, in_project: bool) -> int | None:
    """What the API must answer, derived from the rule's default in compute/policies.py:
    403 when the policy (checked on the caller's own project) refuses; 404 when it allows
    but the server belongs to another project; None (a success) otherwise."""
    auth = _persona_auth(persona)
    target = {"project_id": auth.project_id, "user_id": auth.user_id}
    if not policy.check(auth, RULES[rule], target):
        return 403
    if in_project and persona in OTHERS:
        return 404
    return None


# (policy rule, method, path, body, whether the path names a server of project P)
CASES = [
    ("os_compute_api:servers:show", "GET", "/servers/{sid}", None, True),
    ("os_compute_api:servers:index", "GET", "/servers", None, False),
    (
        "os_compute_api:os-instance-actions:list",
        "GET",
        "/servers/{sid}/os-instance-actions",
        None,
        True,
    ),
    ("os_compute_api:server-metadata:index", "GET", "/servers/{sid}/metadata", None, True),
    ("os_compute_api:servers:create", "POST", "/servers", {"server": {}}, False),
    (
        "os_compute_api:server-metadata:update",
        "POST",
        "/servers/{sid}/metadata",
        {"metadata": {"k": "v"}},
        True,
    ),
    (
        "os_compute_api:os-console-output",
        "POST",
        "/servers/{sid}/action",
        {"os-getConsoleOutput": {}},
        True,
    ),
    ("os_compute_api:os-hypervisors:list", "GET", "/os-hypervisors", None, False),
    ("os_compute_api:os-services:list", "GET", "/os-services", None, False),
    (
        "os_compute_api:os-flavor-manage:create",
        "POST",
        "/flavors",
        {"flavor": {"name": "persona-flavor", "ram": 64, "vcpus": 1, "disk": 0}},
        False,
    ),
    (
        "os_compute_api:os-quota-sets:update",
        "PUT",
        "/os-quota-sets/{pid}",
        {"quota_set": {"instances": 10}},
        False,
    ),
    ("os_compute_api:flavors:index", "GET", "/flavors", None, False),
    ("os_compute_api:os-keypairs:index", "GET", "/os-keypairs", None, False),
    ("os_compute_api:limits", "GET", "/limits", None, False),
    ("os_compute_api:os-simple-tenant-usage:list", "GET", "/os-simple-tenant-usage", None, False),
    (
        "os_compute_api:os-instance-usage-audit-log:list",
        "GET",
        "/os-instance_usage_audit_log",
        None,
        False,
    ),
    ("os_compute_api:os-hosts:list", "GET", "/os-hosts", None, False),
    ("os_compute_api:os-migrations:index", "GET", "/os-migrations", None, False),
    (
        "os_compute_api:os-server-diagnostics",
        "GET",
        "/servers/{sid}/diagnostics",
        None,
        True,
    ),
    (
        "os_compute_api:os-admin-actions:reset_state",
        "POST",
        "/servers/{sid}/action",
        {"os-resetState": {"state": "active"}},
        True,
    ),
    (
        "os_compute_api:os-quota-class-sets:update",
        "PUT",
        "/os-quota-class-sets/persona",
        {"quota_class_set": {"instances": 10}},
        False,
    ),
    ("os_compute_api:os-server-tags:index", "GET", "/servers/{sid}/tags", None, True),
    ("os_compute_api:os-server-tags:update", "PUT", "/servers/{sid}/tags/persona", None, True),
    ("os_compute_api:extensions", "GET", "/extensions", None, False),
]


def test_the_cases_cover_personas_both_ways() -> None:
    """Authorized plus unauthorized cover every persona for every rule (PROMISES 15), and
    the cases include rules each persona may and may not use."""
    for persona in PERSONAS:
        outcomes = {expected_status(persona, case[0], case[4]) for case in CASES}
        assert None in outcomes, persona
        assert 403 in outcomes or persona == "admin", persona


@pytest.mark.parametrize(("rule", "method", "path", "body", "in_project"), CASES)
def test_persona_matrix(
    compute: Compute,
    world: World,
    rule: str,
    method: str,
    path: str,
    body: dict[str, object] | None,
    in_project: bool,
) -> None:
    url = path.format(sid=world.server_id, pid=world.project_id)
    if body is not None and "server" in body:
        body = _server_body()
    if body is not None and "flavor" in body:
        flavor = dict(body["flavor"])  # type: ignore[arg-type]
        flavor["name"] = f"persona-{uuid.uuid4().hex[:6]}"
        body = {"flavor": flavor}
    for persona, token in world.tokens.items():
        got = _call(compute, token, method, url, body).status_code
        want = expected_status(persona, rule, in_project)
        if want is None:
            assert got < 400, f"{rule}: {persona} got {got}"
        else:
            assert got == want, f"{rule}: {persona} got {got}, want {want}"
