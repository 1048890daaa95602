"""The link watcher's parser: RTM_NEWLINK messages give (name, master), others are skipped."""

from __future__ import annotations

import struct

from ministack.network.agent.linux.watch import IFLA_IFNAME, IFLA_MASTER, parse_new_links


def _attr(kind: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def _message(kind: int, attrs: bytes) -> bytes:
    body = bytes(16) + attrs  # ifinfomsg, then the attributes
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_new_links_give_name_and_master_and_other_messages_are_skipped() -> None:
    enslaved = _message(16, _attr(IFLA_IFNAME, b"tapabc\0") + _attr(IFLA_MASTER, b"\x07\0\0\0"))
    fresh = _message(16, _attr(IFLA_IFNAME, b"tapdef\0"))
    deleted = _message(17, _attr(IFLA_IFNAME, b"tapold\0"))
    assert parse_new_links(enslaved + deleted + fresh) == [("tapabc", 7), ("tapdef", 0)]
    assert parse_new_links(b"") == [] and parse_new_links(b"\0" * 8) == []
