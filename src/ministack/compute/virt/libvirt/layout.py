"""Where one instance's files live on the host, and what its disk.info records.

Everything an instance owns is under `<instances_path>/<uuid>/`, so `destroy` removes it with
one rmtree: the root overlay `disk`, `disk.eph0`, `disk.swap`, the config drive `disk.config`,
the serial log `console.log` and `disk.info` (JSON naming the cached bases it depends on, read
by the image cache's pruning).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InstanceLayout:
    directory: Path

    @property
    def root(self) -> Path:
        return self.directory / "disk"

    @property
    def ephemeral(self) -> Path:
        return self.directory / "disk.eph0"

    @property
    def swap(self) -> Path:
        return self.directory / "disk.swap"

    @property
    def config_drive(self) -> Path:
        return self.directory / "disk.config"

    @property
    def console_log(self) -> Path:
        return self.directory / "console.log"

    @property
    def info(self) -> Path:
        return self.directory / "disk.info"

    def write_info(self, record: dict[str, str]) -> None:
        self.info.write_text(json.dumps(record, sort_keys=True))

    def read_info(self) -> dict[str, str]:
        """The disk.info record; empty when missing or unreadable."""
        try:
            record: dict[str, str] = json.loads(self.info.read_text())
        except (OSError, ValueError):
            return {}
        return record


def bases_in_use(instances_path: Path) -> set[Path]:
    """Every cached file some instance under `instances_path` still depends on."""
    used: set[Path] = set()
    if not instances_path.is_dir():
        return used
    for entry in instances_path.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        record = InstanceLayout(entry).read_info()
        used.update(Path(record[key]) for key in ("base", "kernel", "ramdisk") if record.get(key))
    return used
