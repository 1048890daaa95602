"""The `ministack` command: init, up, down, status, logs, db upgrade, doctor, seed, config-doc."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ministack import config
from ministack.common import files
from ministack.config import Settings
from ministack.pidfile import pid_file, running_pid

app = typer.Typer(
    help="ministack: an OpenStack-compatible cloud in one process.", no_args_is_help=True
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
# Wide when piped, so tables are not cut in logs and scripts.
console = Console() if sys.stdout.isatty() else Console(width=200)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def _settings() -> Settings:
    try:
        return config.load()
    except config.ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def init(
    admin_password: Annotated[str, typer.Option(help="Admin password (generated if empty).")] = "",
) -> None:
    """Create the state directory and configuration file, and migrate the database."""
    path = config.config_path()
    files.private_dir(path.parent)
    if not path.exists():
        password = admin_password or secrets.token_urlsafe(12)
        files.write_private(path, initial_config(password))
        console.print(f"wrote {path}")
    add_service_passwords(path)
    settings = _settings()
    files.private_dir(settings.state_path, tighten=True)
    _upgrade(settings)
    write_credentials(settings)


def initial_config(admin_password: str) -> str:
    """The first ministack.toml: the admin password, the libvirt driver and the network agent,
    as TOML.

    Written through a TOML serializer, so any password (quotes, newlines, brackets) reads back
    as exactly itself and can never add a key or a section.
    """
    import tomli_w

    return (
        "# ministack configuration; see docs/config.md for every key.\n"
        "# [compute] virt_driver: real QEMU/KVM guests through libvirtd (the built-in default "
        "is the fake driver)\n"
        "# [network_agent] enabled: this host's bridges, VXLAN, DHCP and metadata (needs root)\n"
        + tomli_w.dumps(
            {
                "identity": {"admin_password": admin_password},
                "compute": {"virt_driver": "libvirt"},
                "network_agent": {"enabled": True},
            }
        )
    )


def openrc_text(auth_url: str, password: str, region: str) -> str:
    """The admin openrc: every value shell-quoted, so sourcing it runs nothing but `export`."""
    values = {
        "OS_AUTH_URL": auth_url,
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": "admin",
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_ID": "default",
        "OS_REGION_NAME": region,
        "OS_INTERFACE": "public",
    }
    lines = ["# source this file to use the openstack CLI as admin"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


def add_service_passwords(path: Path) -> None:
    """Add a [service_auth] section with a generated password per service user when the file
    has none (idempotent; an existing section is left as it is). The file is rewritten whole
    through `files.write_private`, so it keeps its 0600 mode and is never half-written."""
    import tomllib

    import tomli_w

    text = path.read_text()
    try:
        if "service_auth" in tomllib.loads(text):
            return
    except tomllib.TOMLDecodeError:
        return  # reported with its location by the settings loader next
    passwords = {
        f"{user}_password": secrets.token_urlsafe(18) for user in config.SERVICE_USERS.values()
    }
    section = tomli_w.dumps({"service_auth": passwords})
    note = "# the services' own users (project service); see docs/config.md\n"
    files.write_private(path, text.rstrip("\n") + "\n\n" + note + section)


def write_credentials(settings: Settings) -> None:
    """Write <state>/openrc and the `ministack` entry of ~/.config/openstack/clouds.yaml.

    Both are created 0600 (never readable by others, not even for a moment) and replaced
    atomically; clouds.yaml keeps the user's other clouds.
    """
    import yaml

    auth_url = settings.endpoint("identity") + "/v3"
    password = settings.identity.admin_password
    files.write_private(
        settings.state_path / "openrc", openrc_text(auth_url, password, settings.default.region)
    )
    clouds_path = Path.home() / ".config/openstack/clouds.yaml"
    clouds_path.parent.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(clouds_path.read_text()) if clouds_path.exists() else None
    data = data if isinstance(data, dict) else {}
    data.setdefault("clouds", {})["ministack"] = {
        "auth": {
            "auth_url": auth_url,
            "username": "admin",
            "password": password,
            "project_name": "admin",
            "user_domain_id": "default",
            "project_domain_id": "default",
        },
        "region_name": settings.default.region,
        "interface": "public",
        "identity_api_version": 3,
    }
    files.write_private(clouds_path, yaml.safe_dump(data, default_flow_style=False))


def _upgrade(settings: Settings) -> None:
    from ministack.common import db

    db.upgrade(settings.database_url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every service's database migrations (idempotent)."""
    settings = _settings()
    _upgrade(settings)
    console.print("database is up to date")


