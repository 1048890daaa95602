"""A volume attached to a server on another host (issue 12): the controller runs the volume
service (and a fake compute host); a second `ministack compute` process (fake driver, its own
host name, as on another machine) holds the server. The volume service exports the volume
over NBD with a per-attachment TLS pre-shared key: the attachment's connection info is "nbd",
a qemu-storage-daemon serves the volume's data to a client holding the key and refuses one
without it or with another key; a restart of the volume service serves a live attachment's
export again on the same port and removes a stale one; detach leaves no process, socket or
key behind."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.compute.conftest import SERVICES, Compute, prepare
from tests.api.compute.test_agent_process import vhost  # noqa: F401  (fixture)
from tests.api.compute.test_second_host import TwoHosts, host2_env, start_host2, wait_states
from tests.api.compute.test_servers import wait_for
from tests.api.compute.test_volume_attachments import attach, wait_volume
from tests.cloud import running_cloud

PATTERN = 0x5A


@dataclass
class Hosts:
    two: TwoHosts
    agent: subprocess.Popen[bytes]

    @property
    def c(self) -> Compute:
        return self.two.compute

    @property
    def exports(self) -> Path:
        return self.c.cloud.state_dir / "nbd-exports"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory, vhost: str) -> Iterator[Hosts]:  # noqa: F811
    tmp: Path = tmp_path_factory.mktemp("nbd")
    env = {
        "MINISTACK_MESSAGING_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
        "MINISTACK_COMPUTE_TEST_HOOKS": "1",
    }
    with running_cloud(tmp / "controller", "postgresql", (*SERVICES, "volume"), env) as cloud:
        host1 = cloud.env["MINISTACK_DEFAULT_HOST"]
        host2 = f"{host1}-nbd"
        two = TwoHosts(prepare(cloud), host1, host2, *host2_env(cloud, host2, tmp / "host2"))
        agent = start_host2(two)
        try:
            wait_states(two, {host1: "up", host2: "up"})
            yield Hosts(two, agent)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
            # exports outlive the volume service by design; a failed test must not leave any
            for pid in daemons_of(cloud.state_dir / "nbd-exports"):
                os.kill(pid, signal.SIGKILL)


def qemu_io(info: dict[str, Any], tmp: Path, key: str | None, command: str) -> Any:
    """qemu-io against the export, with the attachment's identity and `key` (None: no TLS)."""
    data = info["data"]
    opts = (
        f"driver=nbd,server.type=inet,server.host={data['host']},"
        f"server.port={data['port']},export={data['name']}"
    )
    argv = ["qemu-io", "-r"]
    if key is not None:
        creds = tmp / uuid.uuid4().hex
        creds.mkdir(mode=0o700)
        (creds / "keys.psk").write_text(f"{data['auth_username']}:{key}\n")
        tls = f"tls-creds-psk,id=tls0,endpoint=client,dir={creds},username={data['auth_username']}"
        argv += ["--object", tls]
        opts += ",tls-creds=tls0"
    argv += ["--image-opts", "-c", command, opts]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def daemons_of(directory: Path) -> list[int]:
    """Pids of every process whose command line names `directory`."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(directory).encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def connection_info(hosts: Hosts, volume_id: str) -> tuple[str, dict[str, Any]]:
    """The volume's one attachment and its connection info, asked again as host2's agent
    asks for it (attachment update with its connector: the same export is handed out)."""
    c = hosts.c
    (att,) = c.conn.block_storage.get_volume(volume_id).attachments
    host2 = hosts.two.host2
    connector = {"host": host2, "machine": host2, "mountpoint": att["device"]}
    resp = c.conn.block_storage.put(
        f"/attachments/{att['attachment_id']}",
        json={"attachment": {"connector": connector}},
        microversion="3.44",
    )
    assert resp.status_code == 200, resp.text
    shown = resp.json()["attachment"]
    assert shown["status"] == "attached", shown
    return str(shown["id"]), dict(shown["connection_info"])


def test_attach_from_another_host_is_an_nbd_export_behind_a_psk(
    hosts: Hosts, tmp_path: Path
) -> None:
    c = hosts.c
    server = c.conn.compute.create_server(
        name="on-h2",
        image_id=c.image_id,
        flavor_id=c.flavor_id,
        networks="none",
        availability_zone=f"nova:{hosts.two.host2}",
    )
    server = wait_for(c, server.id, status="ACTIVE")
    assert server.compute_host == hosts.two.host2
    vol = c.conn.block_storage.create_volume(size=1, name="remote")
    wait_volume(c, vol.id, "available")
    path = c.cloud.state_dir / "volumes" / f"volume-{vol.id}"
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {PATTERN} 0 1M", str(path)],
        check=True,
        capture_output=True,
    )

    assert attach(c, server.id, vol.id).status_code == 200
    wait_volume(c, vol.id, "in-use")
    att_id, info = connection_info(hosts, vol.id)
    data = info["data"]
    assert info["driver_volume_type"] == "nbd", info
    # host2's driver plugged that export (the fake guest's console records the source)
    console = c.conn.compute.get_server_console_output(server)["output"]
    url = f"nbd://127.0.0.1:{data['port']}/volume-{vol.id}"
    assert f"fake: attach_volume /dev/vdb {url}" in console, console
    assert (data["host"], data["name"], data["auth_method"]) == (
        "127.0.0.1",
        f"volume-{vol.id}",
        "tls-psk",
    )
    assert data["auth_username"] == att_id and len(data["auth_password"]) == 64
    export_dir = hosts.exports / att_id
    assert len(daemons_of(export_dir)) == 1
    assert (export_dir / "keys.psk").stat().st_mode & 0o077 == 0

    key = data["auth_password"]
    read = qemu_io(info, tmp_path, key, f"read -P {PATTERN} 0 1M")
    assert read.returncode == 0 and "read 1048576/1048576" in read.stdout, read
    size = qemu_io(info, tmp_path, key, "length")
    assert "1 GiB" in size.stdout, size
    plain = qemu_io(info, tmp_path, None, "read 0 512")
    assert plain.returncode != 0 and "TLS" in plain.stderr, plain
    wrong = qemu_io(info, tmp_path, os.urandom(32).hex(), "read 0 512")
    assert wrong.returncode != 0, wrong

    # the volume service restarts (killed) after a host reboot took the export's daemon, and a
    # stale export of an attachment that no longer exists was left behind
    cloud = c.cloud
    cloud.stop(signal.SIGKILL)
    for pid in daemons_of(export_dir):
        os.kill(pid, signal.SIGKILL)
    stale = hosts.exports / str(uuid.uuid4())
    stale.mkdir(mode=0o700)
    (stale / "export.json").write_text("{}")
    daemon = [
        "qemu-storage-daemon",
        "--daemonize",
        "--pidfile",
        str(stale / "pid"),
        "--nbd-server",
        f"addr.type=unix,addr.path={stale / 'sock'}",
    ]
    subprocess.run(daemon, check=True, timeout=30)
    assert daemons_of(stale)
    cloud.start()
    assert not stale.exists() and daemons_of(stale) == []
    assert len(daemons_of(export_dir)) == 1
    again = qemu_io(info, tmp_path, key, f"read -P {PATTERN} 0 1M")
    assert again.returncode == 0 and "read 1048576/1048576" in again.stdout, again

    c.conn.compute.delete_volume_attachment(server, vol.id)
    wait_volume(c, vol.id, "available")
    assert not export_dir.exists() and daemons_of(export_dir) == []
    assert list(hosts.exports.iterdir()) == []
    gone = qemu_io(info, tmp_path, key, "read 0 512")
    assert gone.returncode != 0
    c.conn.compute.delete_server(server)
    c.conn.compute.wait_for_delete(server, wait=60)
    c.conn.block_storage.delete_volume(vol)


def test_extend_of_a_volume_attached_over_nbd_is_400_and_changes_nothing(hosts: Hosts) -> None:
    """The export's qemu-storage-daemon holds the old size and the remote guest could not see
    a new one: Cinder's 400 before anything changes (status, size, quota, the file)."""
    c = hosts.c
    server = c.conn.compute.create_server(
        name="extend-h2",
        image_id=c.image_id,
        flavor_id=c.flavor_id,
        networks="none",
        availability_zone=f"nova:{hosts.two.host2}",
    )
    server = wait_for(c, server.id, status="ACTIVE")
    vol = c.conn.block_storage.create_volume(size=1, name="remote-extend")
    wait_volume(c, vol.id, "available")
    assert attach(c, server.id, vol.id).status_code == 200
    wait_volume(c, vol.id, "in-use")
    path = c.cloud.state_dir / "volumes" / f"volume-{vol.id}"
    before = subprocess.run(["qemu-img", "info", "-U", str(path)], capture_output=True, text=True)
    used = c.conn.block_storage.get(
        f"/os-quota-sets/{c.conn.current_project_id}?usage=True"
    ).json()["quota_set"]["gigabytes"]["in_use"]

    resp = c.conn.block_storage.post(
        f"/volumes/{vol.id}/action",
        json={"os-extend": {"new_size": 2}},
        microversion="3.42",
    )
    assert resp.status_code == 400, resp.text
    assert "NBD" in resp.json()["badRequest"]["message"]
    shown = c.conn.block_storage.get_volume(vol.id)
    assert (shown.status, shown.size) == ("in-use", 1)
    after = subprocess.run(["qemu-img", "info", "-U", str(path)], capture_output=True, text=True)
    assert after.stdout == before.stdout and "1 GiB" in after.stdout
    again = c.conn.block_storage.get(
        f"/os-quota-sets/{c.conn.current_project_id}?usage=True"
    ).json()["quota_set"]["gigabytes"]["in_use"]
    assert again == used

    c.conn.compute.delete_volume_attachment(server, vol.id)
    wait_volume(c, vol.id, "available")
    c.conn.compute.delete_server(server)
    c.conn.block_storage.delete_volume(vol.id)
