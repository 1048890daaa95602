"""The filesystem backend: each object version is one private file, written whole or not at all.

A write goes to ``<root>/tmp/<id>.partial`` (0600 from its first byte), is fsynced, renamed to
``<root>/data/<id[:2]>/<id>`` and the directory fsynced; only then does `write` return. A
cut-off or failed write unlinks its partial file; a kill -9 leaves a partial file that `sweep`
removes at the next start, never a file under ``data/``. Blocking I/O runs in threads in 4 MiB
batches so the event loop keeps serving other requests; a read fetches its next block (and
hashes it, when asked) in a thread while the event loop sends the current one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from ministack.common import files
from ministack.objectstore.backend import Stored, TooLarge

BATCH = 4 << 20
SYNC_EVERY = 64 << 20
IO_THREADS = 32
T = TypeVar("T")
READ_CHUNK = 4 << 20
INLINE_READ = 64 << 10
MAX_PARTS = 256  # a batch of more (smaller) chunks is joined first: fewer calls per byte


class FilesystemBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.tmp = root / "tmp"
        self.quarantined = root / "quarantined"
        for path in (root, self.data, self.tmp, self.quarantined):
            files.private_dir(path)
        # fsyncs wait on the disk, not the CPU: enough threads that concurrent PUTs do not
        # queue behind the default executor's few workers
        self._pool = concurrent.futures.ThreadPoolExecutor(
            IO_THREADS, thread_name_prefix="objstore-io"
        )

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def path(self, location: str) -> Path:
        if not location.isalnum():
            raise ValueError(f"not a filesystem backend location: {location!r}")
        return self.data / location[:2] / location

    async def write(self, chunks: AsyncIterator[bytes], limit: int) -> Stored:
        location = uuid.uuid4().hex
        partial = self.tmp / f"{location}.partial"
        md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        size = 0
        # the partial file is made in a thread too: a body of one batch (most objects) costs
        # one thread hop and no file-system call on the event loop
        fd: int | None = None
        # one batch is written in a thread while the next arrives (hashes stay in order)
        inflight: asyncio.Future[None] | None = None
        # written data is flushed to disk in the background while more arrives, so the
        # final fsync of a large object waits for its last few batches, not all of it
        syncing: asyncio.Future[None] | None = None
        unsynced = 0
        try:
            pending: list[bytes] = []
            pending_size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the body is larger than {limit} bytes")
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= BATCH:
                    if inflight is not None:
                        await inflight
                    if fd is None:
                        fd = await self._io(_open_partial, partial)
                    elif unsynced >= SYNC_EVERY and (syncing is None or syncing.done()):
                        if syncing is not None:
                            await syncing  # done: raises a failed flush (EIO) here
                        syncing = asyncio.ensure_future(self._io(os.fdatasync, fd))
                        unsynced = 0
                    inflight = asyncio.ensure_future(_write_batch_async(fd, pending, md5, sha))
                    unsynced += pending_size
                    pending, pending_size = [], 0
            if inflight is not None:
                await inflight
            if syncing is not None:
                await syncing
            given, fd = fd, None  # _finish closes it, whatever happens
            await self._io(_finish, given, pending, md5, sha, partial, self.path(location))
        except BaseException:
            for running in (inflight, syncing):
                if running is not None and not running.done():
                    with contextlib.suppress(BaseException):
                        await asyncio.shield(running)  # never close the fd under a write
            if fd is not None:
                os.close(fd)
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return Stored(location, size, md5.hexdigest(), sha.hexdigest())

    async def copy(self, location: str) -> str:
        def link() -> str:
            new = uuid.uuid4().hex
            target = self.path(new)
            target.parent.mkdir(mode=0o700, exist_ok=True)
            os.link(self.path(location), target)  # data is never changed in place
            os.utime(target)  # a fresh mtime: the auditor leaves young files alone
            _fsync_dir(target.parent)
            return new

        return await self._io(link)

    async def read(
        self,
        location: str,
        start: int = 0,
        end: int | None = None,
        digest: hashlib._Hash | None = None,
    ) -> AsyncIterator[bytes]:
        fd = await self._io(os.open, self.path(location), os.O_RDONLY)
        loop = asyncio.get_running_loop()
        ahead: asyncio.Future[bytes] | None = None

        def block_at(offset: int, want: int) -> bytes:
            block = os.pread(fd, want, offset)
            if digest is not None:
                digest.update(block)  # in this thread: the event loop only sends
            return block

        def fetch(offset: int) -> asyncio.Future[bytes] | None:
            want = READ_CHUNK if end is None else min(READ_CHUNK, end - offset)
            return loop.run_in_executor(self._pool, block_at, offset, want) if want > 0 else None

        try:
            with contextlib.suppress(OSError):  # a hint only
                os.posix_fadvise(fd, start, 0, os.POSIX_FADV_SEQUENTIAL)
            offset = start
            ahead = fetch(offset)
            while ahead is not None:
                block = await ahead
                ahead = None
                if not block:
                    break
                offset += len(block)
                ahead = fetch(offset)  # the next block is read while this one is sent
                yield block
        finally:
            if ahead is not None and not ahead.done():
                ahead.add_done_callback(lambda _: os.close(fd))  # never close under a read
            else:
                os.close(fd)

    async def read_all(self, location: str) -> bytes:
        path = self.path(location)
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size <= INLINE_READ:  # a page-cache read of a few KiB: cheaper than a thread hop
                return os.read(fd, size + 1)
        finally:
            os.close(fd)
        return await asyncio.to_thread(path.read_bytes)

    async def delete(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await self._io(self.path(location).unlink)

    async def verify(self, location: str, sha256: str) -> bool:
        def check() -> bool:
            path = self.path(location)
            try:
                _md5, digest, _size = _hash_file(path)
            except FileNotFoundError:
                return False
            if digest == sha256:
                return True
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, self.quarantined / location)
            return False

        return await asyncio.to_thread(check)

    async def quarantine(self, location: str) -> None:
        def move() -> None:
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path(location), self.quarantined / location)

        await asyncio.to_thread(move)

    async def unreferenced_candidates(self, older_than: float) -> list[str]:
        def walk() -> list[str]:
            cutoff = time.time() - older_than
            found = []
            for folder in self.data.iterdir():
                for entry in os.scandir(folder):
                    with contextlib.suppress(FileNotFoundError):
                        if entry.stat().st_mtime < cutoff:
                            found.append(entry.name)
            return found

        return await self._io(walk)

    async def sweep(self) -> int:
        def remove() -> int:
            count = 0
            for partial in self.tmp.glob("*.partial"):
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
                    count += 1
            return count

        return await asyncio.to_thread(remove)


async def _write_batch_async(
    fd: int, pending: list[bytes], md5: hashlib._Hash, sha: hashlib._Hash
) -> None:
    """Write a batch and hash it; MD5 (with the write) and SHA-256 run in two threads, as
    both release the GIL: on two cores a PUT is bound by the slower hash, not their sum.
    Received chunks (64-256 KiB) are used as they came, not copied into one buffer."""
    parts = pending if len(pending) <= MAX_PARTS else [b"".join(pending)]
    await asyncio.gather(
        asyncio.to_thread(_write_and_md5, fd, parts, md5),
        asyncio.to_thread(_update_all, sha, parts),
    )


def _update_all(digest: hashlib._Hash, parts: list[bytes]) -> None:
    for part in parts:
        digest.update(part)


def _write_and_md5(fd: int, parts: list[bytes], md5: hashlib._Hash) -> None:
    for part in parts:
        md5.update(part)
        _write_all(fd, part)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_batch(fd: int, pending: list[bytes], md5: hashlib._Hash, sha: hashlib._Hash) -> None:
    for chunk in pending:
        md5.update(chunk)
        sha.update(chunk)
    _write_all(fd, b"".join(pending))


def _open_partial(partial: Path) -> int:
    return os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)


def _finish(
    fd: int | None,
    pending: list[bytes],
    md5: hashlib._Hash,
    sha: hashlib._Hash,
    partial: Path,
    final: Path,
) -> None:
    """Write the last batch (to a new partial file when `fd` is None), make it durable and
    move it into place; closes `fd`."""
    if fd is None:
        fd = _open_partial(partial)
    try:
        _write_batch(fd, pending, md5, sha)
        os.fsync(fd)
    finally:
        os.close(fd)
    final.parent.mkdir(mode=0o700, exist_ok=True)
    os.rename(partial, final)
    _fsync_dir(final.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> tuple[str, str, int]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(READ_CHUNK):
            md5.update(block)
            sha.update(block)
            size += len(block)
    return md5.hexdigest(), sha.hexdigest(), size
