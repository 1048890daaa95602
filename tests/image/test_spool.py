"""spool: what it writes and hashes, whatever the chunking, and what it leaves on failure."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ministack.image import spool as spool_module
from ministack.image.spool import BUFFER, spool


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class TooLarge(Exception):
    pass


@pytest.mark.parametrize(
    ("length", "chunk"),
    [(0, 1), (1000, 7), (BUFFER, 65536), (2 * BUFFER + 4097, 65536 + 3), (3 * BUFFER, BUFFER)],
)
async def test_spool_writes_and_hashes_every_byte(tmp_path: Path, length: int, chunk: int) -> None:
    data = os.urandom(length)
    got = await spool(_chunks(data, chunk), tmp_path, 1 << 40, TooLarge)
    assert got.path.read_bytes() == data
    assert got.size == length
    assert got.checksum == hashlib.md5(data).hexdigest()
    assert got.os_hash_value == hashlib.sha512(data).hexdigest()


async def test_spool_without_o_direct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "_O_DIRECT", 0)  # as on tmpfs
    data = os.urandom(BUFFER + 10)
    got = await spool(_chunks(data, 65536), tmp_path, 1 << 40, TooLarge)
    assert got.path.read_bytes() == data


async def test_spool_over_limit_leaves_nothing(tmp_path: Path) -> None:
    data = os.urandom(2 * BUFFER + 100)
    with pytest.raises(TooLarge):
        await spool(_chunks(data, 65536), tmp_path, 2 * BUFFER, TooLarge)
    assert list(tmp_path.iterdir()) == []


async def test_spool_failed_stream_leaves_nothing(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        for _ in range(3 * BUFFER // 65536):
            yield b"x" * 65536
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await spool(broken(), tmp_path, 1 << 40, TooLarge)
    assert list(tmp_path.iterdir()) == []
