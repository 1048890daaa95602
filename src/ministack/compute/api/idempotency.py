"""Optional ``Idempotency-Key`` on POST /servers (PROMISES 10, EC2 client-token semantics): the
same key and body within 24 h return the first response; the same key with another body is
409. Keys are ≤ 64 printable ASCII characters and scoped to the project."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import orjson
from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.db import Database, utcnow
from ministack.compute import models as m

MAX_KEY = 64
KEEP = dt.timedelta(hours=24)


def key_of(request: Request) -> str | None:
    """The request's Idempotency-Key, or None; 400 when malformed."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise errors.BadRequest(
            f"Invalid Idempotency-Key: 1-{MAX_KEY} printable ASCII characters are required."
        )
    return key


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def replay(db: Database, key: str, project_id: str, data: dict[str, Any]) -> Any:
    """The stored response for this key, None when the key is new; 409 on another body."""
    async with db.writer() as s:
        await s.execute(
            delete(m.IdempotencyKey).where(m.IdempotencyKey.created_at < utcnow() - KEEP)
        )
        row = (
            await s.execute(
                select(m.IdempotencyKey).where(
                    m.IdempotencyKey.key == key, m.IdempotencyKey.project_id == project_id
                )
            )
        ).scalar_one_or_none()
    if row is None:
        return None
    if row.body_hash != _digest(data):
        raise errors.Conflict(
            f"Idempotency-Key {key!r} was already used with a different request body."
        )
    return row.response


async def remember(
    db: Database, key: str, project_id: str, data: dict[str, Any], response: Response
) -> None:
    """Keep a successful create's response for replays (a concurrent twin keeps the first)."""
    if response.status_code != 202:
        return
    headers = {"Location": response.headers.get("location", "")}
    stored = {"body": orjson.loads(bytes(response.body)), "headers": headers}
    async with db.writer() as s:
        exists = await s.get(m.IdempotencyKey, (key, project_id))
        if exists is None:
            s.add(
                m.IdempotencyKey(
                    key=key, project_id=project_id, body_hash=_digest(data), response=stored
                )
            )
