"""Neutron's list semantics for every collection: filters, tag filters, sort_key/sort_dir,
limit/marker (with page_reverse) and the `<resources>_links` of a page, and `fields=`.

Where it sits: each resource's list handler builds its visible query and a `Kind` (which query
parameters filter which column, which columns sort), and calls `page`; `project_fields`
trims rendered bodies to the asked `fields`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from starlette.datastructures import QueryParams

from ministack.common import errors
from ministack.network import models as m

MAX_LIMIT = 1000
NOT_FILTERS = frozenset(
    {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tenant_id"}
)
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
TRUE_WORDS = {"true", "1", "yes", "on", "t", "y"}
FALSE_WORDS = {"false", "0", "no", "off", "f", "n"}

Column = InstrumentedAttribute[Any]


@dataclass(frozen=True)
class Kind:
    """One collection as the list machinery sees it."""

    model: Any
    collection: str
    filters: Mapping[str, Column]
    sorts: Mapping[str, Column]
    bools: frozenset[str] = frozenset()
    ints: frozenset[str] = frozenset()
    # query parameters whose filter the resource applies itself (e.g. ports' fixed_ips)
    custom: frozenset[str] = field(default_factory=frozenset)


def to_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise errors.BadRequest(f"Invalid input for {name}. Reason: '{value}' is not a valid boolean.")


def _values(kind: Kind, name: str, raw: list[str]) -> list[Any]:
    if name in kind.bools:
        return [to_bool(v, name) for v in raw]
    if name in kind.ints:
        try:
            return [int(v) for v in raw]
        except ValueError:
            raise errors.BadRequest(
                f"Invalid input for {name}. Reason: '{raw[0]}' is not an integer."
            ) from None
    return raw


def apply_filters(kind: Kind, query: Select[Any], params: QueryParams) -> Select[Any]:
    """Equality filters (a repeated key means any of the values) and tag filters; 400 for a
    key that is not an attribute of the resource (Neutron's filter-validation)."""
    for name in dict.fromkeys(params.keys()):
        raw = params.getlist(name)
        if name in NOT_FILTERS or name in kind.custom:
            continue
        if name == "project_id" or name == "tenant_id":
            query = query.where(kind.model.project_id.in_(raw))
        elif name in TAG_FILTERS:
            query = _tag_filter(kind, query, name, raw)
        elif name in kind.filters:
            column = kind.filters[name]
            values = _values(kind, name, raw)
            query = query.where(column.in_(values))
        else:
            raise errors.BadRequest(f"[{name}] is invalid attribute for filtering")
    if "tenant_id" in params and "project_id" not in params:
        query = query.where(kind.model.project_id.in_(params.getlist("tenant_id")))
    return query


def _tag_filter(kind: Kind, query: Select[Any], name: str, raw: list[str]) -> Select[Any]:
    tags = [t for value in raw for t in value.split(",") if t]
    tagged = select(m.Tag.resource_id)
    if name in ("tags", "not-tags"):
        clauses = [kind.model.id.in_(tagged.where(m.Tag.tag == t)) for t in tags]
        cond = and_(true(), *clauses)
    else:
        cond = kind.model.id.in_(tagged.where(m.Tag.tag.in_(tags))) if tags else false()
    return query.where(~cond if name.startswith("not-") else cond)


@dataclass(frozen=True)
class Sort:
    keys: list[tuple[Column, bool]]  # (column, descending)


def parse_sort(kind: Kind, params: QueryParams) -> Sort:
    keys = params.getlist("sort_key")
    dirs = params.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise errors.BadRequest("The number of sort_keys and sort_dirs must be same")
    out = []
    for i, key in enumerate(keys):
        if key not in kind.sorts:
            raise errors.BadRequest(f"{key} is an invalid attribute for sort_keys")
        direction = dirs[i] if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"{direction} is an invalid value for sort_dirs")
        out.append((kind.sorts[key], direction == "desc"))
    return Sort(out)


