"""Versioned RPC payloads: a receiver one minor release apart in either direction still serves
a message; another major release or a missing required field is refused, never guessed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ministack.common.rpc import MemoryBus, RemoteError
from ministack.common.rpc.payload import IncompatiblePayload, Payload, receives


@dataclass(frozen=True)
class GrowV1(Payload):
    VERSION = "1.0"
    volume_id: str


@dataclass(frozen=True)
class GrowV11(Payload):
    """The same message one minor release later: a new field with a default."""

    VERSION = "1.1"
    volume_id: str
    new_size: int = 1
    hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GrowV2(Payload):
    VERSION = "2.0"
    volume_id: str


def test_round_trip_carries_the_version() -> None:
    wire = GrowV11("v1", 4, ["a"]).to_wire()
    assert wire == {"volume_id": "v1", "new_size": 4, "hosts": ["a"], "v": "1.1"}
    assert GrowV11.from_wire(wire) == GrowV11("v1", 4, ["a"])


def test_older_sender_gets_defaults_and_newer_sender_extra_fields_are_dropped() -> None:
    assert GrowV11.from_wire(GrowV1("v1").to_wire()) == GrowV11("v1", 1, [])
    assert GrowV1.from_wire(GrowV11("v1", 9).to_wire()) == GrowV1("v1")


def test_other_major_or_missing_required_field_is_refused() -> None:
    with pytest.raises(IncompatiblePayload, match=r"version 2\.0"):
        GrowV1.from_wire(GrowV2("v1").to_wire())
    with pytest.raises(IncompatiblePayload, match="volume_id"):
        GrowV11.from_wire({"v": "1.0", "new_size": 3})


class Grower:
    def __init__(self) -> None:
        self.seen: list[GrowV11] = []

    @receives(GrowV11)
    async def grow(self, req: GrowV11) -> dict[str, Any]:
        self.seen.append(req)
        return {"size": req.new_size}


async def test_endpoint_decodes_payloads_of_older_and_newer_senders() -> None:
    bus = MemoryBus()
    await bus.start()
    try:
        grower = Grower()
        await bus.serve("volume-test", grower)
        old = await bus.call("volume-test", "grow", payload=GrowV1("v1").to_wire())
        new = await bus.call("volume-test", "grow", payload=GrowV11("v2", 5).to_wire())
        assert (old, new) == ({"size": 1}, {"size": 5})
        assert grower.seen == [GrowV11("v1", 1, []), GrowV11("v2", 5, [])]
        with pytest.raises(RemoteError, match="IncompatiblePayload"):
            await bus.call("volume-test", "grow", payload=GrowV2("v3").to_wire())
        assert len(grower.seen) == 2
    finally:
        await bus.stop()
