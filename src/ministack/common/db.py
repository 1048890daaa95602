"""The database layer: one async SQLAlchemy engine per process, sessions, and migrations.

SQLite (WAL) is the embedded default; PostgreSQL and MariaDB are chosen by URL. Write
transactions on SQLite start with ``BEGIN IMMEDIATE`` so concurrent writers queue on the lock
instead of failing, which keeps claims (quotas, allocations, addresses) atomic on every backend.
Hot reads may use ``reader()``: on SQLite it reads inline, without aiosqlite's thread hops;
a hot write may use ``write_once()``: on SQLite its whole transaction is one thread hop.
Each service keeps its tables in ``<service>/models.py`` and its Alembic revisions in
``<service>/migrations/`` on a branch labelled with the service name.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Engine, MetaData, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql import Executable

from ministack.common import files

MIGRATION_SERVICES = (
    "common",
    "identity",
    "image",
    "compute",
    "placement",
    "network",
    "volume",
    "objectstore",
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> dt.datetime:
    """Now, in UTC, without tzinfo (stored the same way on every backend)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def new_id() -> str:
    """A Keystone-style id: 32 hex characters."""
    return uuid.uuid4().hex


def async_url(url: str) -> str:
    """Map a plain database URL to the async driver ministack uses for it."""
    parsed = make_url(url)
    drivers = {"sqlite": "aiosqlite", "postgresql": "asyncpg", "mysql": "aiomysql"}
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {url!r}: use sqlite, postgresql or mysql")
    return parsed.set(drivername=f"{backend}+{drivers[backend]}").render_as_string(
        hide_password=False
    )


def prepare_sqlite_file(url: str) -> None:
    """Create a SQLite database file 0600 in a 0700 directory before SQLite opens it.

    SQLite gives its -wal and -shm files the database file's mode, so all three stay private
    whatever the process umask. No-op for other backends and in-memory databases.
    """
    parsed = make_url(url)
    db_path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db_path or db_path == ":memory:":
        return
    files.private_dir(Path(db_path).parent)
    files.touch_private(Path(db_path))


class Reads(Protocol):
    """What a read needs of a session: `execute`, awaited (an AsyncSession or an InlineReader)."""

    async def execute(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Result[Any]: ...


class InlineReader:
    """A synchronous ORM session on SQLite, read in the event loop's thread: a point read costs
    microseconds, less than the thread hop (tens of microseconds of CPU) aiosqlite takes for
    each statement. Its `execute` never suspends, so nothing interleaves with a read."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def execute(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Result[Any]:
        return self._session.execute(statement, params)


T = TypeVar("T")


class ThreadWriter:
    """The AsyncSession calls a write transaction makes (execute, get, add, flush, savepoints),
    answered at once by a synchronous ORM session: a coroutine using it never suspends, so
    `Database.write_once` runs it to its end inside one worker thread."""

    def __init__(self, session: Session) -> None:
        self.sync_session = session
        self.bind = session.bind

    async def execute(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Result[Any]:
        return self.sync_session.execute(statement, params)

    async def get(self, entity: Any, ident: Any) -> Any:
        return self.sync_session.get(entity, ident)

    def add(self, row: object) -> None:
        self.sync_session.add(row)

    def add_all(self, rows: Iterable[object]) -> None:
        self.sync_session.add_all(rows)

    def expunge(self, row: object) -> None:
        self.sync_session.expunge(row)

    def __contains__(self, row: object) -> bool:
        return row in self.sync_session

    async def flush(self) -> None:
        self.sync_session.flush()

    async def delete(self, row: object) -> None:
        self.sync_session.delete(row)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync_session.begin_nested():
            yield


def _run_to_end(coro: Awaitable[T]) -> T:
    """Run a coroutine that never suspends (it only awaits a ThreadWriter) to its result."""
    step = coro.__await__()
    try:
        step.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    step.close()
    raise RuntimeError("a write_once body suspended: it awaited more than its session")


class Database:
    """The process's engine and its session factories."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            prepare_sqlite_file(url)
            kwargs["connect_args"] = {"isolation_level": None, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(async_url(url), **kwargs)
        self._inline: Engine | None = None
        self._thread_writer: Engine | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            _sqlite_setup(self.engine.sync_engine)
            path = make_url(url).database
            if path and path != ":memory:":  # a second engine would see another memory database
                self._inline = create_engine(
                    make_url(url).set(drivername="sqlite+pysqlite"),
                    connect_args={"isolation_level": None, "check_same_thread": False},
                )
                _sqlite_setup(self._inline, read_only=True)
                self._thread_writer = create_engine(
                    make_url(url).set(drivername="sqlite+pysqlite"),
                    connect_args={"isolation_level": None, "check_same_thread": False},
                    pool_size=1,
                ).execution_options(sqlite_immediate=True)
                _sqlite_setup(self._thread_writer)
                self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._writer_engine = self.engine.execution_options(sqlite_immediate=True)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read session (also fine for single-statement writes); committed on success."""
        async with AsyncSession(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[Reads]:
        """A read-only transaction (one snapshot). On SQLite it runs inline on this process's
        read-only connections (WAL: readers never wait for writers); elsewhere it is `session`.
        """
        if self._inline is None:
            async with self.session() as s:
                yield s
            return
        with Session(self._inline, expire_on_commit=False) as inline, inline.begin():
            yield InlineReader(inline)

    @contextlib.asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: serialised on SQLite, committed on success, rolled back on error."""
        async with (
            AsyncSession(self._writer_engine, expire_on_commit=False) as s,
            s.begin(),
        ):
            yield s

    async def write_once(self, body: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`body` in one write transaction, as `writer` gives. On a SQLite file the whole
        transaction (BEGIN IMMEDIATE, every statement, COMMIT) runs in one hop to this
        process's writer thread, on its own connection, instead of a thread hop per DBAPI call;
        `body` must then await nothing but its session (a ThreadWriter: nothing suspends).
        Waiting for SQLite's lock blocks that thread, never the event loop."""
        engine, pool = self._thread_writer, self._write_thread
        if engine is None or pool is None:
            async with self.writer() as s:
                return await body(s)

        def run() -> T:
            with Session(engine, expire_on_commit=False) as sync, sync.begin():
                return _run_to_end(body(cast(AsyncSession, ThreadWriter(sync))))

        return await asyncio.get_running_loop().run_in_executor(pool, run)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._inline is not None:
            self._inline.dispose()
        if self._thread_writer is not None and self._write_thread is not None:
            self._write_thread.shutdown()
            self._thread_writer.dispose()


def _sqlite_setup(engine: Engine, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def migration_locations() -> list[str]:
    """Every service's Alembic version directory that exists."""
    root = Path(__file__).resolve().parent.parent
    dirs = [root / name / "migrations" for name in MIGRATION_SERVICES]
    return [str(d) for d in dirs if d.is_dir()]


def upgrade(url: str) -> None:
    """Apply every service's migrations up to their heads. Idempotent."""
    from alembic import command
    from alembic.config import Config

    prepare_sqlite_file(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "alembic"))
    cfg.set_main_option("version_locations", " ".join(migration_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "heads")
