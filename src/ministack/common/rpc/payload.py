"""Versioned RPC payloads: what one typed RPC API sends and its endpoint receives.

Each topic's RPC API module (``<service>/rpcapi/<topic>.py``) declares one frozen dataclass per
remote method, deriving from :class:`Payload`, and is the only code that names the remote
method. On the wire a payload is a JSON object of its fields plus ``"v": "MAJOR.MINOR"``.

Compatibility, so that an agent one release behind can still be served (and serve):
- a new field gets a default and bumps MINOR; a receiver drops fields it does not know and
  fills fields the sender did not know from their defaults;
- removing or retyping a field bumps MAJOR; a receiver refuses another MAJOR with
  :class:`IncompatiblePayload` rather than guess.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from ministack.common.rpc.base import RpcError

log = logging.getLogger("ministack.rpc")

VERSION_KEY = "v"


class IncompatiblePayload(RpcError):
    """The payload's major version differs from the receiver's, or a required field is
    missing: the sender and receiver are too many releases apart."""


@dataclasses.dataclass(frozen=True)
class Payload:
    """Base of every RPC payload; subclasses are frozen dataclasses of JSON-able fields."""

    VERSION: ClassVar[str] = "1.0"

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent on the bus."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data[VERSION_KEY] = self.VERSION
        return data

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        """Decode what `to_wire` of this or a compatible release sent.

        Raises IncompatiblePayload for another major version or a missing required field.
        """
        sent = str(data.get(VERSION_KEY, "1.0"))
        if sent.split(".")[0] != cls.VERSION.split(".")[0]:
            raise IncompatiblePayload(
                f"{cls.__name__} version {sent} cannot be served by version {cls.VERSION}"
            )
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(known) - {VERSION_KEY}
        if unknown:
            log.debug("%s %s: ignoring fields %s", cls.__name__, sent, sorted(unknown))
        missing = [
            name
            for name, f in known.items()
            if name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise IncompatiblePayload(
                f"{cls.__name__} version {sent} lacks required field(s) {', '.join(missing)}"
            )
        return cls(**{k: v for k, v in data.items() if k in known})


P = TypeVar("P", bound=Payload)
S = TypeVar("S")
R = TypeVar("R")

Handler = Callable[[S, P], Awaitable[R]]
WireHandler = Callable[[S, dict[str, Any]], Awaitable[R]]


def receives(kind: type[P]) -> Callable[[Handler[S, P, R]], WireHandler[S, R]]:
    """Decorate an endpoint method taking a `kind` payload so the bus can call it with the
    wire form (``payload=<JSON object>``); the method sees the decoded dataclass."""

    def wrap(func: Handler[S, P, R]) -> WireHandler[S, R]:
        @functools.wraps(func)
        async def method(self: S, payload: dict[str, Any]) -> R:
            return await func(self, kind.from_wire(payload))

        return method

    return wrap
