"""Loads what a volume's view needs (type names, metadata, attachments) for one or many rows
in a few queries, and renders them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from ministack.common.auth import Auth
from ministack.volume import models as m
from ministack.volume.api import views


async def volumes(
    s: AsyncSession, request: Request, auth: Auth, rows: list[m.Volume]
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    types = {
        t.id: t.name
        for t in (
            await s.execute(
                select(m.VolumeType).where(m.VolumeType.id.in_({r.volume_type_id for r in rows}))
            )
        ).scalars()
    }
    meta: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for item in (
        await s.execute(select(m.VolumeMetadata).where(m.VolumeMetadata.volume_id.in_(ids)))
    ).scalars():
        meta[(item.volume_id, item.kind)][item.key] = item.value
    atts: dict[str, list[m.Attachment]] = defaultdict(list)
    for att in (
        await s.execute(select(m.Attachment).where(m.Attachment.volume_id.in_(ids)))
    ).scalars():
        atts[att.volume_id].append(att)
    return [
        views.volume(
            request,
            auth,
            r,
            type_name=types.get(r.volume_type_id, r.volume_type_id),
            meta={**meta[(r.id, "user")], **meta[(r.id, "admin")]},
            image_meta=meta[(r.id, "image")],
            attachments=atts[r.id],
        )
        for r in rows
    ]


async def volume(s: AsyncSession, request: Request, auth: Auth, row: m.Volume) -> dict[str, Any]:
    return (await volumes(s, request, auth, [row]))[0]
