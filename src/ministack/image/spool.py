"""Receiving an upload: the one place image bytes are written to disk, hashed and counted.

Sits between the data API (PUT /file, PUT /stage) and the store: `spool` turns the request
body into a ``.part`` file in the store's scratch directory plus its size, md5 and sha512.
The event loop only copies each received chunk into one of two page-aligned buffers; a full
buffer goes to worker threads that hash it (md5 and sha512 in parallel: hashlib releases the
GIL) and write it with O_DIRECT where the filesystem allows, bypassing the page cache. On the
2-core reference machine the kernel's copy into fresh page-cache pages cost more CPU than both
hashes together (docs/benchmarks.md, "Image service"). Memory per upload: two BUFFER buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import mmap
import os
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUFFER = 4 << 20  # bytes handed to the worker threads at a time (hash + write)
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_ALIGN = 4096  # O_DIRECT lengths are whole blocks; the tail of a file is written buffered
_WORKERS = ThreadPoolExecutor(4, thread_name_prefix="image-spool")


@dataclass(frozen=True)
class Spooled:
    """An upload received in full: where it is, its size and its checksums."""

    path: Path
    size: int
    checksum: str
    os_hash_value: str


class _Sink:
    """A new file written with O_DIRECT while lengths allow, falling back to buffered writes."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            self.fd = os.open(path, flags | _O_DIRECT, 0o600)
            self.direct = bool(_O_DIRECT)
        except OSError:  # tmpfs and some others refuse O_DIRECT
            self.fd = os.open(path, flags, 0o600)
            self.direct = False

    def _buffered(self) -> None:
        fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~_O_DIRECT)
        self.direct = False

    def write(self, data: memoryview) -> None:
        """Write all of `data`. Runs in a worker thread."""
        if self.direct and len(data) % _ALIGN:
            self._buffered()
        while data:
            try:
                written = os.write(self.fd, data)
            except OSError as exc:
                if not self.direct or exc.errno != errno.EINVAL:  # O_DIRECT not usable here
                    raise
                self._buffered()
                continue
            data = data[written:]

    def close(self) -> None:
        """Idempotent: a descriptor number is never closed twice (it may be reused)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _absorb(sink: _Sink, md5: Any, sha: Any, data: memoryview) -> None:
    # md5, sha512 and the write each release the GIL, so the three overlap.
    done = [_WORKERS.submit(md5.update, data), _WORKERS.submit(sink.write, data)]
    sha.update(data)
    for future in done:
        future.result()


async def spool(
    chunks: AsyncIterator[bytes],
    directory: Path,
    limit: int,
    too_large: Callable[[int], Exception],
) -> Spooled:
    """Write `chunks` to a new ``.part`` file in `directory`, hashing as it goes.

    Two BUFFERs are the only memory used, whatever the size. More than `limit` bytes raises
    `too_large(limit)` as soon as the chunk that crosses it arrives. On any error or
    cancellation (a client that disconnects) the partial file is removed and the error
    propagates: nothing is left behind.
    """
    path = directory / f".{uuid.uuid4().hex}.part"
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha512()
    loop = asyncio.get_running_loop()
    sink = await asyncio.to_thread(_Sink, path)
    buffers = [memoryview(mmap.mmap(-1, BUFFER)) for _ in range(2)]  # page-aligned for O_DIRECT
    pending: asyncio.Future[None] | None = None
    size = filled = current = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            rest = memoryview(chunk)
            while rest:
                take = min(len(rest), BUFFER - filled)
                buffers[current][filled : filled + take] = rest[:take]
                filled, rest = filled + take, rest[take:]
                if filled == BUFFER:
                    if pending is not None:
                        await pending  # the other buffer is free again
                    full = buffers[current]
                    pending = loop.run_in_executor(None, _absorb, sink, md5, sha, full)
                    current, filled = 1 - current, 0
        if pending is not None:
            await pending
            pending = None
        if filled:
            await asyncio.to_thread(_absorb, sink, md5, sha, buffers[current][:filled])
        await asyncio.to_thread(sink.close)
    except BaseException:
        if pending is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(pending)
        sink.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return Spooled(path=path, size=size, checksum=md5.hexdigest(), os_hash_value=sha.hexdigest())
