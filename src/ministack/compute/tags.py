"""Server tags in the database: loading them for the server views and Nova's four tag
filters of the server list (`tags`: all of them, `tags-any`: any, `not-tags`: not all of
them, `not-tags-any`: none of them; each a comma-separated list)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, func, select

from ministack.common.db import Database
from ministack.compute import models as m

SINCE = (2, 26)
"""The microversion that brought server tags."""


async def tags_of(db: Database, uuids: Iterable[str]) -> dict[str, list[str]]:
    """Each server's tags, sorted (servers without tags are absent)."""
    wanted = list(uuids)
    if not wanted:
        return {}
    out: dict[str, list[str]] = {}
    async with db.session() as s:
        rows = await s.execute(
            select(m.InstanceTag.instance_uuid, m.InstanceTag.tag)
            .where(m.InstanceTag.instance_uuid.in_(wanted))
            .order_by(m.InstanceTag.tag)
        )
        for uuid, tag in rows.tuples():
            out.setdefault(uuid, []).append(tag)
    return out


def _having(tags: list[str]) -> Select[Any]:
    """The uuids of servers that carry every one of `tags`."""
    return (
        select(m.InstanceTag.instance_uuid)
        .where(m.InstanceTag.tag.in_(tags))
        .group_by(m.InstanceTag.instance_uuid)
        .having(func.count(m.InstanceTag.tag.distinct()) == len(set(tags)))
    )


def _any(tags: list[str]) -> Select[Any]:
    return select(m.InstanceTag.instance_uuid).where(m.InstanceTag.tag.in_(tags))


def tag_filters(params: Mapping[str, str], query: Select[Any]) -> Select[Any]:
    """Apply Nova's four tag filters to a query over instances."""
    uuid = m.Instance.uuid
    for key, make, keep in (
        ("tags", _having, True),
        ("tags-any", _any, True),
        ("not-tags", _having, False),
        ("not-tags-any", _any, False),
    ):
        raw = params.get(key)
        if not raw:
            continue
        tags = [t for t in raw.split(",") if t]
        sub = make(tags)
        query = query.where(uuid.in_(sub) if keep else uuid.not_in(sub))
    return query
