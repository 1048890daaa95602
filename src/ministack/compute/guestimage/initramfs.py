"""The guest's initramfs: busybox, dropbear with its libraries, kernel modules and /init.

The cpio archive is written here rather than by cpio(1) so that it needs no root for device
nodes and comes out byte-identical for identical inputs: sorted paths, inode numbers in that
order, uid/gid 0, one fixed mtime, and gzip without a name or timestamp.
"""

from __future__ import annotations

import gzip
import stat
import struct
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ministack.compute.guestimage.kernel import KernelFiles
from ministack.compute.guestimage.tools import GuestImageError, run

FIXED_MTIME = 1_700_000_000  # every file in the archive gets this mtime
LIB_DIR = "lib/x86_64-linux-gnu"
_LIB_SEARCH = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib")
# (path in the package root, path in the guest)
DROPBEAR_PROGRAMS = (
    ("usr/sbin/dropbear", "usr/sbin/dropbear"),
    ("usr/bin/dropbearkey", "usr/bin/dropbearkey"),
    ("usr/bin/dbclient", "usr/bin/dbclient"),
)
EMPTY_DIRS = ("proc", "sys", "dev", "run", "tmp", "mnt", "var/log", "etc/dropbear", "root")


@dataclass(frozen=True)
class Entry:
    mode: int  # st_mode, file type included
    data: bytes = b""  # a file's content or a symlink's target
    rdev: tuple[int, int] = (0, 0)


class Tree:
    """A file tree in memory that serialises to a reproducible cpio (newc) archive."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def _put(self, path: str, entry: Entry) -> None:
        path = str(PurePosixPath(path.strip("/")))
        for parent in reversed(PurePosixPath(path).parents[:-1]):
            if str(parent) not in self.entries:
                self.entries[str(parent)] = Entry(stat.S_IFDIR | 0o755)
        self.entries[path] = entry

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        self._put(path, Entry(stat.S_IFDIR | mode))

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._put(path, Entry(stat.S_IFREG | mode, data))

    def add_symlink(self, path: str, target: str) -> None:
        self._put(path, Entry(stat.S_IFLNK | 0o777, target.encode()))

    def add_char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._put(path, Entry(stat.S_IFCHR | mode, rdev=(major, minor)))

    def cpio(self) -> bytes:
        """The tree as an uncompressed cpio newc archive, in sorted path order."""
        out = bytearray()
        names = sorted(self.entries)
        for inode, name in enumerate(names, start=1):
            entry = self.entries[name]
            nlink = 2 if stat.S_ISDIR(entry.mode) else 1
            _append_member(out, name, entry, inode, nlink)
        _append_member(out, "TRAILER!!!", Entry(0), 0, 1)
        return bytes(out)


def _append_member(out: bytearray, name: str, entry: Entry, inode: int, nlink: int) -> None:
    encoded = name.encode() + b"\x00"
    fields = (
        inode,
        entry.mode,
        0,
        0,
        nlink,
        FIXED_MTIME if inode else 0,
        len(entry.data),
        0,
        0,
        entry.rdev[0],
        entry.rdev[1],
        len(encoded),
        0,
    )
    out += b"070701" + "".join(f"{field:08x}" for field in fields).encode() + encoded
    out += b"\x00" * (-len(out) % 4)
    out += entry.data
    out += b"\x00" * (-len(out) % 4)


def elf_dependencies(data: bytes) -> tuple[str | None, list[str]]:
    """The program interpreter and DT_NEEDED sonames of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise GuestImageError("not a 64-bit little-endian ELF file")
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    interpreter: str | None = None
    dynamic: tuple[int, int] | None = None
    loads: list[tuple[int, int, int]] = []
    for index in range(phnum):
        p_type, _, offset, vaddr, _, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize
        )
        if p_type == 1:  # PT_LOAD
            loads.append((vaddr, offset, filesz))
        elif p_type == 2:  # PT_DYNAMIC
            dynamic = (offset, filesz)
        elif p_type == 3:  # PT_INTERP
            interpreter = data[offset : offset + filesz].rstrip(b"\x00").decode()
    if dynamic is None:
        return interpreter, []
    needed: list[int] = []
    strtab = 0
    for position in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<qQ", data, position)
        if tag == 0:  # DT_NULL
            break
        if tag == 1:  # DT_NEEDED
            needed.append(value)
        elif tag == 5:  # DT_STRTAB, a virtual address
            strtab = value
    base = next((off + strtab - va for va, off, size in loads if va <= strtab < va + size), None)
    if base is None:
        raise GuestImageError("ELF string table lies outside every loaded segment")
    names = [data[base + o : data.index(b"\x00", base + o)].decode() for o in needed]
    return interpreter, names


