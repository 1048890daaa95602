"""Secrets at rest (promise 28): nothing under the state directory is readable by other local
users, and `ministack init` writes hostile passwords into its files as inert data."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import tomllib
from pathlib import Path

import httpx
import yaml

from ministack import config
from tests.cloud import VENV_BIN, Cloud, admin_token, make_cloud, password_body, running_cloud

# Written by the test harness (tests/cloud.py) into the state directory, not by ministack.
HARNESS_FILES = {"console.log"}


def loose_entries(root: Path) -> list[str]:
    """Every file or directory under `root` that a user other than the owner could read,
    write or list (traversal alone reveals nothing and is allowed)."""
    found = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink() or path.relative_to(root).as_posix() in HARNESS_FILES:
            continue
        mode = path.lstat().st_mode
        loose = mode & 0o066 if stat.S_ISDIR(mode) else mode & 0o077
        if loose:
            found.append(f"{path.relative_to(root)} {stat.filemode(mode)}")
    return found


def _boot_with_user_data(cloud: Cloud, token: str) -> None:
    headers = {"X-Auth-Token": token}
    image = httpx.post(
        f"{cloud.url('image')}/v2/images",
        json={"name": "img", "disk_format": "raw", "container_format": "bare"},
        headers=headers,
    ).json()
    put = httpx.put(
        f"{cloud.url('image')}/v2/images/{image['id']}/file",
        content=b"\0" * 4096,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 204, put.text
    compute = f"{cloud.url('compute')}/v2.1"
    flavor = httpx.post(
        f"{compute}/flavors",
        json={"flavor": {"name": "f1", "ram": 64, "vcpus": 1, "disk": 1}},
        headers=headers,
    ).json()["flavor"]
    keypair = httpx.post(
        f"{compute}/os-keypairs", json={"keypair": {"name": "k1"}}, headers=headers
    )
    assert keypair.status_code in (200, 201), keypair.text
    server = httpx.post(
        f"{compute}/servers",
        json={
            "server": {
                "name": "vm",
                "imageRef": image["id"],
                "flavorRef": flavor["id"],
                "user_data": base64.b64encode(b"#!/bin/sh\necho tenant-secret\n").decode(),
                "networks": "none",
            }
        },
        headers={**headers, "X-OpenStack-Nova-API-Version": "2.37"},
    )
    assert server.status_code == 202, server.text


def test_state_directory_holds_nothing_others_can_read(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # as an older install left it: init and up must close it
    services = ("identity", "image", "placement", "compute")
    with running_cloud(state, services=services) as cloud:
        token = admin_token(cloud.auth_url)
        user = httpx.post(
            f"{cloud.auth_url}/users",
            json={"user": {"name": "alice", "password": "alice-secret-pw"}},
            headers={"X-Auth-Token": token},
        )
        assert user.status_code == 201, user.text
        _boot_with_user_data(cloud, token)
        for name in ("ministack.db", "ministack.db-wal", "ministack.db-shm", "openrc"):
            assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
        assert (state / "home/.config/openstack/clouds.yaml").stat().st_mode & 0o077 == 0
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert loose_entries(state) == []


HOSTILE = [
    "quote\"and'apostrophe",
    '"\n[database]\nurl = "sqlite:////tmp/ministack-injected.db"\n',
    "$(touch {canary})",
    "`touch {canary}`",
    "'; touch {canary}; echo '",
    "back\\slash\ttab ${HOME} !x \\n pässwörd€ #comment",
]


def test_init_writes_hostile_passwords_as_inert_data(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    for n, template in enumerate(HOSTILE):
        password = template.replace("{canary}", str(canary))
        state = tmp_path / f"s{n}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINISTACK_", "OS_"))}
        env.update(
            MINISTACK_DEFAULT_STATE_DIR=str(state),
            MINISTACK_CONFIG=str(state / "ministack.toml"),
            HOME=str(state / "home"),
        )
        done = subprocess.run(
            [str(VENV_BIN / "ministack"), "init", "--admin-password", password],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        toml_path = state / "ministack.toml"
        with toml_path.open("rb") as fh:
            parsed = tomllib.load(fh)
        service_passwords = parsed.pop("service_auth")
        assert parsed == {
            "identity": {"admin_password": password},
            "compute": {"virt_driver": "libvirt"},
            "network_agent": {"enabled": True},
        }
        assert sorted(service_passwords) == [
            "cinder_password",
            "glance_password",
            "neutron_password",
            "nova_password",
            "placement_password",
        ]
        loaded = config.load(toml_path, env={})
        assert loaded.identity.admin_password == password and loaded.database.url == ""
        sourced = subprocess.run(
            ["bash", "-c", f'source {state / "openrc"} && printf %s "$OS_PASSWORD"'],
            capture_output=True,
            text=True,
            env={"PATH": os.environ["PATH"]},
        )
        assert sourced.returncode == 0 and sourced.stderr == "", sourced.stderr
        assert sourced.stdout == password
        clouds = yaml.safe_load((state / "home/.config/openstack/clouds.yaml").read_text())
        assert clouds["clouds"]["ministack"]["auth"]["password"] == password
        for path in (toml_path, state / "openrc", state / "home/.config/openstack/clouds.yaml"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert not canary.exists(), f"sourcing openrc ran a command for {password!r}"


def test_hostile_admin_password_is_the_admin_password(tmp_path: Path) -> None:
    """The password `init` wrote, read back by the service, is the admin's real password."""
    password = '"\n[database]\nurl = "x"\n$(id) \'`'
    cloud = make_cloud(tmp_path)
    (tmp_path / "ministack.toml").unlink()
    del cloud.env["MINISTACK_IDENTITY_ADMIN_PASSWORD"]
    cloud.ministack("init", "--admin-password", password)
    try:
        cloud.start()
        body = password_body(password=password)
        resp = httpx.post(f"{cloud.auth_url}/auth/tokens", json=body, timeout=30)
        assert resp.status_code == 201, resp.text
    finally:
        cloud.stop()
