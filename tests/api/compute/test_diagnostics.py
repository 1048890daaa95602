"""Server diagnostics through raw HTTP and the CLI, fake driver: the agent's figures reached
over RPC, in the legacy form before 2.48 and Nova's standard form from 2.48."""

from __future__ import annotations

import json

from ministack.compute.api.server_diagnostics import legacy, standard
from ministack.compute.rpcapi.agent import DiagnosticsReport
from tests.api.compute.conftest import Compute
from tests.api.compute.test_servers import boot, wait_for


def test_diagnostics_of_a_running_server_then_409_when_stopped(compute: Compute) -> None:
    server = boot(compute)
    resp = compute.api("GET", f"/servers/{server.id}/diagnostics")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["memory"] == 64 * 1024 and body["cpu0_time"] > 0
    assert body["vda_read"] > 0 and body["vda_errors"] == 0
    assert "state" not in body  # the standard form starts at 2.48
    cli = compute.cloud.cli("server", "show", "--diagnostics", server.id, "-f", "json")
    assert cli.returncode == 0
    json.loads(cli.stdout)
    compute.conn.compute.stop_server(server)
    wait_for(compute, server.id, status="SHUTOFF", task_state=None)
    stopped = compute.api("GET", f"/servers/{server.id}/diagnostics")
    assert stopped.status_code == 409
    assert "power_state 4" in stopped.json()["conflictingRequest"]["message"]
    compute.conn.compute.delete_server(server)
    gone = compute.api("GET", "/servers/00000000-0000-0000-0000-000000000000/diagnostics")
    assert gone.status_code == 404


def _report() -> DiagnosticsReport:
    return DiagnosticsReport(
        state="running",
        driver="libvirt",
        hypervisor="qemu",
        hypervisor_os="linux",
        uptime=None,
        config_drive=True,
        memory_kib=524288,
        memory_used_kib=262144,
        cpus=[{"id": 0, "time_ns": 17300000000, "utilisation": None}],
        disks=[
            {
                "device": "vda",
                "read_bytes": 262144,
                "read_requests": 112,
                "write_bytes": 5778432,
                "write_requests": 488,
                "errors_count": -1,
            }
        ],
        nics=[
            {
                "device": "tap1",
                "mac_address": "fa:16:3e:00:00:01",
                "rx_octets": 2070139,
                "rx_errors": 0,
                "rx_drop": 0,
                "rx_packets": 26701,
                "tx_octets": 140208,
                "tx_errors": 0,
                "tx_drop": 0,
                "tx_packets": 662,
            }
        ],
    )


def test_standard_form_has_every_nova_field() -> None:
    body = standard(DiagnosticsReport.from_wire(_report().to_wire()))
    assert set(body) == {
        "state",
        "driver",
        "hypervisor",
        "hypervisor_os",
        "uptime",
        "config_drive",
        "num_cpus",
        "num_disks",
        "num_nics",
        "cpu_details",
        "disk_details",
        "nic_details",
        "memory_details",
    }
    assert body["memory_details"] == {"maximum": 512, "used": 256}
    assert body["cpu_details"] == [{"id": 0, "time": 17300000000, "utilisation": None}]
    assert body["disk_details"][0] == {
        "read_bytes": 262144,
        "read_requests": 112,
        "write_bytes": 5778432,
        "write_requests": 488,
        "errors_count": -1,
    }
    nic = body["nic_details"][0]
    assert nic["mac_address"] == "fa:16:3e:00:00:01" and nic["rx_rate"] is None
    assert (body["num_cpus"], body["num_disks"], body["num_nics"]) == (1, 1, 1)


def test_legacy_form_is_keyed_by_device() -> None:
    body = legacy(_report())
    assert body["cpu0_time"] == 17300000000 and body["memory"] == 524288
    assert (body["vda_read"], body["vda_read_req"], body["vda_errors"]) == (262144, 112, -1)
    assert (body["tap1_rx"], body["tap1_tx_packets"]) == (2070139, 662)
