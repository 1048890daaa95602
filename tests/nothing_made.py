""" "Nothing half-made" (PROMISES 13): what a refused request must leave exactly as it was.

`nothing_made(target)` snapshots, before and after the block it wraps, everything a request
could have left behind, and fails the test when anything differs:

- the row count of every table in the cloud's database (read-only: sqlite3 or psql);
- placement: every allocation, with its amounts (when placement runs);
- compute: quota usage (`in_use`) of the projects asked for (when compute runs);
- the host's objects: each fake host's guests (through the admin test hook) and the files
  under the state directory (instance directories, image store, config drives), except
  the logs and the database's own files.

Before the first snapshot it waits (generous deadline) until no server has a task under way
and two snapshots agree, so work left running by an earlier test is not mistaken for
something the refused request made. New services add their host objects (bridges,
namespaces, volumes, objects) to `snapshot`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.cloud import Cloud, admin_token

if TYPE_CHECKING:
    from tests.api.compute.conftest import Compute

SETTLE_DEADLINE = 60.0  # seconds to wait for an earlier test's work to finish
CHURN = (".log", ".db", ".db-wal", ".db-shm", ".db-journal", ".pid", ".lock")


@dataclass
class Target:
    """A running cloud and what to look at in it."""

    cloud: Cloud
    token: str
    fake_hosts: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, thing: Cloud | Compute) -> Target:
        if isinstance(thing, Cloud):
            return cls(cloud=thing, token=admin_token(thing.auth_url))
        hooks = thing.cloud.env.get("MINISTACK_COMPUTE_TEST_HOOKS") == "1"
        return cls(
            cloud=thing.cloud,
            token=thing.conn.auth_token,
            fake_hosts=thing.hosts if hooks else [],
            projects=[str(thing.conn.current_project_id)],
        )

    def enabled(self, service: str) -> bool:
        return service in self.cloud.env.get("MINISTACK_SERVICES_ENABLED", "identity").split(",")

    def get(self, service: str, path: str, **kw: Any) -> Any:
        headers = {"X-Auth-Token": self.token, **kw.pop("headers", {})}
        resp = httpx.get(f"{self.cloud.url(service)}{path}", headers=headers, timeout=30, **kw)
        resp.raise_for_status()
        return resp.json()


def query(cloud: Cloud, sql: str) -> list[tuple[str, ...]]:
    """Rows of a read-only query on the cloud's database (SQLite file or PostgreSQL), as text."""
    if cloud.database_url:
        done = subprocess.run(
            ["psql", cloud.database_url, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"psql failed: {done.stderr}"
        return [tuple(line.split("\t")) for line in done.stdout.splitlines() if line]
    path = cloud.state_dir / "ministack.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return [tuple(str(v) for v in row) for row in db.execute(sql)]


def tables(cloud: Cloud) -> list[str]:
    if cloud.database_url:
        sql = (
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    return sorted(row[0] for row in query(cloud, sql))


def row_counts(cloud: Cloud) -> dict[str, int]:
    """The number of rows in every table of the cloud's database."""
    union = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables(cloud))
    return {name: int(n) for name, n in query(cloud, union)} if union else {}


def placement_allocations(cloud: Cloud) -> list[tuple[str, ...]]:
    """Every allocation placement holds: (provider, consumer, resource class, amount)."""
    return query(
        cloud,
        "SELECT provider_id, consumer_id, resource_class, used FROM placement_allocations "
        "ORDER BY provider_id, consumer_id, resource_class",
    )


def quota_used(target: Target) -> dict[str, dict[str, int]]:
    """Compute quota `in_use` of each project asked for."""
    out: dict[str, dict[str, int]] = {}
    for project in target.projects:
        detail = target.get("compute", f"/v2.1/os-quota-sets/{project}/detail")["quota_set"]
        out[project] = {k: v["in_use"] for k, v in detail.items() if isinstance(v, dict)}
    return out


def fake_guests(target: Target) -> dict[str, list[str]]:
    """Each fake host's guests. The hook also clears the host's delays and failures."""
    out: dict[str, list[str]] = {}
    for host in target.fake_hosts:
        resp = httpx.post(
            f"{target.cloud.url('compute')}/v2.1/os-ministack-fake-hosts/{host}",
            json={},
            headers={"X-Auth-Token": target.token},
            timeout=30,
        )
        resp.raise_for_status()
        out[host] = sorted(resp.json()["guests"])
    return out


def state_files(state_dir: Path) -> list[str]:
    """Files under the state directory (instance dirs, image store...), less logs and the DB."""
    return sorted(
        str(p.relative_to(state_dir))
        for p in state_dir.rglob("*")
        if p.is_file() and not p.name.endswith(CHURN)
    )


def snapshot(target: Target) -> dict[str, Any]:
    """Everything a refused request must leave unchanged (see the module docstring)."""
    snap: dict[str, Any] = {
        "rows": row_counts(target.cloud),
        "files": state_files(target.cloud.state_dir),
    }
    if target.enabled("placement"):
        snap["placement"] = placement_allocations(target.cloud)
    if target.enabled("compute"):
        snap["quota"] = quota_used(target)
        snap["guests"] = fake_guests(target)
    return snap


def busy_servers(target: Target) -> list[str]:
    """Servers with a task under way (a build or delete from an earlier test)."""
    if not target.enabled("compute"):
        return []
    servers = target.get(
        "compute",
        "/v2.1/servers/detail?all_tenants=1",
        headers={"OpenStack-API-Version": "compute 2.38"},
    )["servers"]
    return [
        s["id"]
        for s in servers
        if s.get("OS-EXT-STS:task_state") or s["status"] in ("BUILD", "DELETED")
    ]


VOLUME_BUSY = ("creating", "downloading", "deleting", "extending", "uploading")


def busy_volumes(target: Target) -> list[str]:
    """Volumes and snapshots with backend work under way (an earlier test's create/delete)."""
    if not target.enabled("volume"):
        return []
    project = target.get("identity", "/v3/auth/tokens", headers={"X-Subject-Token": target.token})
    project_id = project["token"]["project"]["id"]
    out = []
    for kind in ("volumes", "snapshots"):
        items = target.get("volume", f"/v3/{project_id}/{kind}/detail?all_tenants=1")[kind]
        out += [v["id"] for v in items if v["status"] in VOLUME_BUSY]
    return out


def settled(target: Target) -> dict[str, Any]:
    """A snapshot taken once no server is busy and two snapshots in a row agree."""
    deadline = time.monotonic() + SETTLE_DEADLINE
    previous: dict[str, Any] | None = None
    while True:
        busy = busy_servers(target) + busy_volumes(target)
        current = snapshot(target) if not busy else None
        if current is not None and current == previous:
            return current
        assert time.monotonic() < deadline, f"the cloud never settled: busy {busy}"
        previous = current
        time.sleep(0.1)


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed, one line per changed table, provider, project, host or file."""
    lines: list[str] = []
    for section in before.keys() | after.keys():
        old, new = before.get(section), after.get(section)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(old.keys() | new.keys()):
                if old.get(key) != new.get(key):
                    lines.append(f"{section}[{key}]: {old.get(key)} -> {new.get(key)}")
        elif isinstance(old, list) and isinstance(new, list):
            lines += [f"{section}: new {p}" for p in sorted(set(new) - set(old))]
            lines += [f"{section}: gone {p}" for p in sorted(set(old) - set(new))]
        else:
            lines.append(f"{section}: {old} -> {new}")
    return lines


@contextlib.contextmanager
def nothing_made(thing: Cloud | Compute | Target) -> Iterator[Target]:
    """Fail unless the wrapped (refused) requests left the database, placement, quota usage
    and host objects exactly as they were."""
    target = thing if isinstance(thing, Target) else Target.of(thing)
    before = settled(target)
    yield target
    after = snapshot(target)
    changed = differences(before, after)
    assert not changed, "a refused request left something behind:\n" + "\n".join(changed)
