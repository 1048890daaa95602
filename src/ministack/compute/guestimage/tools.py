"""Host tools the guest image build runs, and the one error it raises."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

INSTALL_HINT = "run scripts/install-guest-deps.sh (as root) to install what is missing"

# Every host program the build runs; each comes from Debian (see scripts/install-guest-deps.sh).
BUILD_TOOLS = ("apt-cache", "apt-get", "dpkg-deb", "mformat", "mcopy", "syslinux", "qemu-img")
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")


class GuestImageError(Exception):
    """The guest test image could not be built; the message says what to do."""


def require_tools(tools: Sequence[str] = BUILD_TOOLS) -> None:
    """Raise GuestImageError naming every missing program (and syslinux's MBR)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not SYSLINUX_MBR.is_file():
        missing.append(str(SYSLINUX_MBR))
    if missing:
        raise GuestImageError(f"missing {', '.join(missing)}: {INSTALL_HINT}")


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a program to completion and return its stdout.

    Raises GuestImageError with the command and its stderr when it is missing or fails.
    """
    args = [str(arg) for arg in argv]
    try:
        done = subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise GuestImageError(f"{args[0]} is not installed: {INSTALL_HINT}") from exc
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip()
        raise GuestImageError(
            f"{' '.join(args)} failed with exit status {exc.returncode}: {detail}"
        ) from exc
    return done.stdout
