"""An upload whose client stops sending is abandoned (the timeout of image/states.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ministack.image.data import UploadTimeout, idle_limited


async def _stalls_after(chunks: int) -> AsyncIterator[bytes]:
    for _ in range(chunks):
        yield b"x"
    await asyncio.Event().wait()  # a client that keeps the connection and sends nothing
    yield b"never"


async def test_a_silent_client_is_cut_off_with_408() -> None:
    got: list[bytes] = []
    with pytest.raises(UploadTimeout, match="sent no image data"):
        async for chunk in idle_limited(_stalls_after(3), 0.05):
            got.append(chunk)
    assert got == [b"x"] * 3
    assert UploadTimeout.status == 408


async def test_a_client_that_keeps_sending_is_not_cut_off() -> None:
    async def slow() -> AsyncIterator[bytes]:
        for _ in range(5):
            await asyncio.sleep(0.01)
            yield b"y"

    assert [c async for c in idle_limited(slow(), 5.0)] == [b"y"] * 5
