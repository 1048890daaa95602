"""Operators' read-outs through the unmodified CLI and raw HTTP: usage per project
(os-simple-tenant-usage), the usage audit log, and os-hosts."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot

NOVA_TIME = "%Y-%m-%dT%H:%M:%S.%f"


@pytest.fixture(scope="module")
def servers(compute: Compute) -> Any:
    """One running server and one that ran and was deleted, in the admin project."""
    running = boot(compute)
    gone = boot(compute)
    compute.conn.compute.delete_server(gone)
    compute.conn.compute.wait_for_delete(gone, wait=60)
    yield running, gone
    compute.conn.compute.delete_server(running)


def _window() -> dict[str, str]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return {
        "start": (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "end": (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
    }


def test_usage_list_detailed_counts_running_and_deleted_servers(
    compute: Compute, servers: Any
) -> None:
    running, gone = servers
    resp = compute.api("GET", "/os-simple-tenant-usage", params={**_window(), "detailed": "1"})
    assert resp.status_code == 200, resp.text
    usages = resp.json()["tenant_usages"]
    mine = next(u for u in usages if u["tenant_id"] == compute.conn.current_project_id)
    by_id = {s["instance_id"]: s for s in mine["server_usages"]}
    live, dead = by_id[running.id], by_id[gone.id]
    assert live["state"] == "active" and live["ended_at"] is None
    assert (live["vcpus"], live["memory_mb"], live["local_gb"]) == (1, 64, 1)
    assert live["flavor"].startswith("tiny-") and live["name"] == running.name
    assert dead["state"] == "terminated" and dead["ended_at"] is not None
    assert dt.datetime.strptime(dead["ended_at"], NOVA_TIME) >= dt.datetime.strptime(
        dead["started_at"], NOVA_TIME
    )
    assert live["hours"] > 0 and live["uptime"] >= 0
    assert mine["total_hours"] == pytest.approx(sum(s["hours"] for s in mine["server_usages"]))
    assert mine["total_memory_mb_usage"] == pytest.approx(
        sum(s["hours"] * s["memory_mb"] for s in mine["server_usages"])
    )
    dt.datetime.strptime(mine["start"], NOVA_TIME)  # Nova's format, microseconds included
    brief = compute.api("GET", "/os-simple-tenant-usage", params=_window()).json()
    assert all("server_usages" not in u for u in brief["tenant_usages"])


def test_usage_cli_list_and_show(compute: Compute, servers: Any) -> None:
    cli = compute.cloud.cli
    rows = json.loads(cli("usage", "list", "-f", "json").stdout)
    # the SDK asks with detailed=True, which Nova (and so this) reads as not detailed ("1" is)
    project = compute.conn.current_project_id
    admin = next(r for r in rows if r["Project"] in ("admin", project))
    assert float(admin["RAM MB-Hours"]) > 0 and float(admin["CPU Hours"]) > 0
    shown = json.loads(cli("usage", "show", "--project", "admin", "-f", "json").stdout)
    listed = shown["Servers"]  # the server usages (machine-readable form of the count)
    assert float(shown["RAM MB-Hours"]) > 0
    assert (len(listed) if isinstance(listed, list) else int(listed)) >= 2


def test_usage_show_of_an_idle_project_and_bad_periods(compute: Compute) -> None:
    idle = compute.api("GET", f"/os-simple-tenant-usage/{uuid.uuid4().hex}", params=_window())
    assert idle.status_code == 200 and idle.json() == {"tenant_usage": {}}
    window = _window()
    backwards = {"start": window["end"], "end": window["start"]}
    resp = compute.api("GET", "/os-simple-tenant-usage", params=backwards)
    assert resp.status_code == 400
    assert "start time cannot occur after the end time" in resp.json()["badRequest"]["message"]
    bad = compute.api("GET", "/os-simple-tenant-usage", params={"start": "yesterday"})
    assert bad.status_code == 400
    member = compute.cloud.connect()  # the admin again, via the SDK's own path
    assert member.compute.get_usage(member.current_project_id).project_id


def test_usage_audit_log_as_nova_renders_it_with_no_audit_run(compute: Compute) -> None:
    resp = compute.api("GET", "/os-instance_usage_audit_log")
    assert resp.status_code == 200, resp.text
    log = resp.json()["instance_usage_audit_logs"]
    hosts = compute.hosts
    now = dt.datetime.now(dt.UTC)
    this_month = f"{now.year:04d}-{now.month:02d}-01 00:00:00"
    assert log["period_ending"] == this_month
    assert sorted(log["hosts_not_run"]) == hosts
    assert (log["num_hosts"], log["num_hosts_done"], log["num_hosts_not_run"]) == (3, 0, 3)
    assert log["overall_status"] == "0 of 3 hosts done. 0 errors."
    assert log["log"] == {} and log["total_instances"] == 0
    shown = compute.api("GET", "/os-instance_usage_audit_log/2026-03-15 10:00:00.5")
    body = shown.json()["instance_usage_audit_log"]
    assert (body["period_beginning"], body["period_ending"]) == (
        "2026-02-01 00:00:00",
        "2026-03-01 00:00:00",
    )
    january = compute.api("GET", "/os-instance_usage_audit_log/2026-01-02 00:00:00").json()
    assert january["instance_usage_audit_log"]["period_beginning"] == "2025-12-01 00:00:00"
    assert compute.api("GET", "/os-instance_usage_audit_log/tomorrow").status_code == 400


def test_host_list_and_show(compute: Compute, servers: Any) -> None:
    cli = compute.cloud.cli
    running, _gone = servers
    hosts = json.loads(cli("host", "list", "-f", "json").stdout)
    computes = sorted(h["Host Name"] for h in hosts if h["Service"] == "compute")
    assert computes == compute.hosts
    assert {h["Zone"] for h in hosts if h["Service"] == "compute"} == {"nova"}
    assert {h["Zone"] for h in hosts if h["Service"] in ("conductor", "scheduler")} == {"internal"}
    internal = json.loads(cli("host", "list", "--zone", "internal", "-f", "json").stdout)
    assert internal and all(h["Zone"] == "internal" for h in internal)
    host = running.compute_host
    rows = json.loads(cli("host", "show", host, "-f", "json").stdout)
    by_project = {r["Project"]: r for r in rows}
    assert by_project["(total)"]["CPU"] == 16
    assert by_project["(used_max)"]["Memory MB"] >= 64
    assert by_project[compute.conn.current_project_id]["CPU"] >= 1
    assert by_project["(used_now)"]["CPU"] >= 1
    missing = compute.api("GET", "/os-hosts/no-such-host")
    assert missing.status_code == 404
    assert compute.api("GET", "/os-hosts", version="2.38").status_code == 200