@app.command()
def up(
    foreground: Annotated[bool, typer.Option(help="Run in this terminal, logs on stderr.")] = False,
) -> None:
    """Start the cloud (in the background unless --foreground). Safe to run when already up."""
    settings = _settings()
    pid = running_pid(settings)
    if pid is not None:
        console.print(f"ministack is already running (pid {pid})")
        return
    files.private_dir(settings.state_path, tighten=True)
    _upgrade(settings)
    if foreground:
        _run_foreground(settings)
        return
    logs = files.private_dir(settings.state_path / "logs")
    with (logs / "console.log").open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "ministack", "up", "--foreground"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if not _wait_started(settings, child):
        console.print(f"[red]ministack did not start;[/red] see {logs / 'console.log'}")
        raise typer.Exit(1)
    console.print(f"ministack is up (pid {child.pid})")
    _print_endpoints(settings)


def _run_foreground(settings: Settings) -> None:
    from ministack import server

    path = pid_file(settings)
    path.write_text(str(os.getpid()))
    try:
        asyncio.run(server.run(settings, stderr_logs=True))
    finally:
        if path.exists() and path.read_text().strip() == str(os.getpid()):
            path.unlink()


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_started(settings: Settings, child: subprocess.Popen[bytes]) -> bool:
    from ministack.server import enabled_services

    ports = [settings.port(s) for s in enabled_services(settings)]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            return False
        if all(_port_open(settings.default.bind_host, p) for p in ports):
            return True
        time.sleep(0.1)
    return False


def _print_endpoints(settings: Settings) -> None:
    from ministack.server import enabled_services

    table = Table("service", "endpoint")
    for name in enabled_services(settings):
        table.add_row(name, settings.endpoint(name))
    console.print(table)
    console.print(
        f"admin credentials: {settings.state_path / 'openrc'} "
        "(source it), or `export OS_CLOUD=ministack` (clouds.yaml)"
    )


@app.command()
def down(
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="also remove this host's network data plane (bridges, VXLAN devices, DHCP "
            "namespaces and their dnsmasq): guests lose their network until `ministack up`",
        ),
    ] = False,
) -> None:
    """Stop the cloud; requests in flight finish first."""
    settings = _settings()
    _stop(settings)
    if clean and settings.network_agent.enabled:
        from ministack.network.agent.reconcile import Reconciler
        from ministack.network.agent.runner import host_config_of

        removed = Reconciler(host_config_of(settings)).remove_all().removed
        console.print(f"network data plane removed ({len(removed)} objects)")


def _stop(settings: Settings) -> None:
    pid = running_pid(settings)
    if pid is None:
        console.print("ministack is not running")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            console.print("ministack stopped")
            return
        time.sleep(0.1)
    console.print(
        f"[red]ministack (pid {pid}) did not stop in {STOP_TIMEOUT:.0f}s; killing it[/red]"
    )
    os.kill(pid, signal.SIGKILL)


@app.command()
def status() -> None:
    """Show the process and every service and agent with up/down."""
    from ministack.server import enabled_services

    settings = _settings()
    pid = running_pid(settings)
    console.print(f"process: {'running, pid ' + str(pid) if pid else 'not running'}")
    table = Table("service", "endpoint", "state")
    for name in enabled_services(settings):
        up_now = _port_open(settings.default.bind_host, settings.port(name))
        table.add_row(
            name, settings.endpoint(name), "[green]up[/green]" if up_now else "[red]down[/red]"
        )
    console.print(table)
    rows = asyncio.run(_service_rows(settings))
    down_after = settings.compute.service_down_time
    agents = Table("host", "binary", "state", "last heartbeat", "disabled", "why down")
    for host, binary, updated, disabled, forced, error in rows:
        age = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - updated).total_seconds()
        alive = age <= down_after and not forced and not error
        why = error or ("forced down" if forced else "")
        if age > down_after:
            why = why or f"no heartbeat for {int(age)}s"
        agents.add_row(
            host,
            binary,
            "[green]up[/green]" if alive else "[red]down[/red]",
            f"{int(age)}s ago",
            "yes" if disabled else "no",
            escape(why),
        )
    console.print(agents)