def parse_limit(params: QueryParams) -> int | None:
    raw = params.get("limit")
    if raw is None:
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise errors.BadRequest(
            f"Bad limit request: Limit must be an integer, got '{raw}'."
        ) from None
    if limit < 0:
        raise errors.BadRequest(f"Bad limit request: Limit must be >= 0, got '{raw}'.")
    return min(limit, MAX_LIMIT) or None


async def _after_marker(
    s: AsyncSession, kind: Kind, query: Select[Any], keys: list[tuple[Column, bool]], marker: str
) -> Select[Any]:
    columns = [c for c, _ in keys]
    found = (await s.execute(select(*columns).where(kind.model.id == marker))).first()
    if found is None:
        raise errors.NotFound(
            f"Marker {marker} could not be found.", kind=f"{kind.model.__name__}NotFound"
        )
    clauses = []
    for i, (column, desc) in enumerate(keys):
        equal = [c == found[j] for j, (c, _) in enumerate(keys[:i])]
        beyond = column < found[i] if desc else column > found[i]
        clauses.append(and_(*equal, beyond))
    return query.where(or_(*clauses))


def check(kind: Kind, params: QueryParams) -> None:
    """400 for a bad filter, sort or limit, before anything else runs (a refused list makes
    nothing, not even a project's default security group)."""
    apply_filters(kind, select(kind.model), params)
    parse_sort(kind, params)
    parse_limit(params)


@dataclass
class Page:
    rows: list[Any]
    links: list[dict[str, str]] | None


async def page(
    s: AsyncSession, kind: Kind, query: Select[Any], params: QueryParams, url: str
) -> Page:
    """Run `query` (already limited to what the caller may see) with the request's filters,
    sort and page; `url` is the collection's URL for the links."""
    query = apply_filters(kind, query, params)
    sort = parse_sort(kind, params)
    keys = [*sort.keys, (kind.model.id, sort.keys[-1][1] if sort.keys else False)]
    limit = parse_limit(params)
    marker = params.get("marker")
    reverse = params.get("page_reverse", "false").lower() == "true"
    walk = [(c, not d) for c, d in keys] if reverse else keys
    if marker and limit:
        query = await _after_marker(s, kind, query, walk, marker)
    query = query.order_by(*[c.desc() if d else c.asc() for c, d in walk])
    if limit:
        query = query.limit(limit)
    rows = list((await s.execute(query)).scalars().unique())
    if reverse:
        rows.reverse()
    links = _links(params, url, rows, limit, marker, reverse) if limit else None
    return Page(rows, links)


def _links(
    params: QueryParams,
    url: str,
    rows: Sequence[Any],
    limit: int,
    marker: str | None,
    reverse: bool,
) -> list[dict[str, str]]:
    """Neutron's links: `next` after a full page, `previous` when a marker was given."""
    base = [(k, v) for k, v in params.multi_items() if k not in ("marker", "page_reverse")]
    links = []
    if rows and len(rows) >= limit:
        links.append(
            {"rel": "next", "href": f"{url}?{urlencode([*base, ('marker', rows[-1].id)])}"}
        )
    if rows and marker:
        back = urlencode([*base, ("marker", rows[0].id), ("page_reverse", "True")])
        links.append({"rel": "previous", "href": f"{url}?{back}"})
    return links


def project_fields(item: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The item trimmed to `fields` (all when none are asked)."""
    wanted = [f for value in fields for f in value.split(",") if f]
    if not wanted:
        return item
    return {k: v for k, v in item.items() if k in wanted}


def render_list(
    collection: str,
    items: list[dict[str, Any]],
    params: QueryParams,
    links: list[dict[str, str]] | None,
) -> dict[str, Any]:
    fields = params.getlist("fields")
    body: dict[str, Any] = {collection: [project_fields(i, fields) for i in items]}
    if links is not None:
        body[f"{collection}_links"] = links
    return body


Renderer = Callable[[Any], dict[str, Any]]
