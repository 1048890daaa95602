"""The guest test image `ministack-test`: a CirrOS-like VM built from Debian packages.

Where it sits: installation registers it with the image service, and the libvirt driver's
tests and end-to-end tests boot it under QEMU (TCG here). It needs no internet: the kernel,
busybox and dropbear come from the host's apt (`apt-get download`, cached as .debs).

The image is one qcow2 disk that SeaBIOS boots on its own (MBR -> syslinux on a FAT partition
-> Debian's kernel + an initramfs), console on ttyS0; it needs at least 96 MiB of memory.
Its /init (init.sh) loads the virtio, ATA and filesystem modules, runs DHCP on every NIC (and
on NICs attached later), reads the config drive (label config-2, iso9660 or vfat) or else the
metadata service at 169.254.169.254, sets the hostname, installs the public keys for root,
starts dropbear on port 22, runs user data that starts with #!, prints

    === ministack-test ready: hostname=<name> ip=<address or none> ===

and hands over to busybox init: a root shell on ttyS0 after Enter, `poweroff` and `reboot`,
and a clean power-off on the ACPI power button (busybox acpid).

Builds are idempotent and reproducible: a digest of every input (package versions and hashes,
the files of this folder) is kept beside the image, and an unchanged build returns the cached
image in about a second. Identical inputs give a byte-identical image.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ministack.compute.guestimage.debs import (
    DebPackage,
    fetch_packages,
    resolve_packages,
)
from ministack.compute.guestimage.disk import make_boot_disk
from ministack.compute.guestimage.initramfs import build_initramfs
from ministack.compute.guestimage.kernel import WANTED_MODULES, extract_kernel
from ministack.compute.guestimage.tools import GuestImageError, require_tools, run

__all__ = [
    "BANNER_PREFIX",
    "DEFAULT_CACHE_DIR",
    "IMAGE_FILE",
    "IMAGE_NAME",
    "GuestImageError",
    "build_test_image",
]

IMAGE_NAME = "ministack-test"
IMAGE_FILE = f"{IMAGE_NAME}.qcow2"
DEFAULT_CACHE_DIR = Path("/var/cache/ministack/guestimage")
BANNER_PREFIX = "=== ministack-test ready:"
DATA_DIR = Path(__file__).resolve().parent
STAMP_SUFFIX = ".inputs"
BUILD_FORMAT = "1"  # bump to force a rebuild when something outside DATA_DIR changes


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on path: concurrent builds into one cache run one at a time."""
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _source_files() -> list[Path]:
    """The files of this folder that shape the image (code, init.sh, rootfs/)."""
    return sorted(
        path
        for path in DATA_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.name != "__main__.py"
    )


def input_digest(packages: list[DebPackage]) -> str:
    """A digest of everything the image is made from: equal digests, identical images."""
    digest = hashlib.sha256(f"format {BUILD_FORMAT}\n".encode())
    for package in packages:
        digest.update(f"deb {package.name} {package.version} {package.sha256}\n".encode())
    digest.update(f"modules {' '.join(WANTED_MODULES)}\n".encode())
    for path in _source_files():
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(f"file {path.relative_to(DATA_DIR).as_posix()} {content}\n".encode())
    return digest.hexdigest()


def _prune(directory: Path, keep: set[str]) -> None:
    """Remove the entries of directory not named in keep (superseded package versions)."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name in keep or entry.name.startswith("."):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _remove_stale_temporaries(cache_dir: Path) -> None:
    """Remove scratch left by a build that was killed (callers hold the cache lock)."""
    for pattern in (".build-*", "debs/.download-*", "kernel/.*-*", f".{IMAGE_FILE}.partial"):
        for path in cache_dir.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def build_test_image(cache_dir: Path) -> Path:
    """Build the ministack-test qcow2 image in cache_dir, or reuse it, and return its path.

    Idempotent: with unchanged inputs the cached image is returned as it is. The .debs, the
    extracted kernel modules and the image are all kept in cache_dir; a failed build leaves
    the previous image (if any) in place and no partial files. Raises GuestImageError with a
    message saying what to do (e.g. run scripts/install-guest-deps.sh).
    """
    require_tools()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    image = cache_dir / IMAGE_FILE
    stamp = cache_dir / f"{IMAGE_FILE}{STAMP_SUFFIX}"
    with _locked(cache_dir / ".lock"):
        packages = resolve_packages(cache_dir)
        key = input_digest(packages)
        if image.is_file() and stamp.is_file() and stamp.read_text().strip() == key:
            return image
        stamp.unlink(missing_ok=True)
        _remove_stale_temporaries(cache_dir)
        debs = fetch_packages(packages, cache_dir / "debs")
        kernel_package = next((p for p in packages if p.is_kernel), None)
        if kernel_package is None:
            raise GuestImageError("no linux-image package among the resolved packages")
        modules_key = hashlib.sha256(" ".join(WANTED_MODULES).encode()).hexdigest()[:8]
        kernel_dir = f"{kernel_package.sha256[:16]}-{modules_key}"
        kernel = extract_kernel(debs[kernel_package.name], cache_dir / "kernel" / kernel_dir)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as tmp:
            work = Path(tmp)
            package_root = work / "packages"
            for package in packages:
                if not package.is_kernel:
                    run(["dpkg-deb", "-x", debs[package.name], package_root])
            initrd = work / "initrd.gz"
            initrd.write_bytes(build_initramfs(kernel, package_root, DATA_DIR))
            vmlinuz = work / "vmlinuz"
            shutil.copyfile(kernel.vmlinuz, vmlinuz)
            make_boot_disk(vmlinuz, initrd, image, work)
        stamp.write_text(key + "\n")
        _prune(cache_dir / "debs", {package.filename for package in packages})
        _prune(cache_dir / "kernel", {kernel_dir})
    return image
