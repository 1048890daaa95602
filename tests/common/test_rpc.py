"""The RPC bus: every promise of the Bus interface, checked on both drivers alike.

The amqp cases need RabbitMQ at 127.0.0.1:5672 (guest/guest, or MINISTACK_TEST_AMQP_URL); when
it is not reachable they fail, telling how to start it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest
import pytest_asyncio

from ministack.common import context
from ministack.common.rpc import (
    Bus,
    NoConsumer,
    RemoteError,
    RpcError,
    RpcTimeout,
    make_bus,
)
from ministack.common.rpc.amqp import fanout_exchange

pytestmark = pytest.mark.asyncio

AMQP_URL = os.environ.get("MINISTACK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
SERVERS = ("host1", "host2")
WAIT = 30.0  # a generous deadline for something that should happen at once

MakeBus = Callable[[], Awaitable[Bus]]


class Endpoint:
    """Records what it was asked to do; ``name`` tells which server answered."""

    def __init__(self, name: str = "host") -> None:
        self.name = name
        self.seen: list[tuple[str, Any]] = []
        self.arrived = asyncio.Event()
        self.gate = asyncio.Event()  # `blocked` returns once this is set
        self.slept = asyncio.Event()  # set when a `sleep` call has run to its end

    def _note(self, method: str, value: Any) -> None:
        self.seen.append((method, value))
        self.arrived.set()

    async def add(self, a: int, b: int) -> int:
        return a + b

    async def echo(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    async def whoami(self) -> str:
        self._note("whoami", None)
        return self.name

    async def fail(self, reason: str) -> None:
        raise ValueError(reason)

    async def sleep(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        self.slept.set()
        return "slept"

    async def blocked(self) -> str:
        await self.gate.wait()
        return "released"

    async def request_id(self) -> str | None:
        self._note("request_id", context.current_request_id())
        return context.current_request_id()

    async def record(self, value: Any) -> None:
        self._note("record", value)

    async def unserialisable(self) -> set[int]:
        return {1}

    async def _private(self) -> str:
        return "secret"


@pytest.fixture(
    params=[
        pytest.param("memory://", id="memory"),
        pytest.param(AMQP_URL, id="amqp", marks=pytest.mark.rabbitmq),
    ]
)
def url(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def make(url: str) -> AsyncIterator[MakeBus]:
    """Starts buses (each one a 'host'); stops them all after the test."""
    buses: list[Bus] = []

    async def start_bus() -> Bus:
        bus = make_bus(url)
        try:
            await bus.start()
        except RpcError as exc:
            pytest.fail(
                f"RabbitMQ is not reachable: {exc}. Start it with `rabbitmq-server -detached` "
                "(user guest/guest on 127.0.0.1:5672), or set MINISTACK_TEST_AMQP_URL.",
                pytrace=False,
            )
        buses.append(bus)
        return bus

    yield start_bus
    for bus in buses:
        await bus.stop()


@pytest_asyncio.fixture
async def bus(make: MakeBus) -> Bus:
    return await make()


@pytest_asyncio.fixture
async def topic(url: str) -> AsyncIterator[str]:
    """A topic no other test or run uses; its RabbitMQ queues and exchange go afterwards."""
    name = f"test_rpc_{uuid.uuid4().hex}"
    yield name
    if url.startswith("amqp"):
        try:
            connection = await aio_pika.connect(AMQP_URL)
        except OSError:  # the test itself has already failed, saying how to start RabbitMQ
            return
        async with connection:
            channel = await connection.channel()
            for queue in (name, *(f"{name}.{server}" for server in SERVERS)):
                await channel.queue_delete(queue)
            await channel.exchange_delete(fanout_exchange(name))


async def test_call_returns_result(bus: Bus, topic: str) -> None:
    await bus.serve(topic, Endpoint())
    assert await bus.call(topic, "add", a=2, b=3) == 5


async def test_kwargs_round_trip(bus: Bus, topic: str) -> None:
    await bus.serve(topic, Endpoint())
    kwargs: dict[str, Any] = {
        "text": "héllo ✓",
        "number": 1.5,
        "count": -7,
        "flag": False,
        "nothing": None,
        "items": [1, "two", [3], {"four": 4}],
        "nested": {"a": {"b": []}},
    }
    assert await bus.call(topic, "echo", **kwargs) == kwargs


async def test_remote_exception_becomes_remote_error(
    bus: Bus, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    await bus.serve(topic, Endpoint())
    with (
        caplog.at_level(logging.ERROR, logger="ministack.rpc"),
        pytest.raises(RemoteError) as raised,
    ):
        await bus.call(topic, "fail", reason="flavor m1.huge not found")
    assert raised.value.exc_type == "ValueError"
    assert raised.value.message == "flavor m1.huge not found"
    assert any(r.name == "ministack.rpc" and r.exc_info for r in caplog.records)


async def test_unknown_private_and_unserialisable_methods_are_remote_errors(
    bus: Bus, topic: str
) -> None:
    await bus.serve(topic, Endpoint())
    for method in ("no_such_method", "_private", "_note"):
        with pytest.raises(RemoteError) as raised:
            await bus.call(topic, method)
        assert raised.value.exc_type == "NoSuchMethod"
    with pytest.raises(RemoteError) as raised:
        await bus.call(topic, "add", a=1)
    assert raised.value.exc_type == "TypeError"
    with pytest.raises(RemoteError) as raised:
        await bus.call(topic, "unserialisable")
    assert raised.value.exc_type == "TypeError"


async def test_call_timeout(bus: Bus, topic: str) -> None:
    endpoint = Endpoint()
    await bus.serve(topic, endpoint)
    with pytest.raises(RpcTimeout) as raised:
        await asyncio.wait_for(bus.call(topic, "sleep", seconds=60, timeout=0.3), WAIT)
    assert not endpoint.slept.is_set()  # the caller gave up; it did not wait for the answer
    assert topic in str(raised.value)
    assert "sleep" in str(raised.value)
    assert "server=None" in str(raised.value)
    assert "0.3" in str(raised.value)


async def test_slow_method_does_not_block_others(bus: Bus, topic: str) -> None:
    endpoint = Endpoint()
    await bus.serve(topic, endpoint)
    slow = asyncio.create_task(bus.call(topic, "blocked"))
    # `blocked` only returns once released, so this answer proves it did not wait behind it
    assert await asyncio.wait_for(bus.call(topic, "add", a=1, b=1), WAIT) == 2
    assert not slow.done()
    endpoint.gate.set()
    assert await asyncio.wait_for(slow, WAIT) == "released"


async def test_cast_delivers(bus: Bus, topic: str) -> None:
    endpoint = Endpoint()
    await bus.serve(topic, endpoint)
    await bus.cast(topic, "record", value={"id": 1})
    await asyncio.wait_for(endpoint.arrived.wait(), WAIT)
    assert endpoint.seen == [("record", {"id": 1})]


async def test_fanout_reaches_every_server(make: MakeBus, topic: str) -> None:
    endpoints = [Endpoint(server) for server in SERVERS]
    for server, endpoint in zip(SERVERS, endpoints, strict=True):
        await (await make()).serve(topic, endpoint, server=server)
    caller = await make()
    await caller.fanout(topic, "record", value="all")
    for endpoint in endpoints:
        await asyncio.wait_for(endpoint.arrived.wait(), WAIT)
        assert endpoint.seen == [("record", "all")]


async def test_fanout_reaches_two_serves_on_one_bus(bus: Bus, topic: str) -> None:
    endpoints = [Endpoint(server) for server in SERVERS]
    for server, endpoint in zip(SERVERS, endpoints, strict=True):
        await bus.serve(topic, endpoint, server=server)
    await bus.fanout(topic, "record", value="all")
    for endpoint in endpoints:
        await asyncio.wait_for(endpoint.arrived.wait(), WAIT)


async def test_fanout_with_no_server_is_dropped(bus: Bus, topic: str) -> None:
    await bus.fanout(topic, "record", value="nobody")
    endpoint = Endpoint()
    await bus.serve(topic, endpoint, server="host1")
    await bus.fanout(topic, "record", value="later")
    await asyncio.wait_for(endpoint.arrived.wait(), WAIT)
    await bus.call(topic, "add", server="host1", a=1, b=1)  # anything queued has arrived
    assert endpoint.seen == [("record", "later")]


async def test_directed_call_reaches_only_that_server(make: MakeBus, topic: str) -> None:
    endpoints = {server: Endpoint(server) for server in SERVERS}
    for server, endpoint in endpoints.items():
        await (await make()).serve(topic, endpoint, server=server)
    caller = await make()
    answers = [await caller.call(topic, "whoami", server="host2") for _ in range(6)]
    assert answers == ["host2"] * 6
    assert endpoints["host1"].seen == []
    await caller.cast(topic, "record", server="host1", value=1)
    await asyncio.wait_for(endpoints["host1"].arrived.wait(), WAIT)
    assert len(endpoints["host2"].seen) == 6


async def test_competing_consumers_share_the_load(make: MakeBus, topic: str) -> None:
    endpoints = {server: Endpoint(server) for server in SERVERS}
    for server, endpoint in endpoints.items():
        await (await make()).serve(topic, endpoint, server=server)
    caller = await make()
    answers = await asyncio.gather(*(caller.call(topic, "whoami") for _ in range(20)))
    assert sorted(set(answers)) == list(SERVERS)
    assert sum(len(endpoint.seen) for endpoint in endpoints.values()) == 20


async def test_request_id_reaches_the_handler(make: MakeBus, topic: str) -> None:
    endpoint = Endpoint()
    await (await make()).serve(topic, endpoint)
    caller = await make()
    token = context.request_id.set("req-1234")
    try:
        assert await caller.call(topic, "request_id") == "req-1234"
        await caller.cast(topic, "request_id")
    finally:
        context.request_id.reset(token)
    assert await caller.call(topic, "request_id") is None
    assert [value for _, value in endpoint.seen] == ["req-1234", "req-1234", None]


async def test_unknown_topic_fails_at_once(bus: Bus, topic: str) -> None:
    # NoConsumer, not RpcTimeout: the bus says so instead of waiting out the call timeout
    with pytest.raises(NoConsumer):
        await bus.call(topic, "add", a=1, b=2, timeout=WAIT)
    with pytest.raises(NoConsumer):
        await bus.cast(topic, "record", value=1)
    await bus.serve(topic, Endpoint(), server="host1")
    with pytest.raises(NoConsumer):
        await bus.call(topic, "whoami", server="host2", timeout=WAIT)


async def test_queue_outlives_server_but_expired_calls_do_not_run(
    make: MakeBus, topic: str
) -> None:
    first = await make()
    await first.serve(topic, Endpoint())
    await first.stop()
    caller = await make()
    with pytest.raises(RpcTimeout):
        await caller.call(topic, "record", value="stale", timeout=0.2)
    await caller.cast(topic, "record", value="kept")
    await asyncio.sleep(0.1)
    endpoint = Endpoint()
    await (await make()).serve(topic, endpoint)
    await asyncio.wait_for(endpoint.arrived.wait(), WAIT)
    await asyncio.sleep(0.2)
    assert endpoint.seen == [("record", "kept")]


async def test_stop_is_idempotent_and_then_everything_raises(bus: Bus, topic: str) -> None:
    await bus.serve(topic, Endpoint())
    await bus.stop()
    await bus.stop()
    with pytest.raises(RpcError):
        await bus.call(topic, "add", a=1, b=2)
    with pytest.raises(RpcError):
        await bus.cast(topic, "record", value=1)
    with pytest.raises(RpcError):
        await bus.fanout(topic, "record", value=1)
    with pytest.raises(RpcError):
        await bus.serve(topic, Endpoint())


async def test_stop_fails_waiting_calls(make: MakeBus, topic: str) -> None:
    await (await make()).serve(topic, Endpoint())
    caller = await make()
    waiting = asyncio.create_task(caller.call(topic, "sleep", seconds=10))
    await asyncio.sleep(0.2)
    await caller.stop()
    with pytest.raises(RpcError):
        await waiting


async def test_start_is_idempotent(bus: Bus, topic: str) -> None:
    await bus.start()
    await bus.serve(topic, Endpoint())
    await bus.start()
    assert await bus.call(topic, "add", a=1, b=2) == 3


async def test_bad_names_are_rejected(bus: Bus) -> None:
    with pytest.raises(ValueError, match="topic"):
        await bus.call("a.b", "add")
    with pytest.raises(ValueError, match="server"):
        await bus.cast("topic", "add", server="bad name")


async def test_make_bus_rejects_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="memory://, amqp://"):
        make_bus("kafka://user:secret@host/")
    with pytest.raises(ValueError) as raised:
        make_bus("user:secret@host")
    assert "secret" not in str(raised.value)
