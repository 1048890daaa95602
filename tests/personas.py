"""The personas the API test clouds share: two projects (a and b), each with a member and a
reader, made by the admin; each persona is reached by openstacksdk and by a token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import openstack.connection

from tests.cloud import Cloud, password_body

PROJECTS = ("a", "b")
ROLES = ("member", "reader")


@dataclass
class Persona:
    """A user with one role on one project, and how to reach the cloud as them."""

    name: str
    project: str
    project_id: str
    role: str
    password: str
    conn: openstack.connection.Connection
    token: str

    @property
    def account(self) -> str:
        """The project's object storage account (Swift's reseller prefix and project id)."""
        return f"AUTH_{self.project_id}"


@dataclass
class PersonaCloud:
    """A running cloud, its admin (by openstacksdk and by token) and the personas made there;
    `who` is "admin" or a key of `people`."""

    cloud: Cloud
    admin: openstack.connection.Connection
    admin_token: str
    people: dict[str, Persona]

    def token(self, who: str = "admin") -> str:
        return self.admin_token if who == "admin" else self.people[who].token

    def cli(self, who: str, *args: str, check: bool = True) -> str:
        """The `openstack` CLI as `who`: its stdout (with its stderr when not `check`)."""
        if who == "admin":
            result = self.cloud.cli(*args, check=check)
        else:
            p = self.people[who]
            result = self.cloud.cli(
                *args, check=check, username=p.name, password=p.password, project=p.project
            )
        return result.stdout if check else result.stdout + result.stderr


def token_of(cloud: Cloud, user: str, password: str, project: str) -> str:
    """A project-scoped token of `user` (password authentication)."""
    resp = httpx.post(f"{cloud.auth_url}/auth/tokens", json=password_body(user, password, project))
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def make_people(
    cloud: Cloud,
    admin: openstack.connection.Connection,
    password: str,
    *,
    project_prefix: str = "proj-",
    user_prefix: str = "",
) -> dict[str, Persona]:
    """ "a_member", "a_reader", "b_member", "b_reader": a new project per letter (named
    `<project_prefix><letter>-<suffix>`) and a user per role in it
    (`<user_prefix><letter>-<role>-<suffix>`), all with `password`."""
    suffix = uuid.uuid4().hex[:6]
    people: dict[str, Persona] = {}
    for project in PROJECTS:
        pname = f"{project_prefix}{project}-{suffix}"
        proj = admin.identity.create_project(name=pname, domain_id="default")
        for role in ROLES:
            uname = f"{user_prefix}{project}-{role}-{suffix}"
            user = admin.identity.create_user(name=uname, password=password, domain_id="default")
            role_obj = admin.identity.find_role(role, ignore_missing=False)
            admin.identity.assign_project_role_to_user(proj, user, role_obj)
            people[f"{project}_{role}"] = Persona(
                name=uname,
                project=pname,
                project_id=proj.id,
                role=role,
                password=password,
                conn=cloud.connect(username=uname, password=password, project=pname),
                token=token_of(cloud, uname, password, pname),
            )
    return people
