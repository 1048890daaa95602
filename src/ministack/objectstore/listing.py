"""Container and account listings: prefix, delimiter, marker, end_marker, limit and reverse.

Every query is a range scan of the (container_id, name) or (account, name) index. A delimiter
listing folds the names under a common prefix into one ``subdir`` and then jumps past them
with a new lower (or, reversed, upper) bound instead of reading them, so listing the top level
of a container with a million objects reads a few rows per subdir, not a million.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select

from ministack.objectstore.models import Container, Object

MAX_CODE_POINT = 0x10FFFF
FIRST_BATCH = 16  # rows read at first with a delimiter; doubles while no subdir turns up
MAX_BATCH = 1000


@dataclass(frozen=True)
class Page:
    """One range query of a listing: `columns` of `table` where `scope` = value, the name
    within the bounds (gt < name, ge <= name, name < lt), in name order or reversed."""

    table: Any
    columns: tuple[str, ...]
    scope: tuple[str, Any]
    gt: str
    ge: str
    lt: str | None
    reverse: bool
    limit: int

    def select(self) -> Select[Any]:
        """The page as a SQLAlchemy statement (any backend)."""
        name = self.table.name
        clauses: list[ColumnElement[bool]] = [getattr(self.table, self.scope[0]) == self.scope[1]]
        if self.gt:
            clauses.append(name > self.gt)
        if self.ge:
            clauses.append(name >= self.ge)
        if self.lt is not None:
            clauses.append(name < self.lt)
        columns = [getattr(self.table, c) for c in self.columns]
        order = name.desc() if self.reverse else name
        return select(*columns).where(and_(*clauses)).order_by(order).limit(self.limit)

    def sql(self) -> tuple[str, list[Any]]:
        """The page as SQLite text and parameters (no compile step: used inline)."""
        where, params = [f"{self.scope[0]} = ?"], [self.scope[1]]
        for op, value in ((">", self.gt), (">=", self.ge)):
            if value:
                where.append(f"name {op} ?")
                params.append(value)
        if self.lt is not None:
            where.append("name < ?")
            params.append(self.lt)
        text = (
            f"SELECT {', '.join(self.columns)} FROM {self.table.__tablename__} "
            f"WHERE {' AND '.join(where)} ORDER BY name {'DESC' if self.reverse else 'ASC'} "
            f"LIMIT {int(self.limit)}"
        )
        return text, params


# runs one page and returns its rows (with attribute access by column name)
Runner = Callable[[Page], Awaitable[Sequence[Any]]]


@dataclass(frozen=True)
class ListQuery:
    prefix: str = ""
    delimiter: str = ""
    marker: str = ""
    end_marker: str = ""
    limit: int = 10000
    reverse: bool = False


@dataclass(frozen=True)
class Subdir:
    name: str


def after_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (code point order,
    which is UTF-8 byte order), or None when there is none."""
    trimmed = prefix
    while trimmed:
        last = ord(trimmed[-1])
        if last < MAX_CODE_POINT and not 0xD7FF <= last < 0xDFFF:
            return trimmed[:-1] + chr(last + 1)
        trimmed = trimmed[:-1]
    return None


@dataclass
class _Bounds:
    """The current window of names still to read: gt < name < lt, ge <= name."""

    gt: str = ""
    ge: str = ""
    lt: str | None = None

    def lower_upper(self, upper: str | None) -> None:
        if upper is not None and (self.lt is None or upper < self.lt):
            self.lt = upper


def _bounds(q: ListQuery) -> _Bounds:
    bounds = _Bounds(ge=q.prefix)
    if q.reverse:
        bounds.gt = q.end_marker
        bounds.lower_upper(q.marker or None)
    else:
        bounds.gt = q.marker
        bounds.lower_upper(q.end_marker or None)
        if q.delimiter and q.marker.startswith(q.prefix) and q.marker.endswith(q.delimiter):
            # the marker is a subdir listed on the previous page: skip everything under it
            bounds.ge = max(bounds.ge, after_prefix(q.marker) or bounds.ge)
    if q.prefix:
        bounds.lower_upper(after_prefix(q.prefix))
    return bounds


async def _walk(
    run: Runner, table: Any, scope: tuple[str, Any], columns: tuple[str, ...], q: ListQuery
) -> list[Any]:
    """Rows of `table` in `scope` (name order, or reversed) with subdirs folded in.

    With a delimiter, rows are read in small batches that double while they hold no subdir;
    a subdir moves the bound past its names, so a big subdir costs one short query."""
    bounds = _bounds(q)
    out: list[Any] = []
    batch = FIRST_BATCH
    while len(out) < q.limit:
        want = q.limit - len(out)
        if q.delimiter:
            want = min(want, batch)
        page = Page(table, columns, scope, bounds.gt, bounds.ge, bounds.lt, q.reverse, want)
        rows = await run(page)
        if not q.delimiter:
            out.extend(rows)
            break
        subdir = _fold(rows, q, bounds, out)
        if len(rows) < want:
            break
        batch = FIRST_BATCH if subdir else min(batch * 2, MAX_BATCH)
    return out


def _fold(rows: Sequence[Any], q: ListQuery, bounds: _Bounds, out: list[Any]) -> bool:
    """Add the rows and their subdirs to `out`, moving the bounds past what was read;
    True when a subdir was found in this batch."""
    current: str | None = None
    found = False
    for row in rows:
        if len(out) >= q.limit:
            break
        if current is not None and row.name.startswith(current):
            continue
        rest = row.name[len(q.prefix) :]
        cut = rest.find(q.delimiter)
        if cut < 0:
            out.append(row)
            if q.reverse:
                bounds.lt = row.name
            else:
                bounds.gt = row.name
            continue
        current = q.prefix + rest[: cut + len(q.delimiter)]
        found = True
        out.append(Subdir(current))
        if q.reverse:
            bounds.lt = current
        else:
            past = after_prefix(current)
            if past is None:  # nothing can sort after this subdir's names
                bounds.lt = ""
            else:
                bounds.ge = past
    return found


async def list_objects(run: Runner, container_id: int, q: ListQuery) -> list[Any]:
    """Object rows (name, size, etag, content_type, last_modified, kind) and `Subdir`s."""
    columns = ("name", "size", "etag", "content_type", "last_modified", "kind")
    return await _walk(run, Object, ("container_id", container_id), columns, q)


async def list_containers(run: Runner, account: str, q: ListQuery) -> list[Any]:
    """Container rows (name, object_count, bytes_used, updated_at) and `Subdir`s."""
    columns = ("name", "object_count", "bytes_used", "updated_at")
    return await _walk(run, Container, ("account", account), columns, q)
