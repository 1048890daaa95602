"""qemu-storage-daemon processes: the NBD server a volume service exports a volume with, and
the TLS-PSK client a libvirt compute host reaches such an export through.

Each daemon runs detached (`--daemonize`: the command returns once the export listens, and
the daemon outlives the service that started it, so a restarted service finds it by its
pidfile) and is identified by a directory of its own that holds its pidfile, its PSK file and
(on the compute side) its unix socket. A pid is trusted only when its command line names that
directory, so a recycled pid is never signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import time
from pathlib import Path

BINARY = "qemu-storage-daemon"
START_TIMEOUT = 30.0
STOP_WAIT = 5.0
PSK_FILE = "keys.psk"  # the name QEMU's tls-creds-psk reads in its dir
PIDFILE = "pid"


class StorageDaemonError(Exception):
    """qemu-storage-daemon could not be started; the message carries its own words."""


def new_key() -> str:
    """A fresh 256-bit pre-shared key, hex-encoded as QEMU's PSK file wants it."""
    return secrets.token_hex(32)


def write_psk(directory: Path, identity: str, key: str) -> None:
    """The PSK file of `directory` (0600): one `identity:key` line."""
    path = directory / PSK_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{identity}:{key}\n")


def opt_value(text: str) -> str:
    """A value safe inside QEMU's comma-separated options (a comma is doubled)."""
    return text.replace(",", ",,")


async def start(directory: Path, args: list[str]) -> int:
    """Run qemu-storage-daemon detached with `args` and its pidfile in `directory`; returns its
    pid once it serves. StorageDaemonError (with its stderr) when it does not start."""
    pidfile = directory / PIDFILE
    argv = [BINARY, "--daemonize", "--pidfile", str(pidfile), *args]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise StorageDaemonError(f"{BINARY} is not installed (qemu-system-common)") from exc
    try:
        _, err = await asyncio.wait_for(proc.communicate(), START_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise StorageDaemonError(f"{BINARY} did not start in {START_TIMEOUT:.0f} s") from None
    pid = running(directory)
    if proc.returncode != 0 or pid is None:
        raise StorageDaemonError(err.decode(errors="replace").strip() or "it exited at once")
    return pid


def running(directory: Path) -> int | None:
    """The pid of the daemon of `directory` when it runs, else None."""
    try:
        pid = int((directory / PIDFILE).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if str(directory).encode() not in cmdline or b"qemu-storage" not in cmdline:
        return None
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    return None if status and status[0] == "Z" else pid


async def stop(directory: Path) -> None:
    """Stop the daemon of `directory` (TERM, then KILL after STOP_WAIT) and remove the
    directory with its keys and sockets. Idempotent."""
    pid = running(directory)
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        while running(directory) is not None:
            if time.monotonic() > deadline:
                _signal(pid, signal.SIGKILL)
                deadline = time.monotonic() + STOP_WAIT
            await asyncio.sleep(0.05)
    shutil.rmtree(directory, ignore_errors=True)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.kill(pid, sig)
