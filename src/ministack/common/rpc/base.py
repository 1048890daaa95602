"""The RPC bus: how a service's API and workers talk to each other.

A service's ``client.py`` calls :class:`Bus` methods; a driver (``memory`` inside one process,
``amqp`` through RabbitMQ) carries a JSON message to a process that ``serve()``-s the topic, where
:func:`dispatch` runs the endpoint's method with the caller's request id set, and the reply comes
back the same way. Delivery is at most once: a message counts as delivered when it reaches a
server, before its method runs.

This module holds what the drivers share: the :class:`Bus` interface, the error tree, the wire
format, :func:`dispatch`, and :class:`BusBase`, the life cycle and call bookkeeping each driver
builds on by implementing five transport hooks.
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import inspect
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, cast

from ministack.common import context

log = logging.getLogger("ministack.rpc")

CALL_TIMEOUT = 60.0
"""Seconds a call waits for its reply unless the caller says otherwise."""
LONG_CALL_TIMEOUT = 1800.0
"""For calls known to be slow (image conversion, volume copy); pass as ``timeout=``."""

Replier = Callable[[bytes], Awaitable[None]]
"""Sends an encoded reply back to the caller of one call."""

_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,100}")
_SERVER = re.compile(r"[A-Za-z0-9_.:-]{1,150}")


class RpcError(Exception):
    """Base of every bus error: the message could not be delivered or answered."""


class NoConsumer(RpcError):
    """Nothing serves the topic (or the topic on that server), so nothing could ever answer."""


class RpcTimeout(RpcError):
    """No reply came in time; the remote method may or may not have run."""


class RemoteError(RpcError):
    """The remote method raised; ``exc_type`` is its exception's class name, ``message`` its str."""

    def __init__(self, exc_type: str, message: str) -> None:
        super().__init__(f"{exc_type}: {message}")
        self.exc_type = exc_type
        self.message = message


class NoSuchMethod(RpcError):
    """Raised on the serving side when a request names no public async method of the endpoint;
    the caller sees it as ``RemoteError("NoSuchMethod", ...)``."""


