"""What a cloud holds, for "nothing was created" checks: row counts of every table and the
files of the image store, read from the state directory (SQLite) while the cloud runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cloud import Cloud

# rows that a running cloud adds on its own (none known today; heartbeats update in place)
CHURNING: frozenset[str] = frozenset()


def row_counts(cloud: Cloud) -> dict[str, int]:
    """{table: rows} for every table of the cloud's SQLite database."""
    path = cloud.state_dir / "ministack.db"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            if name not in CHURNING and name != "alembic_version"
        ]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        db.close()


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
