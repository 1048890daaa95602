"""Who may read instance files on a libvirt host: their owner and the hypervisor's group only.

Where it sits: `LibvirtDriver.init_host` prepares the instances and image-cache directories,
`spawn` each instance directory. QEMU runs as the `libvirt-qemu` user; libvirt's
dynamic_ownership (on by default) hands it the files of a domain (disks, backing bases, config
drive, kernel) while it runs. What QEMU must reach on its own gets that user's group and
nothing for others: directories 2710 (traverse, not list; files below inherit the group).
Files are created 0600 (the process umask), the config drive 0640: disks, config drives (user
data, admin_pass) and cached bases are never readable by other local users.
"""

from __future__ import annotations

import logging
import os
import pwd
from pathlib import Path

log = logging.getLogger(__name__)

HYPERVISOR_USER = "libvirt-qemu"
SHARED_DIR = 0o2710  # setgid: files and directories made below get the hypervisor's group
SHARED_FILE = 0o640


def hypervisor_gid() -> int | None:
    """The primary group of the user QEMU runs as, or None when that user does not exist."""
    try:
        return pwd.getpwnam(HYPERVISOR_USER).pw_gid
    except KeyError:
        return None


def shared_dir(path: Path, gid: int | None) -> None:
    """Create `path` (and parents) so the hypervisor's group may traverse it and nobody else
    may enter; without a hypervisor user it stays 0700. Idempotent."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if gid is None:
        return
    stat = path.stat()
    if stat.st_gid != gid:
        os.chown(path, -1, gid)
    if stat.st_mode & 0o7777 != SHARED_DIR:
        path.chmod(SHARED_DIR)


def reachable(path: Path, gid: int | None) -> None:
    """Let the hypervisor's group traverse every ancestor of `path` this process owns.

    An ancestor others may already traverse is left alone; one owned by someone else is
    reported, not changed. Grants traversal only (g+x), never reading.
    """
    if gid is None:
        return
    for parent in path.resolve().parents:
        stat = parent.stat()
        if stat.st_mode & 0o001 or (stat.st_gid == gid and stat.st_mode & 0o010):
            continue
        if stat.st_uid != os.geteuid():
            log.warning("%s is not reachable by %s; grant it traversal", parent, HYPERVISOR_USER)
            return
        os.chown(parent, -1, gid)
        parent.chmod((stat.st_mode & 0o7777) | 0o010)


def create_shared_file(path: Path) -> None:
    """Create (or empty) `path` 0640 before anything is written to it, for a writer that opens
    it later without changing its mode (a download, qemu-img convert, the ISO writer)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, SHARED_FILE)
    try:
        os.fchmod(fd, SHARED_FILE)
    finally:
        os.close(fd)


def hand_over(own: list[Path], bases: list[Path]) -> None:
    """Give the hypervisor user a live migration's incoming files before QEMU opens them:
    the instance's own files (disks, console log) become its (still 0600), the cached bases
    they read get group read (0640, the hypervisor's group). A privileged libvirtd would do
    this itself (dynamic_ownership); an unprivileged (session) one cannot."""
    try:
        uid = pwd.getpwnam(HYPERVISOR_USER).pw_uid
    except KeyError:
        return
    for path in own:
        if path.exists():
            os.chown(path, uid, -1)
    for path in bases:
        mode = path.stat().st_mode & 0o7777
        if not mode & 0o040:
            path.chmod(mode | 0o040)
