"""RabbitMQ bus driver ("amqp://", "amqps://" or "rabbit://"), on aio-pika's robust connection.

Topology: requests go through the direct exchange "ministack" to the shared queue "<topic>"
(servers on it take turns) or the directed queue "<topic>.<server>"; fanout goes through the
fanout exchange "ministack_fanout_<topic>" to one exclusive queue per serve(). Replies come back
to one exclusive queue per bus, matched by correlation_id.

Requests are published mandatory, so one nobody could ever receive fails at once with
NoConsumer. Topic queues outlive their servers (a restarting server finds its casts waiting),
and a call expires in the queue when its timeout passes, so a server that starts late does not
run a request its caller gave up on. Messages are not persistent: a broker restart loses them.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from functools import partial

import aio_pika
import yarl
from aio_pika import DeliveryMode, ExchangeType, Message
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, PublishError

from ministack.common.rpc.base import BusBase, NoConsumer, Outgoing, RpcError, queue_name

EXCHANGE = "ministack"
FANOUT_PREFIX = "ministack_fanout_"
CONNECT_TIMEOUT = 10.0
RECONNECT_INTERVAL = 1.0
"""Seconds between attempts to restore a lost connection (consumers and queues come back)."""
_JSON = "application/json"
_TRANSPORT_ERRORS = (AMQPError, ChannelInvalidStateError, OSError)  # OSError: also timeouts


def fanout_exchange(topic: str) -> str:
    """The name of the fanout exchange of topic."""
    return FANOUT_PREFIX + topic


@dataclass
class _Link:
    """One connection's state; replaced as a whole by each start()."""

    connection: AbstractRobustConnection
    publisher: AbstractChannel
    exchange: AbstractExchange
    reply_queue: str
    fanouts: dict[str, AbstractExchange] = field(default_factory=dict)


class AmqpBus(BusBase):
    """Bus over RabbitMQ. Several may share a process; each has its own connection."""

    def __init__(self, url: str) -> None:
        super().__init__()
        if url.startswith("rabbit://"):
            url = "amqp://" + url.removeprefix("rabbit://")
        self._url = url
        parsed = yarl.URL(url)
        self._where = f"{parsed.host}:{parsed.port}"  # never the password
        self._link: _Link | None = None
        self.connection_name = f"ministack-rpc {os.getpid()} {uuid.uuid4().hex[:8]}"
        """How RabbitMQ's management tools show this bus's connection."""

    def _require_link(self) -> _Link:
        if self._link is None:  # only reachable by calling a hook directly
            raise RpcError("amqp bus not connected")
        return self._link

    async def _connect(self) -> None:
        try:
            connection = await aio_pika.connect_robust(
                self._url,
                timeout=CONNECT_TIMEOUT,
                reconnect_interval=RECONNECT_INTERVAL,
                client_properties={"connection_name": self.connection_name},
            )
        except _TRANSPORT_ERRORS as exc:
            raise RpcError(f"cannot connect to RabbitMQ at {self._where}: {exc!r}") from exc
        try:
            publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await publisher.declare_exchange(
                EXCHANGE, ExchangeType.DIRECT, durable=False
            )
            replies = await connection.channel()
            reply_queue = await replies.declare_queue(
                f"ministack_reply_{uuid.uuid4().hex}", exclusive=True, auto_delete=True
            )
            await reply_queue.consume(self._on_reply, no_ack=True)
        except _TRANSPORT_ERRORS as exc:
            await connection.close()
            raise RpcError(f"cannot set up rpc on RabbitMQ at {self._where}: {exc!r}") from exc
        self._link = _Link(connection, publisher, exchange, reply_queue.name)

    async def _disconnect(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.connection.close()

    async def _consume(self, topic: str, server: str | None, endpoint: object) -> None:
        channel = await self._require_link().connection.channel()
        try:
            await self._declare_consumers(channel, topic, server, endpoint)
        except _TRANSPORT_ERRORS as exc:
            await channel.close()
            raise RpcError(f"cannot serve rpc topic {topic!r}: {exc!r}") from exc

    async def _declare_consumers(
        self, channel: AbstractChannel, topic: str, server: str | None, endpoint: object
    ) -> None:
        handler = partial(self._on_request, topic, endpoint)
        exchange = await channel.declare_exchange(EXCHANGE, ExchangeType.DIRECT, durable=False)
        names = [queue_name(topic, None)] + ([] if server is None else [queue_name(topic, server)])
        for name in names:
            queue = await channel.declare_queue(name, durable=False)
            await queue.bind(exchange, routing_key=name)
            await queue.consume(handler, no_ack=True)
        fanout = await channel.declare_exchange(
            fanout_exchange(topic), ExchangeType.FANOUT, durable=False
        )
        mine = await channel.declare_queue(
            f"{fanout_exchange(topic)}.{uuid.uuid4().hex}", exclusive=True, auto_delete=True
        )
        await mine.bind(fanout)
        await mine.consume(handler, no_ack=True)

    async def _on_request(
        self, topic: str, endpoint: object, message: AbstractIncomingMessage
    ) -> None:
        request_id = message.headers.get("request_id")
        reply = None
        if message.reply_to and message.correlation_id:
            reply = partial(self._send_reply, message.reply_to, message.correlation_id)
        request_id = request_id if isinstance(request_id, str) else None
        self._receive(topic, endpoint, message.body, request_id, reply)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        if message.correlation_id:
            self._reply_arrived(message.correlation_id, message.body)

    async def _send_reply(self, reply_to: str, correlation_id: str, body: bytes) -> None:
        publisher = self._require_link().publisher
        reply = Message(
            body,
            content_type=_JSON,
            correlation_id=correlation_id,
            delivery_mode=DeliveryMode.NOT_PERSISTENT,
        )
        # Not mandatory: a caller that gave up has deleted its reply queue; drop the reply.
        await publisher.default_exchange.publish(reply, routing_key=reply_to, mandatory=False)

    def _message(self, link: _Link, message: Outgoing) -> Message:
        return Message(
            message.body,
            content_type=_JSON,
            delivery_mode=DeliveryMode.NOT_PERSISTENT,
            headers={} if message.request_id is None else {"request_id": message.request_id},
            correlation_id=message.call_id,
            reply_to=None if message.call_id is None else link.reply_queue,
            expiration=message.ttl,
        )

    async def _send(self, queue: str, message: Outgoing) -> None:
        link = self._require_link()
        try:
            await link.exchange.publish(self._message(link, message), queue, mandatory=True)
        except PublishError:
            raise NoConsumer(
                f"nothing serves rpc queue {queue!r}: is its service running?"
            ) from None
        except _TRANSPORT_ERRORS as exc:
            raise RpcError(f"cannot send to rpc queue {queue!r}: {exc!r}") from exc

    async def _send_fanout(self, topic: str, message: Outgoing) -> None:
        link = self._require_link()
        name = fanout_exchange(topic)
        try:
            exchange = link.fanouts.get(name)
            if exchange is None:
                # Declared here too: publishing to a missing exchange would close the channel.
                exchange = await link.publisher.declare_exchange(
                    name, ExchangeType.FANOUT, durable=False
                )
                link.fanouts[name] = exchange
            await exchange.publish(self._message(link, message), "", mandatory=False)
        except _TRANSPORT_ERRORS as exc:
            raise RpcError(f"cannot fan out to rpc topic {topic!r}: {exc!r}") from exc
