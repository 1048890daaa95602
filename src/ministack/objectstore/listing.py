"""Container and account listings: prefix, delimiter, marker, end_marker, limit and reverse.

Every query is a range scan of the (container_id, name) or (account, name) index. A delimiter
listing folds the names under a common prefix into one ``subdir`` and then jumps past them
with a new lower (or, reversed, upper) bound instead of reading them, so listing the top level
of a container with a million objects reads a few rows per subdir, not a million.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.objectstore.models import Container, Object

MAX_CODE_POINT = 0x10FFFF


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

    def clauses(self, column: Any) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.gt:
            out.append(column > self.gt)
        if self.ge:
            out.append(column >= self.ge)
        if self.lt is not None:
            out.append(column < self.lt)
        return out

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
    s: AsyncSession, table: Any, scope: ColumnElement[bool], columns: list[Any], q: ListQuery
) -> list[Any]:
    """Rows of `table` in `scope` (name order, or reversed) with subdirs folded in."""
    bounds = _bounds(q)
    out: list[Any] = []
    order = table.name.desc() if q.reverse else table.name
    while len(out) < q.limit:
        want = q.limit - len(out)
        stmt = select(*columns).where(and_(scope, *bounds.clauses(table.name)))
        rows = (await s.execute(stmt.order_by(order).limit(want))).all()
        if not rows:
            break
        if not q.delimiter:
            out.extend(rows)
            break
        jumped = False
        for row in rows:
            rest = row.name[len(q.prefix) :]
            cut = rest.find(q.delimiter)
            if cut < 0:
                out.append(row)
                if q.reverse:
                    bounds.lt = row.name
                else:
                    bounds.gt = row.name
                if len(out) >= q.limit:
                    break
                continue
            subdir = q.prefix + rest[: cut + len(q.delimiter)]
            out.append(Subdir(subdir))
            if q.reverse:
                bounds.lt = subdir
            else:
                past = after_prefix(subdir)
                if past is None:
                    return out
                bounds.ge = past
            jumped = True
            break  # the rest of this batch may lie under the subdir: read on from the bound
        if not jumped and len(rows) < want:
            break
    return out


async def list_objects(s: AsyncSession, container_id: int, q: ListQuery) -> list[Any]:
    """Object rows (name, size, etag, content_type, last_modified, kind) and `Subdir`s."""
    columns = [
        Object.name,
        Object.size,
        Object.etag,
        Object.content_type,
        Object.last_modified,
        Object.kind,
    ]
    return await _walk(s, Object, Object.container_id == container_id, columns, q)


async def list_containers(s: AsyncSession, account: str, q: ListQuery) -> list[Any]:
    """Container rows (name, object_count, bytes_used, updated_at) and `Subdir`s."""
    columns = [Container.name, Container.object_count, Container.bytes_used, Container.updated_at]
    return await _walk(s, Container, Container.account == account, columns, q)
