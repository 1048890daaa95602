"""The persona matrix (PROMISES 15): every persona against representative compute policies.

Personas: admin, manager, member and reader of project P; member and reader of another
project Q; a user with no role anywhere (whose token is unscoped); an admin and a reader of
the system (system-scoped tokens: the reader reads every project's servers and changes
nothing, the admin does what the admin does). Authorized plus unauthorized cover every
persona for every rule checked here.
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


OWN = ("admin", "manager", "member", "reader")
WRITERS = ("admin", "manager", "member")
SYSTEM = ("system_admin", "system_reader")
OTHERS = ("other_member", "other_reader")


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "allowed", "denied_status"),
    [
        (
            "show server",
            "GET",
            "/servers/{sid}",
            None,
            OWN + SYSTEM,
            {"other": 404, "no_role": 403},
        ),
        ("list servers", "GET", "/servers", None, OWN + OTHERS + SYSTEM, {"no_role": 403}),
        (
            "server actions list",
            "GET",
            "/servers/{sid}/os-instance-actions",
            None,
            OWN + SYSTEM,
            {"other": 404, "no_role": 403},
        ),
        (
            "server metadata",
            "GET",
            "/servers/{sid}/metadata",
            None,
            OWN + SYSTEM,
            {"other": 404, "no_role": 403},
        ),
        (
            "create server",
            "POST",
            "/servers",
            {"server": {}},
            (*WRITERS, "other_member"),
            # a server belongs to a project: a system token creates none (Nova's scope_types)
            {"default": 403},
        ),
        # a reader may write nowhere, so another project's reader gets 403 before any lookup:
        # that reveals nothing about which servers exist
        (
            "update metadata",
            "POST",
            "/servers/{sid}/metadata",
            {"metadata": {"k": "v"}},
            (*WRITERS, "system_admin"),
            {"reader": 403, "other_member": 404, "other_reader": 403, "default": 403},
        ),
        (
            "list hypervisors",
            "GET",
            "/os-hypervisors",
            None,
            ("admin", "system_admin"),
            {"default": 403},
        ),
        ("list services", "GET", "/os-services", None, ("admin", "system_admin"), {"default": 403}),
        (
            "create flavor",
            "POST",
            "/flavors",
            {"flavor": {"name": "persona-flavor", "ram": 64, "vcpus": 1, "disk": 0}},
            ("admin", "system_admin"),
            {"default": 403},
        ),
        (
            "update quota",
            "PUT",
            "/os-quota-sets/{pid}",
            {"quota_set": {"instances": 10}},
            ("admin", "system_admin"),
            {"default": 403},
        ),
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
    got: dict[str, int] = {}
    for persona, token in world.tokens.items():
        if body is not None and "flavor" in body:  # a name of its own for every allowed caller
            flavor = dict(body["flavor"])  # type: ignore[arg-type]
            flavor["name"] = f"persona-{uuid.uuid4().hex[:6]}"
            body = {"flavor": flavor}
        got[persona] = _call(compute, token, method, url, body).status_code
    for persona in world.tokens:
        if persona in allowed:
            assert got[persona] < 400, f"{name}: {persona} got {got[persona]}"
            continue
        kind = "other" if persona in OTHERS else persona
        expected = denied_status.get(persona, denied_status.get(kind, denied_status.get("default")))
        assert got[persona] == expected, f"{name}: {persona} got {got[persona]}, want {expected}"


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