def resolve_in_root(root: Path, path: str) -> Path:
    """Follow symlinks of path as if root were /, never leaving root."""
    current = PurePosixPath("/", path)
    for _ in range(40):
        host = root / str(current).lstrip("/")
        if not host.is_symlink():
            return host
        target = PurePosixPath(str(host.readlink()))
        current = target if target.is_absolute() else current.parent / target
    raise GuestImageError(f"too many symlinks resolving {path} in {root}")


def _find_library(root: Path, soname: str) -> Path:
    for directory in _LIB_SEARCH:
        candidate = resolve_in_root(root, f"{directory}/{soname}")
        if candidate.is_file():
            return candidate
    raise GuestImageError(f"shared library {soname} is in none of the fetched packages")


def add_program(tree: Tree, root: Path, source: str, dest: str) -> None:
    """Add an ELF program from the unpacked packages, with its whole library closure."""
    pending = [(dest, resolve_in_root(root, source))]
    while pending:
        guest_path, host_path = pending.pop()
        if guest_path in tree.entries:
            continue
        data = host_path.read_bytes()
        tree.add_file(guest_path, data, 0o755)
        interpreter, needed = elf_dependencies(data)
        if interpreter:
            name = PurePosixPath(interpreter).name
            pending.append((f"{LIB_DIR}/{name}", resolve_in_root(root, interpreter)))
            if interpreter.lstrip("/") != f"{LIB_DIR}/{name}":
                tree.add_symlink(interpreter, f"/{LIB_DIR}/{name}")
        pending.extend((f"{LIB_DIR}/{soname}", _find_library(root, soname)) for soname in needed)


def add_busybox(tree: Tree, root: Path) -> None:
    """Add static busybox and a symlink for each of its applets (except over real files)."""
    busybox = resolve_in_root(root, "bin/busybox")
    tree.add_file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in sorted(run([busybox, "--list-full"]).split()):
        if applet.strip("/") not in tree.entries:
            tree.add_symlink(applet, "/bin/busybox")


def add_data_files(tree: Tree, data_dir: Path) -> None:
    """Add rootfs/ as it is and init.sh as /init; scripts (#!) are executable."""
    for path in sorted((data_dir / "rootfs").rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            mode = 0o755 if content.startswith(b"#!") else 0o644
            relative = path.relative_to(data_dir / "rootfs").as_posix()
            tree.add_file(relative, content, 0o600 if relative == "etc/shadow" else mode)
    tree.add_file("init", (data_dir / "init.sh").read_bytes(), 0o755)


def build_initramfs(kernel: KernelFiles, package_root: Path, data_dir: Path) -> bytes:
    """The gzip-compressed initramfs for kernel, from unpacked userspace packages."""
    tree = Tree()
    for directory in EMPTY_DIRS:
        tree.add_dir(directory, 0o700 if directory == "root" else 0o755)
    tree.add_dir("tmp", 0o1777)
    tree.add_char_device("dev/console", 5, 1)
    tree.add_char_device("dev/null", 1, 3, 0o666)
    tree.add_symlink("var/run", "/run")
    for source, dest in DROPBEAR_PROGRAMS:
        add_program(tree, package_root, source, dest)
    tree.add_symlink("usr/bin/ssh", "dbclient")
    add_data_files(tree, data_dir)
    add_busybox(tree, package_root)
    for path in sorted(kernel.modules_root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(kernel.modules_root).as_posix()
            tree.add_file(f"lib/modules/{relative}", path.read_bytes())
    return gzip.compress(tree.cpio(), compresslevel=9, mtime=0)
