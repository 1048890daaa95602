"""Web consoles of a server on a second compute host (its own `ministack compute` process, as
on another machine): the controller's console proxy asks that host's agent over RPC where to
connect (`get_console_endpoint`) and reaches the console there. The second host's
`[console] proxyclient_address` is 127.0.0.2 while its fake consoles listen on 127.0.0.1, so
the proxy can only get through the agent's relay on the configured address; once the host is
down, a fresh token's websocket is refused (403) rather than hanging or erroring."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from tests.api.compute.conftest import SERVICES, prepare
from tests.api.compute.test_agent_process import vhost  # noqa: F401  (fixture)
from tests.api.compute.test_remote_consoles import _greeting, _origin, _socket, token_of
from tests.api.compute.test_second_host import (
    TwoHosts,
    cli_boot,
    delete,
    host2_env,
    start_host2,
    wait_states,
)
from tests.api.compute.test_servers import wait_for
from tests.cloud import running_cloud

RELAY_ADDRESS = "127.0.0.2"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory, vhost: str) -> Iterator[TwoHosts]:  # noqa: F811
    tmp: Path = tmp_path_factory.mktemp("consolehosts")
    env = {
        "MINISTACK_MESSAGING_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "MINISTACK_COMPUTE_FAKE_HOSTS": "1",
        "MINISTACK_COMPUTE_SERVICE_DOWN_TIME": "5",
        "MINISTACK_COMPUTE_HEARTBEAT_INTERVAL": "1",
    }
    with running_cloud(tmp / "controller", "postgresql", SERVICES, env) as cloud:
        host1 = cloud.env["MINISTACK_DEFAULT_HOST"]
        host2 = f"{host1}-h2"
        env2, state = host2_env(cloud, host2, tmp / "host2")
        env2["MINISTACK_CONSOLE_PROXYCLIENT_ADDRESS"] = RELAY_ADDRESS
        yield TwoHosts(prepare(cloud), host1, host2, env2, state)


def _status(url: str, origin: str) -> int:
    """The websocket handshake's HTTP status (101 when accepted); the proxy may wait for
    the silent host's RPC timeout before answering."""

    async def attempt() -> int:
        try:
            async with websockets.connect(url, origin=origin, open_timeout=60):
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(attempt())


def _url(hosts: TwoHosts, kind: str, server_id: str) -> str:
    out = hosts.compute.cloud.cli("console", "url", "show", f"--{kind}", server_id, "-f", "json")
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["url"])


def test_consoles_of_a_server_on_the_second_host(hosts: TwoHosts) -> None:
    c, cloud = hosts.compute, hosts.compute.cloud
    agent = start_host2(hosts)
    try:
        wait_states(hosts, {hosts.host1: "up", hosts.host2: "up"})
        zone = f"nova:{hosts.host2}"
        server_id = cli_boot(cloud, c.image_id, c.flavor_id, "--availability-zone", zone)
        server = wait_for(c, server_id, status="ACTIVE")
        assert server.compute_host == hosts.host2
        name = server.name
        # serial: the fake greets with its console log (the login prompt) and echoes
        serial = _url(hosts, "serial", server_id)
        greeting = _greeting(serial, _origin(cloud, "serial"), b"typed-on-h2")
        assert greeting == f"{name} login:typed-on-h2".encode()
        assert _status(serial, _origin(cloud, "serial")) == 403  # single use still holds
        # noVNC: the websocket the page opens reaches the fake RFB server on host2
        novnc = _url(hosts, "novnc", server_id)
        socket = _socket(cloud, "novnc", token_of(novnc))
        assert _greeting(socket, _origin(cloud, "novnc")).startswith(b"RFB 003.008")
        # the Origin check holds for remote consoles too; the refused token stays usable
        again = _socket(cloud, "novnc", token_of(_url(hosts, "novnc", server_id)))
        assert _status(again, "http://evil.example") == 403
        assert _greeting(again, _origin(cloud, "novnc")).startswith(b"RFB 003.008")
        # a token made while host2 is up, used once it is gone: refused, not hung
        late = _url(hosts, "serial", server_id)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(30)
    assert _status(late, _origin(cloud, "serial")) == 403
    # and the controller's own host still serves its consoles
    local = cli_boot(cloud, c.image_id, c.flavor_id, "--availability-zone", f"nova:{hosts.host1}")
    wait_for(c, local, status="ACTIVE")
    assert _greeting(_url(hosts, "serial", local), _origin(cloud, "serial")).endswith(b"login:")
    delete(c, local)
