"""In-process bus driver ("memory://"): the fake twin of the RabbitMQ driver, pure asyncio.

All buses on one event loop share one :class:`MemoryBroker`, as processes share a RabbitMQ, so
two buses in a test behave like two hosts. As in RabbitMQ, a queue exists from the first serve()
on it and then keeps messages while no server consumes it (calls only until their timeout), a
request for a queue that never existed fails at once with NoConsumer, and consumers of one queue
take turns.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from ministack.common.rpc.base import BusBase, NoConsumer, Outgoing, Replier, queue_name

Deliver = Callable[[Outgoing, Replier | None], None]


@dataclass(eq=False)
class _Consumer:
    owner: object
    deliver: Deliver


@dataclass
class _Parked:
    message: Outgoing
    reply: Replier | None
    deadline: float | None


@dataclass
class _Queue:
    consumers: list[_Consumer] = field(default_factory=list)
    backlog: deque[_Parked] = field(default_factory=deque)
    turn: int = 0

    def deliver(self, message: Outgoing, reply: Replier | None) -> None:
        consumer = self.consumers[self.turn % len(self.consumers)]
        self.turn += 1
        consumer.deliver(message, reply)


class MemoryBroker:
    """Queues and fanout subscriptions shared by the memory buses of one event loop."""

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}
        self._fanout: dict[str, list[_Consumer]] = {}

    def bind(self, queue: str, consumer: _Consumer) -> None:
        """Add consumer to queue (creating it) and hand it the unexpired backlog."""
        entry = self._queues.setdefault(queue, _Queue())
        entry.consumers.append(consumer)
        now = asyncio.get_running_loop().time()
        while entry.backlog:
            parked = entry.backlog.popleft()
            if parked.deadline is None or parked.deadline > now:
                entry.deliver(parked.message, parked.reply)

    def subscribe(self, topic: str, consumer: _Consumer) -> None:
        """Add consumer to the fanout of topic."""
        self._fanout.setdefault(topic, []).append(consumer)

    def unbind(self, owner: object) -> None:
        """Remove every consumer of owner; its queues stay. Idempotent."""
        for entry in self._queues.values():
            entry.consumers = [c for c in entry.consumers if c.owner is not owner]
        for topic, consumers in self._fanout.items():
            self._fanout[topic] = [c for c in consumers if c.owner is not owner]

    def route(self, queue: str, message: Outgoing, reply: Replier | None) -> None:
        """Deliver message to the next consumer of queue, or park it until one comes.

        Raises NoConsumer if the queue was never served.
        """
        entry = self._queues.get(queue)
        if entry is None:
            raise NoConsumer(f"nothing serves rpc queue {queue!r}: is its service running?")
        if entry.consumers:
            entry.deliver(message, reply)
            return
        now = asyncio.get_running_loop().time()
        deadline = None if message.ttl is None else now + message.ttl
        entry.backlog.append(_Parked(message, reply, deadline))

    def broadcast(self, topic: str, message: Outgoing) -> None:
        """Deliver message to every fanout consumer of topic (none is fine)."""
        for consumer in list(self._fanout.get(topic, ())):
            consumer.deliver(message, None)


_brokers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MemoryBroker] = (
    weakref.WeakKeyDictionary()
)


def loop_broker() -> MemoryBroker:
    """The broker shared by the memory buses of the running event loop."""
    loop = asyncio.get_running_loop()
    broker = _brokers.get(loop)
    if broker is None:
        broker = _brokers[loop] = MemoryBroker()
    return broker


class MemoryBus(BusBase):
    """Bus on a :class:`MemoryBroker`: by default the one of the event loop start() runs in."""

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        super().__init__()
        self._given_broker = broker
        self._broker: MemoryBroker | None = None

    def _require_broker(self) -> MemoryBroker:
        if self._broker is None:  # only reachable by calling a hook directly
            raise RuntimeError("memory bus not connected")
        return self._broker

    async def _connect(self) -> None:
        self._broker = self._given_broker or loop_broker()

    async def _disconnect(self) -> None:
        self._require_broker().unbind(self)
        self._broker = None

    async def _consume(self, topic: str, server: str | None, endpoint: object) -> None:
        broker = self._require_broker()
        consumer = _Consumer(self, partial(self._deliver, topic, endpoint))
        broker.bind(queue_name(topic, None), consumer)
        if server is not None:
            broker.bind(queue_name(topic, server), consumer)
        broker.subscribe(topic, consumer)

    def _deliver(
        self, topic: str, endpoint: object, message: Outgoing, reply: Replier | None
    ) -> None:
        self._receive(topic, endpoint, message.body, message.request_id, reply)

    async def _send(self, queue: str, message: Outgoing) -> None:
        reply = None if message.call_id is None else partial(self._take_reply, message.call_id)
        self._require_broker().route(queue, message, reply)

    async def _send_fanout(self, topic: str, message: Outgoing) -> None:
        self._require_broker().broadcast(topic, message)

    async def _take_reply(self, call_id: str, body: bytes) -> None:
        self._reply_arrived(call_id, body)