async def _service_rows(
    settings: Settings,
) -> list[tuple[str, str, dt.datetime, bool, bool, str | None]]:
    from sqlalchemy import select

    from ministack.common.db import Database
    from ministack.common.models import ServiceRecord

    db = Database(settings.database_url)
    try:
        async with db.session() as s:
            rows = (
                (
                    await s.execute(
                        select(ServiceRecord).order_by(ServiceRecord.host, ServiceRecord.binary)
                    )
                )
                .scalars()
                .all()
            )
            return [
                (r.host, r.binary, r.updated_at, r.disabled, r.forced_down, r.last_error)
                for r in rows
            ]
    except Exception as exc:
        console.print(f"[red]cannot read the service registry:[/red] {exc}")
        return []
    finally:
        await db.close()


@app.command()
def logs(
    service: Annotated[str, typer.Argument(help="identity, image, compute, ... or all")] = "all",
    lines: Annotated[int, typer.Option("-n", help="How many lines.")] = 50,
    follow: Annotated[bool, typer.Option("-f", help="Keep printing new lines.")] = False,
) -> None:
    """Show the logs of one service (or of all)."""
    settings = _settings()
    name = "ministack" if service == "all" else service
    path = settings.state_path / "logs" / f"{name}.log"
    if not path.exists():
        console.print(f"[red]no log at {path}[/red]")
        raise typer.Exit(1)
    cmd = ["tail", f"-n{lines}"] + (["-F"] if follow else []) + [str(path)]
    raise typer.Exit(subprocess.call(cmd))


@app.command()
def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the checks as a JSON list (for the dashboard).")
    ] = False,
    canary: Annotated[
        bool,
        typer.Option(
            "--canary",
            help="Also run the network canary: a throwaway guest on a throwaway network of the "
            "running cloud (needs root; removes all it makes).",
        ),
    ] = False,
) -> None:
    """Check every prerequisite and say, for each, what is wrong and how to fix it."""
    import dataclasses
    import json

    from ministack.doctor import run_checks

    settings = _settings()
    checks = run_checks(settings)
    if canary:
        from ministack.canary import run_canary

        checks += run_canary(settings)
    failed = sum(0 if c.ok or c.optional else 1 for c in checks)
    if as_json:
        print(json.dumps([dataclasses.asdict(c) for c in checks]))
        raise typer.Exit(1 if failed else 0)
    for check in checks:
        mark = (
            "[green]ok[/green]"
            if check.ok
            else ("[yellow]warn[/yellow]" if check.optional else "[red]FAIL[/red]")
        )
        # details and fixes are plain text: brackets in them are not Rich markup
        console.print(f"{mark:>20}  {escape(check.name)}: {escape(check.detail)}")
        if not check.ok and check.fix:
            console.print(f"{'':>8}fix: {escape(check.fix)}")
    raise typer.Exit(1 if failed else 0)


@app.command()
def compute(
    fake_hosts: Annotated[
        int | None, typer.Option(help="Fake compute hosts to run (fake driver).")
    ] = None,
) -> None:
    """Run compute agents against the configured database and (RabbitMQ) bus."""
    from ministack.compute.runner import run_agents, with_fake_hosts

    settings = with_fake_hosts(_settings(), fake_hosts)
    try:
        asyncio.run(run_agents(settings))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def seed() -> None:
    """Register the ministack-test image and the default flavors in the running cloud."""
    from ministack.compute.guestimage import GuestImageError
    from ministack.seed import SeedError
    from ministack.seed import seed as run_seed

    try:
        for line in run_seed(_settings()):
            console.print(line)
    except (SeedError, GuestImageError) as exc:
        console.print(f"[red]seed failed:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None


@app.command("config-doc")
def config_doc() -> None:
    """Print the configuration reference (Markdown)."""
    print(config.reference())


def main() -> None:
    files.restrict_umask()  # before anything is created: the database, logs, keys, images
    app()
