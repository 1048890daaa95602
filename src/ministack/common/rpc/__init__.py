"""The RPC bus between ministack's processes; see :mod:`ministack.common.rpc.base`.

``make_bus(url)`` picks the driver: ``memory://`` for one process (tests, all-in-one
development), ``amqp://`` / ``rabbit://`` for RabbitMQ.
"""

from __future__ import annotations

from ministack.common.rpc.amqp import AmqpBus
from ministack.common.rpc.base import (
    CALL_TIMEOUT,
    LONG_CALL_TIMEOUT,
    Bus,
    NoConsumer,
    NoSuchMethod,
    RemoteError,
    RpcError,
    RpcTimeout,
)
from ministack.common.rpc.memory import MemoryBus

SCHEMES = ("memory", "amqp", "amqps", "rabbit")


def make_bus(url: str) -> Bus:
    """A not yet started bus for url. Raises ValueError unless its scheme is one of SCHEMES."""
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() == "memory":
        return MemoryBus()
    if sep and scheme.lower() in SCHEMES:
        return AmqpBus(url)
    # The url itself is left out: it may hold a password.
    raise ValueError(
        f"unsupported rpc url scheme {scheme.lower() if sep else ''!r}: "
        "expected memory://, amqp://, amqps:// or rabbit://"
    )


__all__ = [
    "CALL_TIMEOUT",
    "LONG_CALL_TIMEOUT",
    "AmqpBus",
    "Bus",
    "MemoryBus",
    "NoConsumer",
    "NoSuchMethod",
    "RemoteError",
    "RpcError",
    "RpcTimeout",
    "make_bus",
]
