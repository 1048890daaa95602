"""Pagination (limit/marker) and simple equality filters, as the OpenStack APIs do them.

`limit` is capped at MAX_LIMIT; `marker` is the id of the last item of the previous page and
an unknown marker is a 400 (Nova, Neutron, Glance) so clients do not loop forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ministack.common import errors

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    limit: int | None
    marker: str | None


def parse_page(params: Mapping[str, str], max_limit: int = MAX_LIMIT) -> Page:
    """Read limit and marker; 400 when limit is not a non-negative integer."""
    raw = params.get("limit")
    limit = None
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError:
            raise errors.BadRequest(f"Invalid limit {raw!r}: an integer is required.") from None
        if limit < 0:
            raise errors.BadRequest(f"Invalid limit {raw!r}: must be 0 or more.")
        limit = min(limit, max_limit)
    return Page(limit=limit, marker=params.get("marker") or None)


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    page: Page,
    id_col: InstrumentedAttribute[Any],
    sort_col: InstrumentedAttribute[Any] | None = None,
    descending: bool = False,
) -> Select[Any]:
    """Order `query` by (sort_col, id) and start after the marker's row; apply the limit."""
    sort_col = sort_col if sort_col is not None else id_col
    if descending:
        query = query.order_by(sort_col.desc(), id_col.desc())
    else:
        query = query.order_by(sort_col.asc(), id_col.asc())
    if page.marker is not None:
        marker_value = (
            await session.execute(select(sort_col).where(id_col == page.marker))
        ).first()
        if marker_value is None:
            raise errors.BadRequest(f"Marker {page.marker} could not be found.")
        value = marker_value[0]
        after = sort_col < value if descending else sort_col > value
        tie = id_col < page.marker if descending else id_col > page.marker
        query = query.where(or_(after, and_(sort_col == value, tie)))
    if page.limit is not None:
        query = query.limit(page.limit)
    return query


def bool_param(value: str | None, name: str) -> bool | None:
    """Parse a boolean query parameter; 400 when it is not one."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise errors.BadRequest(f"Invalid value {value!r} for '{name}': expected true or false.")