class Bus(Protocol):
    """A message bus between processes. Keyword arguments and results must be JSON-serialisable.

    A remote method cannot take keyword arguments named ``topic``, ``method``, ``server`` or
    ``timeout``: those names belong to the bus.
    """

    async def start(self) -> None:
        """Connect. Idempotent. Raises RpcError if the transport cannot be reached."""

    async def stop(self) -> None:
        """Stop consuming, cancel running handlers, fail waiting calls with RpcError, disconnect.

        Idempotent; never raises. Afterwards every other method raises RpcError until start().
        """

    async def serve(self, topic: str, endpoint: object, *, server: str | None = None) -> None:
        """Make the public async methods of endpoint callable as ``method`` on ``topic``.

        Consumes the shared ``topic`` queue (each message goes to ONE of the servers on it),
        with server="host1" also the directed queue ``topic.host1``, and always the topic's
        fanout. Raises ValueError for a malformed topic or server name, RpcError if the bus is
        not running or the transport fails (then nothing of this serve() is left consuming).
        """

    async def call(
        self,
        topic: str,
        method: str,
        *,
        server: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``method(**kwargs)`` on one server of topic (or on ``server``) and return its result.

        Waits ``timeout`` seconds (default CALL_TIMEOUT); a request not picked up by then expires
        unprocessed. Raises RpcTimeout if no reply came in time, RemoteError if the method raised,
        NoConsumer at once if nothing serves the topic, RpcError if the bus is not running or
        stops meanwhile. TypeError/ValueError if kwargs are not JSON (then nothing is sent).
        """

    async def cast(
        self, topic: str, method: str, *, server: str | None = None, **kwargs: Any
    ) -> None:
        """Send ``method(**kwargs)`` to one server of topic (or to ``server``) without waiting.

        Returns once the transport holds the message; the method's errors are only logged on
        the server. Raises NoConsumer if nothing serves the topic, RpcError if not running.
        """

    async def fanout(self, topic: str, method: str, **kwargs: Any) -> None:
        """Send ``method(**kwargs)`` to every server of topic. With no server it is dropped.

        Raises RpcError if the bus is not running or the transport fails.
        """


@dataclass(frozen=True)
class Request:
    """A decoded request: which method to run with which keyword arguments."""

    method: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    """An encoded request as a driver sends it."""

    body: bytes
    request_id: str | None
    call_id: str | None = None
    """Set for calls: the reply must carry it back."""
    ttl: float | None = None
    """Set for calls: seconds after which an undelivered request is dropped."""


def _encode(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def encode_request(method: str, kwargs: dict[str, Any]) -> bytes:
    """Encode a request. Raises TypeError/ValueError if kwargs are not JSON-serialisable."""
    return _encode({"method": method, "kwargs": kwargs})


def decode_request(body: bytes) -> Request:
    """Decode a request. Raises RpcError (or ValueError for bad JSON) if body is not one."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise RpcError("malformed rpc request")
    method, kwargs = data.get("method"), data.get("kwargs")
    if not isinstance(method, str) or not isinstance(kwargs, dict):
        raise RpcError("malformed rpc request")
    return Request(method, kwargs)


def encode_result(result: object) -> bytes:
    """Encode a successful reply. Raises TypeError/ValueError if result is not JSON."""
    return _encode({"result": result})


def encode_error(exc: BaseException) -> bytes:
    """Encode the reply for a method that raised exc."""
    return _encode({"error": {"type": type(exc).__name__, "message": str(exc)}})


def decode_reply(body: bytes) -> Any:
    """Return the result a reply carries. Raises RemoteError for an error reply, RpcError if
    body is not a reply."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise RpcError(f"malformed rpc reply: {exc}") from None
    if isinstance(data, dict) and "result" in data:
        return data["result"]
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        raise RpcError("malformed rpc reply: neither result nor error")
    raise RemoteError(str(error.get("type")), str(error.get("message")))


def queue_name(topic: str, server: str | None) -> str:
    """The queue a request for topic (on server) goes to. Raises ValueError for bad names."""
    check_topic(topic)
    if server is None:
        return topic
    if not _SERVER.fullmatch(server):
        raise ValueError(f"bad rpc server name {server!r}: expected 1-150 of [A-Za-z0-9_.:-]")
    return f"{topic}.{server}"


def check_topic(topic: str) -> None:
    """Raise ValueError unless topic is 1-100 of [A-Za-z0-9_-] (no dot: it separates server)."""
    if not _TOPIC.fullmatch(topic):
        raise ValueError(f"bad rpc topic {topic!r}: expected 1-100 of [A-Za-z0-9_-]")


def find_method(endpoint: object, name: str) -> Callable[..., Awaitable[Any]]:
    """The public async method ``name`` of endpoint. Raises NoSuchMethod if there is none."""
    if not name.startswith("_"):
        func = getattr(endpoint, name, None)
        if inspect.iscoroutinefunction(func):
            return cast(Callable[..., Awaitable[Any]], func)
    raise NoSuchMethod(f"{type(endpoint).__name__} has no public async method {name!r}")


async def dispatch(endpoint: object, topic: str, body: bytes, request_id: str | None) -> bytes:
    """Run the method a request names on endpoint with request_id set; return the encoded reply.

    Raises nothing but CancelledError: a malformed request, an unknown method, a method that
    raises and a result that is not JSON each become an error reply and are logged.
    """
    token = context.request_id.set(request_id)
    method = "?"
    try:
        request = decode_request(body)
        method = request.method
        func = find_method(endpoint, method)
        return encode_result(await func(**request.kwargs))
    except Exception as exc:
        log.exception("rpc %s.%s failed", topic, method)
        return encode_error(exc)
    finally:
        context.request_id.reset(token)


class BusBase(abc.ABC):
    """What every driver shares: life cycle, call bookkeeping, one task per incoming message.

    A driver implements ``_connect``, ``_disconnect``, ``_consume``, ``_send`` and
    ``_send_fanout``, and hands each incoming message to ``_receive`` and each reply to
    ``_reply_arrived``.
    """

    def __init__(self) -> None:
        self._running = False
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._calls: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        """Connect. Idempotent. Raises RpcError if the transport cannot be reached."""
        async with self._lock:
            if not self._running:
                await self._connect()
                self._running = True

    async def stop(self) -> None:
        """Stop consuming, cancel running handlers, fail waiting calls, disconnect.

        Idempotent; never raises (transport errors while disconnecting are logged).
        """
        async with self._lock:
            if not self._running:
                return
            self._running = False
            for reply in self._calls.values():
                if not reply.done():
                    reply.set_exception(RpcError("rpc bus stopped while waiting for a reply"))
            handlers = [task for task in self._tasks if task is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            try:
                await self._disconnect()
            except Exception:
                log.warning("rpc bus did not disconnect cleanly", exc_info=True)

    async def serve(self, topic: str, endpoint: object, *, server: str | None = None) -> None:
        """See :meth:`Bus.serve`."""
        queue_name(topic, server)
        self._check_running()
        await self._consume(topic, server, endpoint)

    async def call(
        self,
        topic: str,
        method: str,
        *,
        server: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """See :meth:`Bus.call`."""
        queue = queue_name(topic, server)
        limit = CALL_TIMEOUT if timeout is None else timeout
        if limit <= 0:
            raise ValueError(f"rpc call timeout must be positive, not {limit}")
        self._check_running()
        call_id = uuid.uuid4().hex
        message = self._outgoing(method, kwargs, call_id=call_id, ttl=limit)
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = reply
        try:
            async with asyncio.timeout(limit):
                await self._send(queue, message)
                body = await reply
        except TimeoutError:
            raise RpcTimeout(
                f"no reply from rpc {topic}.{method} (server={server}) within {limit:g} s"
            ) from None
        finally:
            self._calls.pop(call_id, None)
        return decode_reply(body)

    async def cast(
        self, topic: str, method: str, *, server: str | None = None, **kwargs: Any
    ) -> None:
        """See :meth:`Bus.cast`."""
        queue = queue_name(topic, server)
        self._check_running()
        await self._send(queue, self._outgoing(method, kwargs))

    async def fanout(self, topic: str, method: str, **kwargs: Any) -> None:
        """See :meth:`Bus.fanout`."""
        check_topic(topic)
        self._check_running()
        await self._send_fanout(topic, self._outgoing(method, kwargs))

    def _check_running(self) -> None:
        if not self._running:
            raise RpcError("rpc bus is not running: call start() first (or it was stopped)")

    @staticmethod
    def _outgoing(
        method: str, kwargs: dict[str, Any], call_id: str | None = None, ttl: float | None = None
    ) -> Outgoing:
        body = encode_request(method, kwargs)
        return Outgoing(body, context.current_request_id(), call_id, ttl)

    def _receive(
        self,
        topic: str,
        endpoint: object,
        body: bytes,
        request_id: str | None,
        reply: Replier | None,
    ) -> None:
        """Handle one incoming message in its own task, in a fresh context."""
        if not self._running:
            log.debug("rpc bus stopping: dropped a message for %s", topic)
            return
        handler = self._handle(topic, endpoint, body, request_id, reply)
        self._spawn(handler, f"rpc {topic}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        # A fresh context: the handler must see the request id the message carries, no other.
        loop = asyncio.get_running_loop()
        task = loop.create_task(coro, name=name, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _handle(
        topic: str,
        endpoint: object,
        body: bytes,
        request_id: str | None,
        reply: Replier | None,
    ) -> None:
        answer = await dispatch(endpoint, topic, body, request_id)
        if reply is None:
            return
        try:
            await reply(answer)
        except Exception:
            log.warning("rpc %s: could not send a reply", topic, exc_info=True)

    def _reply_arrived(self, call_id: str, body: bytes) -> None:
        """Complete the waiting call call_id; ignore replies for calls that gave up."""
        reply = self._calls.get(call_id)
        if reply is not None and not reply.done():
            reply.set_result(body)

    @abc.abstractmethod
    async def _connect(self) -> None:
        """Connect; on error raise RpcError and leave nothing open."""

    @abc.abstractmethod
    async def _disconnect(self) -> None:
        """Stop all consumers and disconnect."""

    @abc.abstractmethod
    async def _consume(self, topic: str, server: str | None, endpoint: object) -> None:
        """Start consuming for one serve(); on error raise RpcError and consume nothing."""

    @abc.abstractmethod
    async def _send(self, queue: str, message: Outgoing) -> None:
        """Route message to one consumer of queue. Raises NoConsumer if the queue does not
        exist, RpcError if the transport fails."""

    @abc.abstractmethod
    async def _send_fanout(self, topic: str, message: Outgoing) -> None:
        """Deliver message to every fanout consumer of topic (none is fine)."""
