"""The all-in-one process's pid file: written by `ministack up`, read by `status`, `down` and
`doctor`."""

from __future__ import annotations

import os
from pathlib import Path

from ministack.config import Settings


def pid_file(settings: Settings) -> Path:
    """Where `ministack up` records the all-in-one process's pid."""
    return settings.state_path / "ministack.pid"


def running_pid(settings: Settings) -> int | None:
    """The pid of the running all-in-one process, or None (a stale pid file is ignored)."""
    try:
        pid = int(pid_file(settings).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
