"""The Debian packages the guest image is made from: resolved with apt-cache, kept as .deb files.

Only packages the host's apt already knows are used, so the build needs no network beyond the
Debian mirror apt is configured with, and none at all once the .debs are in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ministack.compute.guestimage.tools import GuestImageError, run

KERNEL_META_PACKAGE = "linux-image-amd64"
# busybox and dropbear, plus the shared libraries dropbear's binaries link against.
USERSPACE_PACKAGES = (
    "busybox-static",
    "dropbear-bin",
    "libc6",
    "libcrypt1",
    "libgmp10",
    "libtomcrypt1",
    "libtommath1",
    "zlib1g",
)
MANIFEST_NAME = "packages.json"
APT_LISTS = Path("/var/lib/apt/lists")
_KERNEL_NAME = re.compile(r"\blinux-image-\d[^\s,()|]*-amd64\b")


@dataclass(frozen=True)
class DebPackage:
    """One exact version of a Debian package, as apt's index describes it."""

    name: str
    version: str
    filename: str  # the pool file's base name, which is also its name in the cache
    sha256: str

    @property
    def is_kernel(self) -> bool:
        return self.name.startswith("linux-image-")


def parse_apt_records(text: str) -> list[dict[str, str]]:
    """Split `apt-cache show` output into one dict of fields per package record."""
    records: list[dict[str, str]] = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            records.append(fields)
    return records


def _show(names: list[str]) -> list[DebPackage]:
    text = run(["apt-cache", "show", "--no-all-versions", *names])
    packages = []
    for fields in parse_apt_records(text):
        try:
            packages.append(
                DebPackage(
                    name=fields["Package"],
                    version=fields["Version"],
                    filename=fields["Filename"].rsplit("/", 1)[-1],
                    sha256=fields["SHA256"],
                )
            )
        except KeyError as exc:
            raise GuestImageError(f"apt-cache show gave a record without {exc}") from exc
    found = {package.name for package in packages}
    if missing := [name for name in names if name not in found]:
        raise GuestImageError(f"apt-cache knows no package {', '.join(missing)}")
    return sorted(packages, key=lambda package: package.name)


def _kernel_package_name() -> str:
    """The exact kernel package linux-image-amd64 points at (e.g. linux-image-6.1.0-56-amd64).

    Asking for that one name keeps `apt-get download` from fetching every kernel version.
    """
    fields = parse_apt_records(run(["apt-cache", "show", "--no-all-versions", KERNEL_META_PACKAGE]))
    depends = fields[0].get("Depends", "") if fields else ""
    match = _KERNEL_NAME.search(depends)
    if match is None:
        raise GuestImageError(f"cannot find the kernel package in {KERNEL_META_PACKAGE}'s Depends")
    return match.group(0)


def apt_lists_fingerprint(lists_dir: Path = APT_LISTS) -> str:
    """Changes whenever `apt-get update` changes the package lists apt-cache answers from."""
    digest = hashlib.sha256()
    try:
        entries = sorted(lists_dir.iterdir())
    except OSError:
        return ""
    for entry in entries:
        if entry.is_file() and entry.name != "lock":
            info = entry.stat()
            digest.update(f"{entry.name} {info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _load_manifest(cache_dir: Path) -> tuple[str, list[DebPackage]] | None:
    """(apt lists fingerprint, packages) as resolved last time, if readable."""
    try:
        manifest = json.loads((cache_dir / MANIFEST_NAME).read_text())
        packages = [DebPackage(**row) for row in manifest["packages"]]
        return str(manifest["apt_lists"]), packages
    except (OSError, ValueError, TypeError, KeyError):
        return None


def resolve_packages(cache_dir: Path) -> list[DebPackage]:
    """The candidate versions of the kernel and userspace packages, sorted by name.

    The answer is kept in the cache and reused while apt's package lists are unchanged (asking
    apt-cache costs about a second). When apt-cache cannot answer (no package lists), the last
    answer is used if all of its .debs are still cached; otherwise raises GuestImageError.
    """
    fingerprint = apt_lists_fingerprint()
    previous = _load_manifest(cache_dir)
    if previous is not None and fingerprint and previous[0] == fingerprint:
        return previous[1]
    try:
        packages = _show([_kernel_package_name(), *USERSPACE_PACKAGES])
    except GuestImageError as exc:
        debs = cache_dir / "debs"
        if previous and all((debs / package.filename).is_file() for package in previous[1]):
            return previous[1]
        raise GuestImageError(
            f"{exc} (run `apt-get update` so apt knows Debian's packages)"
        ) from exc
    manifest = {"apt_lists": fingerprint, "packages": [asdict(package) for package in packages]}
    (cache_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
    return packages


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_packages(packages: list[DebPackage], deb_dir: Path) -> dict[str, Path]:
    """Path of each package's .deb in deb_dir (by package name), downloading the missing ones.

    Downloads are checked against apt's SHA256 and land under their final name only when
    complete, so an interrupted fetch never leaves a bad .deb behind.
    """
    deb_dir.mkdir(parents=True, exist_ok=True)
    missing = [package for package in packages if not (deb_dir / package.filename).is_file()]
    if missing:
        with tempfile.TemporaryDirectory(dir=deb_dir, prefix=".download-") as tmp:
            specs = [f"{package.name}={package.version}" for package in missing]
            run(
                ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *specs],
                cwd=Path(tmp),
            )
            by_digest = {sha256_file(path): path for path in Path(tmp).glob("*.deb")}
            for package in missing:
                downloaded = by_digest.get(package.sha256)
                if downloaded is None:
                    raise GuestImageError(
                        f"apt-get download gave no file matching {package.name} "
                        f"{package.version} (SHA256 {package.sha256})"
                    )
                os.replace(downloaded, deb_dir / package.filename)
    return {package.name: deb_dir / package.filename for package in packages}
