"""The streaming multipart reader: the same events whatever the chunking of the body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ministack.objectstore import mime

BODY = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="expires"\r\n\r\n'
    b"12345\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="f"; filename="a;b.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
    b"line\r\n-XyZ almost a boundary\r\n\r\n"
    b"--XyZ--\r\n"
)


async def _collect(body: bytes, size: int) -> list[object]:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), size):
            yield body[i : i + size]

    out: list[object] = []
    async for event in mime.parts(chunks(), "XyZ"):
        if isinstance(event, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += event
        else:
            out.append(event)
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 4096])
async def test_any_chunking_gives_the_same_parts(size: int) -> None:
    events = await _collect(BODY, size)
    assert len(events) == 6
    first, value, end, second, data, end2 = events
    assert isinstance(first, mime.Headers) and first.params == {"name": "expires"}
    assert value == b"12345" and end is mime.END and end2 is mime.END
    assert isinstance(second, mime.Headers)
    assert second.params["filename"] == "a;b.txt"
    assert second.headers["content-type"] == "text/plain"
    assert data == b"line\r\n-XyZ almost a boundary\r\n"


@pytest.mark.parametrize("body", [b"garbage", BODY[:-9], b"--XyZ\r\nno-colon\r\n\r\nx"])
async def test_malformed_bodies_are_invalid(body: bytes) -> None:
    with pytest.raises(mime.Invalid):
        await _collect(body, 5)
