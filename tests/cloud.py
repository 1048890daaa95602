"""Start a real ministack process for tests: its own state directory, free ports, a chosen DB.

Tests talk to it only over HTTP with the real clients (openstacksdk, the `openstack` CLI).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openstack
import openstack.connection

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_URL = "postgresql://postgres@127.0.0.1:5432"
ADMIN_PASSWORD = "admin-secret-pw"
SERVICES = ("identity", "compute", "placement", "image", "network", "volume", "object", "dashboard")


def password_body(
    user: str = "admin", password: str = ADMIN_PASSWORD, project: str | None = "admin"
) -> dict[str, Any]:
    """A Keystone password-auth request body (project-scoped unless project is None)."""
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            }
        }
    }
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    return body


def admin_token(auth_url: str) -> str:
    """A fresh admin token, asked for over plain HTTP."""
    resp = httpx.post(f"{auth_url}/auth/tokens", json=password_body(), timeout=30)
    if resp.status_code != 201:
        raise AssertionError(f"admin login failed: {resp.status_code} {resp.text}")
    return resp.headers["X-Subject-Token"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Cloud:
    """A running ministack process and how to reach it."""

    state_dir: Path
    env: dict[str, str]
    ports: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None
    database_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['identity']}/v3"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def connect(
        self,
        username: str = "admin",
        password: str = ADMIN_PASSWORD,
        project: str | None = "admin",
        domain: str | None = None,
    ) -> openstack.connection.Connection:
        auth: dict[str, Any] = {
            "auth_url": self.auth_url,
            "username": username,
            "password": password,
            "user_domain_id": "default",
        }
        if project:
            auth.update(project_name=project, project_domain_id="default")
        if domain:
            auth.update(domain_name=domain)
        # Only what is given here: a clouds.yaml or OS_* variables of the machine (./stack.sh
        # writes one) must not add a scope or another cloud's settings.
        return openstack.connect(
            auth=auth,
            region_name="RegionOne",
            identity_api_version="3",
            load_yaml_config=False,
            load_envvars=False,
        )

    def cli_env(
        self, username: str = "admin", password: str = ADMIN_PASSWORD, project: str = "admin"
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            OS_AUTH_URL=self.auth_url,
            OS_IDENTITY_API_VERSION="3",
            OS_USERNAME=username,
            OS_PASSWORD=password,
            OS_PROJECT_NAME=project,
            OS_USER_DOMAIN_ID="default",
            OS_PROJECT_DOMAIN_ID="default",
            OS_REGION_NAME="RegionOne",
        )
        return env

    def cli(self, *args: str, check: bool = True, **user: str) -> subprocess.CompletedProcess[str]:
        """Run the real `openstack` CLI; returns the completed process (stdout, stderr)."""
        result = subprocess.run(
            [str(VENV_BIN / "openstack"), *args],
            env=self.cli_env(**user),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed:\n{result.stderr}")
        return result

    def ministack(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(VENV_BIN / "ministack"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"ministack {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )
        return result

    def start(self, timeout: float = 60.0) -> None:
        """Start the process in the foreground (as a child) and wait for its ports."""
        with (self.state_dir / "console.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ministack", "up", "--foreground"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
            )
        deadline = time.monotonic() + timeout
        enabled = self.env.get("MINISTACK_SERVICES_ENABLED", "identity").split(",")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ministack exited early:\n{self.console_log()}")
            if all(port_open(self.ports[s]) for s in enabled):
                return
            time.sleep(0.1)
        raise RuntimeError(f"ministack did not start in {timeout}s:\n{self.console_log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def console_log(self) -> str:
        path = self.state_dir / "console.log"
        return path.read_text()[-5000:] if path.exists() else ""


def make_cloud(
    tmp: Path,
    backend: str = "sqlite",
    services: tuple[str, ...] = ("identity",),
    extra_env: dict[str, str] | None = None,
) -> Cloud:
    """Prepare (not start) a cloud in `tmp`: config, database and migrated schema."""
    ports = {name: free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINISTACK_", "OS_"))}
    env.update(
        MINISTACK_DEFAULT_STATE_DIR=str(tmp),
        MINISTACK_CONFIG=str(tmp / "ministack.toml"),
        MINISTACK_IDENTITY_ADMIN_PASSWORD=ADMIN_PASSWORD,
        MINISTACK_IDENTITY_PASSWORD_HASH_ROUNDS="4",
        MINISTACK_SERVICES_ENABLED=",".join(services),
        MINISTACK_DEFAULT_HOST=f"test-{uuid.uuid4().hex[:6]}",
        # `ministack init` writes virt_driver = "libvirt"; tests ask for real VMs explicitly
        MINISTACK_COMPUTE_VIRT_DRIVER="fake",
        # ... and `[network_agent] enabled`: tests that want a data plane give it a namespace
        MINISTACK_NETWORK_AGENT_ENABLED="false",
        HOME=str(tmp / "home"),
    )
    for name, port in ports.items():
        env[f"MINISTACK_SERVICES_{name.upper()}_PORT"] = str(port)
    for name in ("novnc", "serial"):  # the compute process's console proxy
        ports[f"console_{name}"] = free_port()
        env[f"MINISTACK_CONSOLE_{name.upper()}_PORT"] = str(ports[f"console_{name}"])
    database_url = ""
    if backend == "postgresql":
        name = f"ministack_test_{uuid.uuid4().hex[:10]}"
        create_pg_database(name)
        database_url = f"{PG_URL}/{name}"
        env["MINISTACK_DATABASE_URL"] = database_url
    env.update(extra_env or {})
    cloud = Cloud(state_dir=tmp, env=env, ports=ports, database_url=database_url)
    cloud.ministack("init")
    return cloud


def _psql(sql: str) -> None:
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"PostgreSQL at 127.0.0.1:5432 is needed for this test ({result.stderr.strip()}); "
            "start it: pg_ctlcluster --skip-systemctl-redirect 15 main start"
        )


def create_pg_database(name: str) -> None:
    _psql(f"CREATE DATABASE {name}")


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[-1]
    with contextlib.suppress(RuntimeError):
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def running_cloud(
    tmp: Path,
    backend: str = "sqlite",
    services: tuple[str, ...] = ("identity",),
    extra_env: dict[str, str] | None = None,
) -> Iterator[Cloud]:
    cloud = make_cloud(tmp, backend, services, extra_env)
    try:
        cloud.start()
        yield cloud
    finally:
        cloud.stop()
        if cloud.database_url:
            drop_pg_database(cloud.database_url)
