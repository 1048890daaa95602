"""Projects, users, groups, roles, domains, the catalog and assignments through openstacksdk."""

from __future__ import annotations

import uuid

import httpx
import openstack.connection
import pytest
from openstack import exceptions

from tests.cloud import Cloud


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_project_crud(admin: openstack.connection.Connection) -> None:
    name = _name("proj")
    project = admin.identity.create_project(name=name, description="d", tags=["a"])
    assert project.domain_id == "default" and project.is_enabled
    assert admin.identity.get_project(project.id).name == name
    found = list(admin.identity.projects(name=name))
    assert [p.id for p in found] == [project.id]
    admin.identity.update_project(project, description="new", is_enabled=False)
    assert admin.identity.get_project(project.id).description == "new"
    assert not admin.identity.get_project(project.id).is_enabled
    admin.identity.delete_project(project)
    with pytest.raises(exceptions.NotFoundException):
        admin.identity.get_project(project.id)


def test_duplicate_project_is_conflict(admin: openstack.connection.Connection) -> None:
    name = _name("dup")
    admin.identity.create_project(name=name)
    with pytest.raises(exceptions.ConflictException):
        admin.identity.create_project(name=name)


def test_user_crud_and_password_login(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    project = admin.identity.create_project(name=_name("p"))
    uname = _name("user")
    user = admin.identity.create_user(
        name=uname, password="pw-1", default_project_id=project.id, email="u@example.org"
    )
    assert user.email == "u@example.org"
    role = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, role)
    conn = identity_cloud.connect(uname, "pw-1", project.name)
    assert conn.current_project_id == project.id

    admin.identity.update_user(user, password="pw-2")
    with pytest.raises(exceptions.SDKException, match="401"):
        identity_cloud.connect(uname, "pw-1", project.name).authorize()
    assert identity_cloud.connect(uname, "pw-2", project.name).authorize()

    admin.identity.delete_user(user)
    with pytest.raises(exceptions.NotFoundException):
        admin.identity.get_user(user.id)


def test_groups_and_membership_grant_roles(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    project = admin.identity.create_project(name=_name("gp"))
    user = admin.identity.create_user(name=_name("gu"), password="pw")
    group = admin.identity.create_group(name=_name("grp"))
    admin.identity.add_user_to_group(user, group)
    assert admin.identity.check_user_in_group(user, group)
    assert [u.id for u in admin.identity.group_users(group)] == [user.id]
    reader = admin.identity.find_role("reader")
    admin.identity.assign_project_role_to_group(project, group, reader)
    conn = identity_cloud.connect(user.name, "pw", project.name)
    assert conn.authorize()
    effective = list(admin.identity.role_assignments(user_id=user.id, effective=True))
    assert [(a.role["id"], a.scope["project"]["id"]) for a in effective] == [
        (reader.id, project.id)
    ]
    admin.identity.remove_user_from_group(user, group)
    assert not admin.identity.check_user_in_group(user, group)
    admin.identity.delete_group(group)


def test_default_roles_exist_and_imply(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    names = {r.name for r in admin.identity.roles()}
    assert {"admin", "member", "reader", "manager"} <= names
    # admin implies manager implies member implies reader: a token for admin carries all four
    project = admin.identity.create_project(name=_name("chain"))
    user = admin.identity.create_user(name=_name("chain"), password="pw")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("admin"))
    conn = identity_cloud.connect(user.name, "pw", project.name)
    roles = set(conn.session.auth.get_access(conn.session).role_names)
    assert roles == {"admin", "manager", "member", "reader"}


def test_member_token_carries_implied_reader(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    project = admin.identity.create_project(name=_name("imp"))
    user = admin.identity.create_user(name=_name("imp"), password="pw")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    conn = identity_cloud.connect(user.name, "pw", project.name)
    roles = {
        r["name"]
        for r in conn.session.auth.get_access(conn.session).role_names
        and [{"name": n} for n in conn.session.auth.get_access(conn.session).role_names]
    }
    assert roles == {"member", "reader"}


def test_domains_disable_before_delete(admin: openstack.connection.Connection) -> None:
    domain = admin.identity.create_domain(name=_name("dom"))
    project = admin.identity.create_project(name=_name("dp"), domain_id=domain.id)
    with pytest.raises(exceptions.ForbiddenException):
        admin.identity.delete_domain(domain)
    admin.identity.update_domain(domain, is_enabled=False)
    admin.identity.delete_domain(domain)
    with pytest.raises(exceptions.NotFoundException):
        admin.identity.get_project(project.id)


def test_services_endpoints_regions(admin: openstack.connection.Connection) -> None:
    types = {s.type for s in admin.identity.services()}
    assert "identity" in types
    region = admin.identity.create_region(id=_name("region"), description="r")
    service = admin.identity.create_service(type=_name("type"), name="svc")
    endpoint = admin.identity.create_endpoint(
        service_id=service.id, interface="public", url="http://127.0.0.1:1/", region_id=region.id
    )
    assert admin.identity.get_endpoint(endpoint.id).url == "http://127.0.0.1:1/"
    with pytest.raises(exceptions.BadRequestException):
        admin.identity.create_endpoint(service_id=service.id, interface="sideways", url="http://x/")
    admin.identity.delete_service(service)
    with pytest.raises(exceptions.NotFoundException):
        admin.identity.get_endpoint(endpoint.id)
    admin.identity.delete_region(region)


def _app_cred_connection(
    cloud: Cloud, cred_id: str, secret: str
) -> openstack.connection.Connection:
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.ApplicationCredential(
        auth_url=cloud.auth_url,
        application_credential_id=cred_id,
        application_credential_secret=secret,
    )
    return openstack.connection.Connection(
        session=session.Session(auth=auth), region_name="RegionOne"
    )


def test_application_credential_login(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    project = admin.identity.create_project(name=_name("ac"))
    user = admin.identity.create_user(name=_name("ac"), password="pw")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    conn = identity_cloud.connect(user.name, "pw", project.name)
    cred = conn.identity.create_application_credential(user=conn.current_user_id, name="ci")
    app_conn = _app_cred_connection(identity_cloud, cred.id, cred.secret)
    assert app_conn.current_project_id == project.id
    conn.identity.delete_application_credential(conn.current_user_id, cred)
    with pytest.raises(exceptions.SDKException, match="401"):
        _app_cred_connection(identity_cloud, cred.id, cred.secret).authorize()


def test_pagination_limit_marker(
    identity_cloud: Cloud, admin: openstack.connection.Connection
) -> None:
    prefix = _name("page")
    ids = sorted(admin.identity.create_project(name=f"{prefix}-{i}").id for i in range(5))
    headers = {"X-Auth-Token": admin.auth_token}
    walked: list[str] = []
    seen: list[str] = []
    page: list[dict[str, str]] = [{"id": ""}]
    while page:
        marker = {"marker": page[-1]["id"]} if walked else {}
        got = httpx.get(
            f"{identity_cloud.auth_url}/projects", params={"limit": "2", **marker}, headers=headers
        )
        page = got.json()["projects"]
        assert len(page) <= 2 and not {p["id"] for p in page} & set(walked)
        walked += [p["id"] for p in page]
        seen += [p["id"] for p in page if p["name"].startswith(prefix)]
    assert seen == ids  # every page in id order, none twice, none missed
