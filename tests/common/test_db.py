"""The database layer on SQLite and PostgreSQL: migrations, atomic writers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import db as dbmod
from ministack.common.db import Database
from ministack.identity import models as m
from tests.cloud import PG_URL, create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/t.db"
        return
    name = f"ministack_dbtest_{uuid.uuid4().hex[:10]}"
    create_pg_database(name)
    yield f"{PG_URL}/{name}"
    drop_pg_database(f"{PG_URL}/{name}")


def test_upgrade_is_idempotent(url: str) -> None:
    dbmod.upgrade(url)
    dbmod.upgrade(url)

    async def tables() -> set[str]:
        database = Database(url)
        async with database.engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(c.dialect.get_table_names(c)))
        await database.close()
        return names

    names = asyncio.run(tables())
    assert {"services", "identity_users", "identity_projects", "alembic_version"} <= names


async def test_concurrent_writers_never_lose_an_update(url: str) -> None:
    await asyncio.to_thread(dbmod.upgrade, url)
    database = Database(url)
    async with database.writer() as s:
        s.add(m.Revision(id=1, value=0))

    async def bump() -> None:
        async with database.writer() as s:
            if database.is_sqlite:
                row = await s.get(m.Revision, 1)
            else:
                row = (
                    await s.execute(select(m.Revision).where(m.Revision.id == 1).with_for_update())
                ).scalar_one()
            assert row is not None
            row.value = row.value + 1

    await asyncio.gather(*(bump() for _ in range(50)))
    async with database.session() as s:
        assert (await s.execute(text("SELECT value FROM identity_revision"))).scalar() == 50
    await database.close()


async def test_writer_rolls_back_on_error(url: str) -> None:
    await asyncio.to_thread(dbmod.upgrade, url)
    database = Database(url)
    with pytest.raises(RuntimeError):
        async with database.writer() as s:
            s.add(m.Region(id="r-rollback", description=""))
            await s.flush()
            raise RuntimeError("boom")
    async with database.session() as s:
        assert await s.get(m.Region, "r-rollback") is None
    await database.close()


def test_unsupported_database_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        dbmod.async_url("oracle://x@y/z")


async def test_reader_sees_each_commit_at_once_and_cannot_write(url: str) -> None:
    """The inline reader (SQLite) keeps no copy: a read right after a commit sees it, and its
    connections are read-only."""
    await asyncio.to_thread(dbmod.upgrade, url)
    database = Database(url)
    query = select(m.Region.description).where(m.Region.id == "r-read")
    async with database.writer() as s:
        s.add(m.Region(id="r-read", description="first"))
    async with database.reader() as r:
        assert (await r.execute(query)).scalar() == "first"
    async with database.writer() as s:
        region = await s.get(m.Region, "r-read")
        assert region is not None
        region.description = "second"
    async with database.reader() as r:
        assert (await r.execute(query)).scalar() == "second"
    if database.is_sqlite:
        assert isinstance(r, dbmod.InlineReader)
        with pytest.raises(OperationalError, match="readonly"):
            async with database.reader() as r:
                await r.execute(text("DELETE FROM identity_regions"))
    await database.close()


async def test_write_once_and_writers_never_lose_an_update(url: str) -> None:
    """`write_once` (on SQLite: the whole transaction in the writer thread, on its own
    connection) and `writer` transactions interleaved on one row: every bump counts, and a
    failing body leaves nothing."""
    await asyncio.to_thread(dbmod.upgrade, url)
    database = Database(url)
    async with database.writer() as s:
        s.add(m.Revision(id=1, value=0))

    async def bump(s: AsyncSession) -> int:
        if database.is_sqlite:
            row = await s.get(m.Revision, 1)
        else:
            query = select(m.Revision).where(m.Revision.id == 1).with_for_update()
            row = (await s.execute(query)).scalar_one()
        assert row is not None
        row.value = row.value + 1
        await s.flush()
        return int(row.value)

    async def via_writer() -> int:
        async with database.writer() as s:
            return await bump(s)

    got = await asyncio.gather(
        *(database.write_once(bump) if i % 2 else via_writer() for i in range(40))
    )
    assert sorted(got) == list(range(1, 41))

    async def fails(s: AsyncSession) -> None:
        s.add(m.Region(id="r-once", description=""))
        await s.flush()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await database.write_once(fails)
    async with database.session() as s:
        assert await s.get(m.Region, "r-once") is None
        assert (await s.execute(text("SELECT value FROM identity_revision"))).scalar() == 40
    await database.close()


async def test_write_once_refuses_a_body_that_suspends(tmp_path: Path) -> None:
    """On a SQLite file the body runs in the writer thread, driven without an event loop:
    awaiting anything but its session is an error, and what it wrote is rolled back."""
    url = f"sqlite:///{tmp_path}/t.db"
    await asyncio.to_thread(dbmod.upgrade, url)
    database = Database(url)

    async def suspends(s: AsyncSession) -> None:
        s.add(m.Region(id="r-suspends", description=""))
        await s.flush()
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="suspended"):
        await database.write_once(suspends)
    async with database.session() as s:
        assert await s.get(m.Region, "r-suspends") is None
    await database.close()
