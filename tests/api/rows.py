"""What a cloud holds, for "nothing was created" checks: row counts of every table and the
files of the image store, read from the state directory (SQLite) while the cloud runs."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from tests.cloud import Cloud

# rows that a running cloud adds on its own (none known today; heartbeats update in place)
CHURNING: frozenset[str] = frozenset()


def row_counts(cloud: Cloud) -> dict[str, int]:
    """{table: rows} for every table of the cloud's database (SQLite or PostgreSQL)."""
    if cloud.database_url:
        return _pg_counts(cloud.database_url)
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


def _psql(url: str, sql: str) -> list[str]:
    out = subprocess.run(
        ["psql", url, "-At", "-F", "\t", "-c", sql],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in out.stdout.splitlines() if line]


def _pg_counts(url: str) -> dict[str, int]:
    tables = [
        t
        for t in _psql(
            url,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE'",
        )
        if t not in CHURNING and t != "alembic_version"
    ]
    if not tables:
        return {}
    union = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)
    return {name: int(n) for name, n in (line.split("\t") for line in _psql(url, union))}
