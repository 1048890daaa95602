"""Files that hold secrets or tenant data: made with their final mode, never widened afterwards.

Every `ministack` command sets the process umask to 077 before it does anything
(`restrict_umask`), so whatever a library creates under the state directory — the SQLite
database and its -wal/-shm, logs, image data, token keys — is private to the service user from
its first byte. Files ministack writes itself go through `write_private`, which opens the file
with its mode (no chmod after the content is written) and renames it into place, so a reader
never sees a half-written file and a crash never leaves one.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def restrict_umask() -> None:
    """Make every file and directory this process creates private to its user (umask 077)."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Create `path` (and missing parents) 0700. Idempotent; returns `path`.

    `tighten` (for the state directory only) also takes every permission from others and
    read and write from the group of an existing directory. Group traversal is kept when the
    directory was handed to another group (the libvirt driver gives the hypervisor's group
    traversal, which reveals no names). A shared directory (sticky bit, like /tmp) is never
    changed.
    """
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if tighten:
        st = path.stat()
        mode = st.st_mode & 0o7777
        loose = 0o067 if st.st_gid != os.getegid() else 0o077
        if mode & loose and not mode & 0o1000:
            path.chmod(mode & ~loose)
    return path


def write_private(path: Path, content: str | bytes, mode: int = PRIVATE_FILE) -> None:
    """Replace `path` with `content`, created with `mode` (0600) before any byte is written.

    Atomic: the content goes to a temporary file beside `path`, is flushed to disk and renamed
    over `path`; on error `path` is unchanged and no temporary file is left.
    """
    data = content.encode() if isinstance(content, str) else content
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask may be looser than `mode`; nothing is written yet
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def touch_private(path: Path, mode: int = PRIVATE_FILE) -> None:
    """Create `path` empty with `mode` if it does not exist (so a library that opens it later
    keeps that mode, as SQLite does for its database and copies to -wal/-shm). Idempotent."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return
    os.fchmod(fd, mode)
    os.close(fd)


def create_private_once(path: Path, content: bytes, mode: int = PRIVATE_FILE) -> bytes:
    """The content of `path`, creating it with `content` and `mode` (0600) when it does not
    exist yet. For keys: the file appears whole or not at all (written beside it, then linked
    into place), and when several processes race, the first link wins and every one of them
    returns that winner's content."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return path.read_bytes()
