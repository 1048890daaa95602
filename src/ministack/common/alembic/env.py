"""Alembic environment: runs each service's revisions against the configured database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from ministack.common.db import Database


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    db = Database(context.config.attributes["database_url"])
    async with db.engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await db.close()


asyncio.run(_main())
