"""What a cloud holds, for "nothing was created" checks: row counts of every table (the
reading `tests/nothing_made.py` takes) and the files of the image store."""

from __future__ import annotations

from pathlib import Path

from tests.cloud import Cloud
from tests.nothing_made import row_counts

__all__ = ["grown", "row_counts", "store_files"]


def store_files(cloud: Cloud) -> set[str]:
    """Every file under the image store (data, staging and spool areas)."""
    root: Path = cloud.state_dir / "images"
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Tables with more rows after than before."""
    return {t: (before.get(t, 0), n) for t, n in after.items() if n > before.get(t, 0)}
