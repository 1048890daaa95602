"""Console tokens (compute/consoleauth.py) on SQLite and PostgreSQL with fake time: valid
for the ttl, one connection each (of five racing claims one wins), of one console type."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ministack.common import db as dbmod
from ministack.common.db import Database
from ministack.compute import consoleauth
from ministack.compute.consoleauth import Connection
from ministack.config import ConsoleSection, DefaultSection, Settings
from tests.cloud import PG_URL, create_pg_database, drop_pg_database

WHERE = Connection("6f1c3a0e-1111-4222-8333-944455556666", "novnc", "127.0.0.1", 5901)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.db'}"
    else:
        name = f"ministack_contest_{uuid.uuid4().hex[:10]}"
        create_pg_database(name)
        url = f"{PG_URL}/{name}"
    await asyncio.to_thread(dbmod.upgrade, url)
    database = Database(url)
    try:
        yield database
    finally:
        await database.close()
        if request.param == "postgresql":
            drop_pg_database(url)


async def test_token_lives_its_ttl(database: Database) -> None:
    clock = Clock()
    token = await consoleauth.issue(database, 600, WHERE, clock)
    clock.now += 599
    assert await consoleauth.show(database, token, clock) == WHERE
    clock.now += 1
    assert await consoleauth.show(database, token, clock) is None
    assert await consoleauth.claim(database, token, "novnc", clock) is None


async def test_token_opens_one_connection_of_its_type(database: Database) -> None:
    clock = Clock()
    token = await consoleauth.issue(database, 600, WHERE, clock)
    assert await consoleauth.claim(database, token, "serial", clock) is None
    claims = await asyncio.gather(
        *(consoleauth.claim(database, token, "novnc", clock) for _ in range(5))
    )
    assert claims.count(WHERE) == 1 and claims.count(None) == 4
    assert await consoleauth.show(database, token, clock) == WHERE  # still shown until expiry
    assert await consoleauth.claim(database, "not-a-token", "novnc", clock) is None


async def test_expired_tokens_are_dropped_when_new_ones_are_made(database: Database) -> None:
    clock = Clock()
    old = await consoleauth.issue(database, 1, WHERE, clock)
    clock.now += 5
    await consoleauth.issue(database, 600, WHERE, clock)
    clock.now -= 5  # even back in time the old row is gone
    assert await consoleauth.show(database, old, clock) is None


def test_urls_and_origins() -> None:
    settings = Settings(
        default=DefaultSection(public_host="cloud.example"),
        console=ConsoleSection(allowed_origins=("https://portal.example/",)),
    )
    url = consoleauth.access_url(settings, "novnc", "T")
    assert url == "http://cloud.example:6080/vnc_lite.html?path=%3Ftoken%3DT"
    assert consoleauth.access_url(settings, "serial", "T") == "ws://cloud.example:6083/?token=T"
    assert consoleauth.allowed_origins(settings) == {
        "http://cloud.example:6080",
        "http://cloud.example:6083",
        "http://cloud.example:8000",
        "https://portal.example",
    }
