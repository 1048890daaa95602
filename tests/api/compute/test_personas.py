"""The persona matrix (PROMISES 15): every persona against representative compute policies,
the expected answer of each derived from the rule's default in compute/policies.py.

Personas: admin, manager, member and reader of project P; member and reader of another
project Q; a user with no role anywhere (whose token is unscoped: it passes only the rules
open to any token or to the key pair's owner, as upstream); an admin and a reader of the
system (system-scoped tokens: the reader reads every project's servers and changes nothing,
the admin does what the admin does, and neither creates a server, which needs a project).
Authorized plus unauthorized cover every persona for every rule checked here.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from ministack.common import policy
from ministack.common.auth import Auth
from ministack.compute.policies import RULES
from tests.api.compute.conftest import Compute
from tests.cloud import VENV_BIN, password_body

PASSWORD = "persona-pw-1"


@dataclass
class World:
    tokens: dict[str, str]
    project_id: str
    server_id: str


def _user(compute: Compute, project: object | None, role: str | None) -> str:
    """A new user with `role` on `project` (or on the system when project is "system"), and
    a token scoped there."""
    conn = compute.conn
    name = f"persona-{uuid.uuid4().hex[:8]}"
    user = conn.identity.create_user(name=name, password=PASSWORD, domain_id="default")
    body = password_body(name, PASSWORD, getattr(project, "name", None))
    if project == "system" and role is not None:
        role_id = conn.identity.find_role(role).id
        grant = httpx.put(
            f"{compute.cloud.auth_url}/system/users/{user.id}/roles/{role_id}",
            headers={"X-Auth-Token": conn.auth_token},
            timeout=30,
        )
        assert grant.status_code == 204, grant.text
        body["auth"]["scope"] = {"system": {"all": True}}
    elif project is not None and role is not None:
        conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role(role))
    resp = httpx.post(f"{compute.cloud.auth_url}/auth/tokens", json=body, timeout=30)
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
        "system_admin": _user(compute, "system", "admin"),
        "system_reader": _user(compute, "system", "reader"),
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
        "system_admin": ("admin", "manager", "member", "reader"),
        "system_reader": ("reader",),
    }[name]
    if name in SYSTEM:
        return Auth(name, name, "default", roles, dt.datetime(2100, 1, 1), system_scope="all")
    project = None if name == "no_role" else ("Q" if name.startswith("other") else "P")
    return Auth(name, name, "default", roles, dt.datetime(2100, 1, 1), project_id=project)


OTHERS = ("other_member", "other_reader")
SYSTEM = ("system_admin", "system_reader")
PERSONAS = ("admin", "manager", "member", "reader", *OTHERS, "no_role", *SYSTEM)


def expected_status(persona: str, rule: str, in_project: bool) -> int | None:
    """What the API must answer, derived from the rule's default in compute/policies.py:
    403 when the policy (checked on the caller's own project) refuses; 404 when it allows
    but the server belongs to another project; None (a success) otherwise."""
    auth = _persona_auth(persona)
    target = {"project_id": auth.project_id, "user_id": auth.user_id}
    if not policy.check(auth, RULES[rule], target):
        return 403
    if persona in SYSTEM and rule == "os_compute_api:servers:create":
        return 403  # Nova's scope_types=['project']: the system owns no server
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
    (
        "os_compute_api:os-remote-consoles",
        "POST",
        "/servers/{sid}/remote-consoles",
        {"remote_console": {"protocol": "serial", "type": "serial"}},
        True,
    ),
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
    for persona, token in world.tokens.items():
        if body is not None and "flavor" in body:  # a name of its own for every allowed caller
            flavor = dict(body["flavor"])  # type: ignore[arg-type]
            flavor["name"] = f"persona-{uuid.uuid4().hex[:6]}"
            body = {"flavor": flavor}
        got = _call(compute, token, method, url, body).status_code
        want = expected_status(persona, rule, in_project)
        if want is None:
            assert got < 400, f"{rule}: {persona} got {got}"
        else:
            assert got == want, f"{rule}: {persona} got {got}, want {want}"


def test_system_reader_sees_every_project_and_changes_nothing(
    compute: Compute, world: World
) -> None:
    token = world.tokens["system_reader"]
    created = _call(compute, world.tokens["other_member"], "POST", "/servers", _server_body())
    assert created.status_code == 202, created.text
    elsewhere = created.json()["server"]["id"]
    everything = {s["id"] for s in compute.api("GET", "/servers?all_tenants=1").json()["servers"]}
    for path in ("/servers?all_tenants=1", "/servers/detail?all_tenants=1"):
        listed = {s["id"] for s in _call(compute, token, "GET", path).json()["servers"]}
        assert listed == everything and {world.server_id, elsewhere} <= listed, path
    # a project reader asking for all tenants still sees only its own project's
    own = _call(compute, world.tokens["reader"], "GET", "/servers?all_tenants=1").json()
    assert world.server_id in {s["id"] for s in own["servers"]}
    assert elsewhere not in {s["id"] for s in own["servers"]}
    assert _call(compute, token, "GET", f"/servers/{elsewhere}").status_code == 200
    for method, path, body in (
        ("DELETE", f"/servers/{world.server_id}", None),
        ("POST", f"/servers/{world.server_id}/action", {"os-stop": None}),
        ("PUT", f"/servers/{world.server_id}/metadata/k", {"meta": {"k": "v"}}),
    ):
        assert _call(compute, token, method, path, body).status_code == 403, path
    rename = httpx.put(
        f"{compute.cloud.url('compute')}/v2.1/servers/{world.server_id}",
        headers={"X-Auth-Token": token},
        json={"server": {"name": "renamed"}},
        timeout=30,
    )
    assert rename.status_code == 403
    server = compute.api("GET", f"/servers/{world.server_id}").json()["server"]
    assert server["status"] == "ACTIVE" and server["name"] == "persona-vm"
    # images: another project's private image is listed and shown, never changed
    image = compute.conn.image.create_image(
        name=f"private-{uuid.uuid4().hex[:6]}",
        data=b"\0" * 512,
        disk_format="raw",
        container_format="bare",
        visibility="private",
    )
    images = f"{compute.cloud.url('image')}/v2/images"
    headers = {"X-Auth-Token": token}
    listed_images = httpx.get(images, headers=headers, timeout=30).json()["images"]
    assert image.id in {i["id"] for i in listed_images}
    assert httpx.get(f"{images}/{image.id}", headers=headers, timeout=30).status_code == 200
    other = httpx.get(images, headers={"X-Auth-Token": world.tokens["member"]}, timeout=30)
    assert image.id not in {i["id"] for i in other.json()["images"]}
    patch = httpx.patch(
        f"{images}/{image.id}",
        headers={**headers, "Content-Type": "application/openstack-images-v2.1-json-patch"},
        content=b'[{"op": "replace", "path": "/name", "value": "x"}]',
        timeout=30,
    )
    assert patch.status_code == 403
    assert httpx.delete(f"{images}/{image.id}", headers=headers, timeout=30).status_code == 403
    assert compute.conn.image.get_image(image.id).name == image.name
    # a system admin's image needs an owner: the system is no project
    admin_headers = {"X-Auth-Token": world.tokens["system_admin"]}
    unowned = httpx.post(images, headers=admin_headers, json={"name": "sys-img"}, timeout=30)
    assert unowned.status_code == 403
    owned = httpx.post(
        images,
        headers=admin_headers,
        json={"name": "sys-img", "owner": world.project_id},
        timeout=30,
    )
    assert owned.status_code == 201 and owned.json()["owner"] == world.project_id


def _system_cli(compute: Compute, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The `openstack` CLI as `name` with a system-scoped token (OS_SYSTEM_SCOPE=all)."""
    env = {k: v for k, v in compute.cloud.cli_env().items() if not k.startswith("OS_PROJECT")}
    env.update(OS_USERNAME=name, OS_PASSWORD=PASSWORD, OS_SYSTEM_SCOPE="all")
    return subprocess.run(
        [str(VENV_BIN / "openstack"), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_system_reader_runs_the_operators_reads_with_the_cli_and_no_write(
    compute: Compute, world: World
) -> None:
    conn = compute.conn
    name = f"sysread-{uuid.uuid4().hex[:8]}"
    user = conn.identity.create_user(name=name, password=PASSWORD, domain_id="default")
    role_id = conn.identity.find_role("reader").id
    grant = httpx.put(
        f"{compute.cloud.auth_url}/system/users/{user.id}/roles/{role_id}",
        headers={"X-Auth-Token": conn.auth_token},
        timeout=30,
    )
    assert grant.status_code == 204, grant.text
    servers = _system_cli(
        compute, name, "server", "list", "--all-projects", "-f", "value", "-c", "ID"
    )
    assert world.server_id in servers.stdout.split(), servers.stderr
    reads = (
        ("usage", "list"),
        ("host", "list"),
        ("hypervisor", "list"),
        ("compute", "service", "list"),
        ("aggregate", "list"),
        ("availability", "zone", "list", "--compute", "--long"),
        ("server", "migration", "list"),
    )
    for args in reads:
        got = _system_cli(compute, name, *args, "-f", "json")
        assert got.returncode == 0, f"{args}: {got.stderr}"
    hosts = json.loads(_system_cli(compute, name, "host", "list", "-f", "json").stdout)
    assert set(compute.hosts) <= {h["Host Name"] for h in hosts}
    usage = json.loads(_system_cli(compute, name, "usage", "list", "-f", "json").stdout)
    assert world.project_id in {u["Project"] for u in usage}
    writes = (
        ("aggregate", "create", f"agg-{uuid.uuid4().hex[:6]}"),
        ("compute", "service", "set", "--disable", compute.hosts[0], "nova-compute"),
        ("quota", "set", "--class", "--cores", "7", "default"),
        ("server", "lock", world.server_id),
    )
    for args in writes:
        got = _system_cli(compute, name, *args)
        assert got.returncode != 0, f"{args}: {got.stdout}"
    # the CLI has no command left that shows a quota class: raw HTTP
    token = {"X-Auth-Token": world.tokens["system_reader"]}
    classes = f"{compute.cloud.url('compute')}/v2.1/os-quota-class-sets/default"
    assert httpx.get(classes, headers=token, timeout=30).status_code == 200
    assert httpx.get(classes, headers={"X-Auth-Token": world.tokens["reader"]}).status_code == 403
    assert (
        compute.api("GET", "/os-quota-class-sets/default").json()["quota_class_set"]["cores"] != 7
    )
    assert not [a for a in compute.api("GET", "/os-aggregates").json()["aggregates"]
                if a["name"].startswith("agg-")]  # fmt: skip
    services = compute.api("GET", "/os-services?binary=nova-compute").json()["services"]
    assert {s["status"] for s in services} == {"enabled"}
    server = compute.api("GET", f"/servers/{world.server_id}", version="2.9").json()["server"]
    assert server["locked"] is False
