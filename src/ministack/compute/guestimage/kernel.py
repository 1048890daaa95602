"""The guest's kernel and the few modules it needs, taken from Debian's linux-image .deb.

Debian's kernel builds virtio, ATA, SCSI, iso9660, vfat and the ACPI button as modules, and the
package ships no modules.dep (depmod makes it at install time), so the dependencies are read
from each module's own .modinfo `depends=` field.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ministack.compute.guestimage.tools import GuestImageError

# What the guest loads at boot (their dependencies come along), in this order.
WANTED_MODULES = (
    # virtio: disks, NICs, memory balloon, entropy
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "virtio_net",
    "virtio_balloon",
    "virtio_rng",
    "e1000",
    # the config drive: cdrom on IDE (pc) or SATA (q35), iso9660 or vfat
    "ata_piix",
    "ahci",
    "sr_mod",
    "sd_mod",
    "isofs",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_utf8",
    # the ACPI power button as an input device, which busybox acpid reads
    "button",
    "evdev",
)

_MODULE_PATH = re.compile(r"^(?:\./)?lib/modules/([^/]+)/(kernel/.+\.ko)$")
_VMLINUZ_PATH = re.compile(r"^(?:\./)?boot/vmlinuz-(.+)$")
_DEPENDS = re.compile(rb"(?:^|\x00)depends=([^\x00]*)")
COMPLETE_MARKER = "kernel.json"


@dataclass(frozen=True)
class KernelFiles:
    """A kernel and its modules laid out as /lib/modules/<release>/ wants them."""

    release: str
    vmlinuz: Path
    modules_root: Path  # holds <release>/kernel/...ko, <release>/modules.dep and load-order
    load_order: tuple[str, ...]  # module paths relative to modules_root, dependencies first


def module_name(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".ko").replace("-", "_")


def _scan(deb: Path, visit: Callable[[tarfile.TarInfo, tarfile.TarFile], None]) -> None:
    """Call visit for every member of the package's filesystem tar, streamed (no temp copy)."""
    proc = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                visit(member, tar)
    except tarfile.TarError as exc:
        raise GuestImageError(f"cannot read {deb}: {exc}") from exc
    finally:
        proc.stdout.close()
        errors = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        proc.wait()
    if proc.returncode != 0:
        raise GuestImageError(f"dpkg-deb --fsys-tarfile {deb} failed: {errors}")


def _read(member: tarfile.TarInfo, tar: tarfile.TarFile) -> bytes:
    file = tar.extractfile(member)
    if file is None:
        raise GuestImageError(f"{member.name} is not a regular file in the kernel package")
    return file.read()


def dependency_order(
    wanted: Iterable[str], depends: dict[str, list[str]], builtin: set[str]
) -> list[str]:
    """Module names to load, each after everything it depends on; built-ins are left out.

    Raises GuestImageError for a module that is neither a module nor built in.
    """
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen or name in builtin:
            return
        if name not in depends:
            via = " <- ".join(chain) or "the wanted list"
            raise GuestImageError(f"kernel module {name} (wanted by {via}) is not in the package")
        seen.add(name)
        for dependency in depends[name]:
            visit(dependency, (name, *chain))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def extract_kernel(deb: Path, dest: Path, wanted: Iterable[str] = WANTED_MODULES) -> KernelFiles:
    """Extract vmlinuz and the wanted modules (with dependencies) from a linux-image .deb.

    Idempotent: a complete dest is reused as it is; an interrupted run leaves only a temp dir.
    """
    if (dest / COMPLETE_MARKER).is_file():
        return _load(dest)
    release = ""
    depends: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    builtin: set[str] = set()

    def index(member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        nonlocal release
        if match := _MODULE_PATH.match(member.name):
            release, name = match.group(1), module_name(match.group(2))
            found = _DEPENDS.search(_read(member, tar))
            listed = found.group(1).decode() if found else ""
            depends[name] = [dep.replace("-", "_") for dep in listed.split(",") if dep]
            paths[name] = match.group(2)
        elif member.name.endswith("/modules.builtin"):
            lines = _read(member, tar).decode().splitlines()
            builtin.update(module_name(line) for line in lines if line)

    _scan(deb, index)
    if not release:
        raise GuestImageError(f"{deb} holds no kernel modules: is it a linux-image package?")
    order = dependency_order(wanted, depends, builtin)
    selected = {f"lib/modules/{release}/{paths[name]}": name for name in order}

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        work = Path(tmp)

        def extract(member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
            name = member.name.removeprefix("./")
            if name in selected:
                target = work / "modules" / name.removeprefix("lib/modules/")
            elif _VMLINUZ_PATH.match(name):
                target = work / "vmlinuz"
            else:
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_read(member, tar))

        _scan(deb, extract)
        if not (work / "vmlinuz").is_file():
            raise GuestImageError(f"{deb} holds no boot/vmlinuz-*")
        load_order = [f"{release}/{paths[name]}" for name in order]
        (work / "modules" / release / "modules.dep").write_text(
            "".join(
                f"{paths[name]}: {' '.join(paths[dep] for dep in depends[name] if dep in paths)}\n"
                for name in order
            )
        )
        (work / "modules" / "load-order").write_text("".join(f"{p}\n" for p in load_order))
        (work / COMPLETE_MARKER).write_text(
            json.dumps({"release": release, "load_order": load_order}, indent=1) + "\n"
        )
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(work, dest)
        work.mkdir()  # TemporaryDirectory cleans up the (now empty) path it created
    return _load(dest)


def _load(dest: Path) -> KernelFiles:
    info = json.loads((dest / COMPLETE_MARKER).read_text())
    return KernelFiles(
        release=info["release"],
        vmlinuz=dest / "vmlinuz",
        modules_root=dest / "modules",
        load_order=tuple(info["load_order"]),
    )
