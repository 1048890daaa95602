"""The object store's records: accounts, containers and objects in the database.

The API layer calls these after it has authorized the request; data bytes go through the
backend first, and `commit_object` then points the row at the new data in one transaction
that also moves the container and account counters and checks the quotas, so concurrent
PUTs can never together exceed a quota and a listing's counts always match its rows.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.db import Database
from ministack.objectstore import listing
from ministack.objectstore.models import Account, Container, Object

MAX_CONTAINER_NAME = 256
MAX_OBJECT_NAME = 1024
CONTAINER_CACHE_SECONDS = 2.0


def now() -> float:
    return round(time.time(), 5)


def load_meta(raw: str) -> dict[str, str]:
    data: dict[str, str] = orjson.loads(raw or "{}")
    return data


def apply_meta(current: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    """Swift's POST semantics for account/container metadata: an empty value removes a key."""
    out = dict(current)
    for key, value in changes.items():
        if value == "":
            out.pop(key, None)
        else:
            out[key] = value
    return out


class QuotaExceeded(errors.ApiError):
    status, title = 413, "Request Entity Too Large"


@dataclass(frozen=True)
class AccountInfo:
    project_id: str
    meta: dict[str, str]
    container_count: int = 0
    object_count: int = 0
    bytes_used: int = 0
    created_at: float = 0.0


@dataclass(frozen=True)
class ContainerInfo:
    id: int
    account: str
    name: str
    meta: dict[str, str]
    read_acl: str
    write_acl: str
    object_count: int
    bytes_used: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ObjectInfo:
    container_id: int
    name: str
    size: int
    etag: str
    content_type: str
    last_modified: float
    delete_at: int | None
    meta: dict[str, str]
    kind: str
    location: str
    stored_size: int
    sha256: str

    def expired(self, at: float | None = None) -> bool:
        return self.delete_at is not None and self.delete_at <= (at or time.time())


@dataclass(frozen=True)
class NewObject:
    """What a PUT (or copy, or manifest) stores as an object's new version."""

    size: int
    etag: str
    content_type: str
    meta: dict[str, str]
    location: str
    stored_size: int
    sha256: str
    delete_at: int | None = None
    kind: str = ""
    last_modified: float = field(default_factory=now)


_CONTAINER_SQL = (
    "SELECT id, account, name, meta, read_acl, write_acl, object_count, bytes_used, "
    "created_at, updated_at FROM objstore_containers WHERE account = ? AND name = ?"
)
_OBJECT_SQL = (
    "SELECT container_id, name, size, etag, content_type, last_modified, delete_at, meta, "
    "kind, location, stored_size, sha256 FROM objstore_objects "
    "WHERE container_id = ? AND name = ?"
)


_CONTAINER_COUNT_SQL = (
    "UPDATE objstore_containers SET object_count = object_count + ?, "
    "bytes_used = bytes_used + ?, updated_at = ? WHERE id = ? "
    "RETURNING object_count, bytes_used, meta"
)
_ACCOUNT_COUNT_SQL = (
    "UPDATE objstore_accounts SET object_count = object_count + ?, "
    "bytes_used = bytes_used + ? WHERE project_id = ? RETURNING object_count, bytes_used, meta"
)


def _container(row: Container) -> ContainerInfo:
    return ContainerInfo(
        row.id,
        row.account,
        row.name,
        load_meta(row.meta),
        row.read_acl,
        row.write_acl,
        row.object_count,
        row.bytes_used,
        row.created_at,
        row.updated_at,
    )


def _object(row: Object) -> ObjectInfo:
    return ObjectInfo(
        row.container_id,
        row.name,
        row.size,
        row.etag,
        row.content_type,
        row.last_modified,
        row.delete_at,
        load_meta(row.meta),
        row.kind,
        row.location,
        row.stored_size,
        row.sha256,
    )


def _quota(meta: dict[str, str], key: str) -> int | None:
    raw = meta.get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class Records:
    """Reads and writes of the three tables; every write is one transaction.

    Object requests look their container up through `container_cached`: a copy kept for
    CONTAINER_CACHE_SECONDS (Swift's proxies keep container info in memcache for a minute).
    A change made in this process drops it at once; one made by another process is seen
    within that time. Counters are never taken from it: writes move them in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._containers: dict[tuple[str, str], tuple[float, ContainerInfo | None]] = {}
        # On SQLite, point reads run inline on a private read-only connection (microseconds,
        # no thread hop), as identity reads its revision; WAL readers never wait for writers.
        self._sqlite: sqlite3.Connection | None = None
        if db.is_sqlite:
            path = make_url(db.url).database or ":memory:"
            self._sqlite = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._sqlite.execute("PRAGMA busy_timeout=30000")
            self._sqlite.execute("PRAGMA query_only=ON")
            # object commits: one thread hop for the whole transaction (a private connection
            # used by one worker thread), instead of one hop per statement
            self._sqlite_writer = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None
            )
            for pragma in ("busy_timeout=30000", "synchronous=NORMAL", "foreign_keys=ON"):
                self._sqlite_writer.execute(f"PRAGMA {pragma}")
            self._write_thread = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="objstore-commit"
            )

    def close(self) -> None:
        if self._sqlite is not None:
            self._write_thread.shutdown(wait=True)
            self._sqlite_writer.close()
            self._sqlite.close()

    async def container_cached(self, project_id: str, name: str) -> ContainerInfo | None:
        key = (project_id, name)
        hit = self._containers.get(key)
        now_ = time.monotonic()
        if hit is not None and hit[0] > now_:
            return hit[1]
        info = await self.container(project_id, name)
        if len(self._containers) > 10_000:
            self._containers.clear()
        self._containers[key] = (now_ + CONTAINER_CACHE_SECONDS, info)
        return info

    def _forget(self, project_id: str, name: str) -> None:
        self._containers.pop((project_id, name), None)

    # accounts

    async def account(self, project_id: str) -> AccountInfo:
        async with self.db.session() as s:
            row = await s.get(Account, project_id)
            if row is None:
                return AccountInfo(project_id, {})
            return AccountInfo(
                project_id,
                load_meta(row.meta),
                row.container_count,
                row.object_count,
                row.bytes_used,
                row.created_at,
            )

    async def _ensure_account(self, s: AsyncSession, project_id: str) -> Account:
        row = await s.get(Account, project_id, with_for_update=True)
        if row is None:
            row = Account(
                project_id=project_id,
                meta="{}",
                container_count=0,
                object_count=0,
                bytes_used=0,
                created_at=now(),
            )
            s.add(row)
            await s.flush()
        return row

    async def update_account_meta(self, project_id: str, changes: dict[str, str]) -> None:
        async with self.db.writer() as s:
            row = await self._ensure_account(s, project_id)
            row.meta = orjson.dumps(apply_meta(load_meta(row.meta), changes)).decode()

    async def list_containers(self, project_id: str, q: listing.ListQuery) -> list[Any]:
        if self._sqlite is not None:
            return await listing.list_containers(self._run_inline, project_id, q)
        async with self.db.session() as s:
            return await listing.list_containers(_runner(s), project_id, q)

    # containers

    async def container(self, project_id: str, name: str) -> ContainerInfo | None:
        if self._sqlite is not None:
            row = self._sqlite.execute(_CONTAINER_SQL, (project_id, name)).fetchone()
            if row is None:
                return None
            cid, account, cname, meta, read_acl, write_acl, count, used, created, updated = row
            return ContainerInfo(
                cid, account, cname, load_meta(meta), read_acl, write_acl, count, used, created,
                updated,
            )  # fmt: skip
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(Container).where(Container.account == project_id, Container.name == name)
                )
            ).scalar_one_or_none()
            return None if row is None else _container(row)

    async def put_container(
        self, project_id: str, name: str, meta: dict[str, str], acls: dict[str, str]
    ) -> bool:
        """Create the container or update its metadata; True when it was created."""
        self._forget(project_id, name)
        async with self.db.writer() as s:
            account = await self._ensure_account(s, project_id)
            row = (
                await s.execute(
                    select(Container).where(Container.account == project_id, Container.name == name)
                )
            ).scalar_one_or_none()
            created = row is None
            if row is None:
                stamp = now()
                row = Container(
                    account=project_id,
                    name=name,
                    meta="{}",
                    read_acl="",
                    write_acl="",
                    object_count=0,
                    bytes_used=0,
                    created_at=stamp,
                    updated_at=stamp,
                )
                s.add(row)
                account.container_count += 1
            _update_container(row, meta, acls)
            return created

    async def post_container(
        self, project_id: str, name: str, meta: dict[str, str], acls: dict[str, str]
    ) -> bool:
        """Update a container's metadata and ACLs; False when it does not exist."""
        self._forget(project_id, name)
        async with self.db.writer() as s:
            row = (
                await s.execute(
                    select(Container).where(Container.account == project_id, Container.name == name)
                )
            ).scalar_one_or_none()
            if row is None:
                return False
            _update_container(row, meta, acls)
            return True

    async def delete_container(self, project_id: str, name: str) -> None:
        """404 when absent, 409 when it still holds objects."""
        self._forget(project_id, name)
        async with self.db.writer() as s:
            row = (
                await s.execute(
                    select(Container).where(Container.account == project_id, Container.name == name)
                )
            ).scalar_one_or_none()
            if row is None:
                raise errors.NotFound("The container does not exist.")
            first = await s.scalar(
                select(Object.name).where(Object.container_id == row.id).limit(1)
            )
            if first is not None:
                raise errors.Conflict("There was a conflict when trying to complete your request.")
            await s.delete(row)
            await s.execute(
                update(Account)
                .where(Account.project_id == project_id)
                .values(container_count=Account.container_count - 1)
            )

    async def list_objects(self, container_id: int, q: listing.ListQuery) -> list[Any]:
        if self._sqlite is not None:
            return await listing.list_objects(self._run_inline, container_id, q)
        async with self.db.session() as s:
            return await listing.list_objects(_runner(s), container_id, q)

    async def _run_inline(self, page: listing.Page) -> Sequence[Any]:
        """A listing query on SQLite, inline: an index range scan of at most a batch of rows
        costs less than the thread hop aiosqlite would take."""
        assert self._sqlite is not None
        text, params = page.sql()
        row_type = _row_type(page.columns)
        return [row_type(*raw) for raw in self._sqlite.execute(text, params).fetchall()]

    # objects

    async def object(self, container_id: int, name: str) -> ObjectInfo | None:
        """The object's current version; None when absent or past its X-Delete-At."""
        if self._sqlite is not None:
            raw = self._sqlite.execute(_OBJECT_SQL, (container_id, name)).fetchone()
            if raw is None:
                return None
            cid, oname, size, etag, ctype, modified, delete_at, meta, kind, loc, stored, sha = raw
            found = ObjectInfo(
                cid, oname, size, etag, ctype, modified, delete_at, load_meta(meta), kind, loc,
                stored, sha,
            )  # fmt: skip
            return None if found.expired() else found
        async with self.db.session() as s:
            row = await s.get(Object, (container_id, name))
            if row is None:
                return None
            info = _object(row)
            return None if info.expired() else info

    async def commit_object(
        self, container: ContainerInfo, name: str, new: NewObject, *, account_quota: bool = True
    ) -> str | None:
        """Make `new` the object's current version, moving the counters; returns the replaced
        version's location (for the caller to delete). 413 when a quota would be exceeded
        (the caller then deletes the new data); 404 when the container is gone.

        Four statements in one write transaction: read the old row, write the new one, move
        the container's and the account's counters (reading back the totals and quotas in
        the same UPDATE ... RETURNING, so two racing PUTs never both pass a quota)."""
        values = dict(
            size=new.size,
            etag=new.etag,
            content_type=new.content_type,
            last_modified=new.last_modified,
            delete_at=new.delete_at,
            meta=orjson.dumps(new.meta).decode(),
            kind=new.kind,
            location=new.location,
            stored_size=new.stored_size,
            sha256=new.sha256,
        )
        if self._sqlite is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._write_thread, self._commit_sqlite, container, name, values, account_quota
            )
        async with self.db.writer() as s:
            old = (
                await s.execute(
                    select(Object.size, Object.location).where(
                        Object.container_id == container.id, Object.name == name
                    )
                )
            ).first()
            count_delta = 0 if old is not None else 1
            bytes_delta = new.size - (old.size if old is not None else 0)
            if old is None:
                await s.execute(
                    insert(Object).values(container_id=container.id, name=name, **values)
                )
            else:
                await s.execute(
                    update(Object)
                    .where(Object.container_id == container.id, Object.name == name)
                    .values(**values)
                )
            totals = (
                await s.execute(
                    update(Container)
                    .where(Container.id == container.id)
                    .values(
                        object_count=Container.object_count + count_delta,
                        bytes_used=Container.bytes_used + bytes_delta,
                        updated_at=new.last_modified,
                    )
                    .returning(Container.object_count, Container.bytes_used, Container.meta)
                )
            ).first()
            if totals is None:
                raise errors.NotFound("The container does not exist.")
            _check_quota(load_meta(totals.meta), totals.object_count, totals.bytes_used,
                         count_delta, bytes_delta, "container")  # fmt: skip
            account = (
                await s.execute(
                    update(Account)
                    .where(Account.project_id == container.account)
                    .values(
                        object_count=Account.object_count + count_delta,
                        bytes_used=Account.bytes_used + bytes_delta,
                    )
                    .returning(Account.object_count, Account.bytes_used, Account.meta)
                )
            ).first()
            if account is not None and account_quota:
                _check_quota(load_meta(account.meta), account.object_count, account.bytes_used,
                             count_delta, bytes_delta, "account")  # fmt: skip
            return old.location if old is not None else None

    def _commit_sqlite(
        self, container: ContainerInfo, name: str, values: dict[str, Any], account_quota: bool
    ) -> str | None:
        """commit_object's transaction on SQLite, run in the commit thread."""
        db = self._sqlite_writer
        db.execute("BEGIN IMMEDIATE")
        try:
            old = db.execute(
                "SELECT size, location FROM objstore_objects WHERE container_id = ? AND name = ?",
                (container.id, name),
            ).fetchone()
            count_delta = 0 if old is not None else 1
            bytes_delta = values["size"] - (old[0] if old is not None else 0)
            columns = list(values)
            if old is None:
                db.execute(
                    f"INSERT INTO objstore_objects (container_id, name, {', '.join(columns)}) "
                    f"VALUES (?, ?, {', '.join('?' for _ in columns)})",
                    (container.id, name, *values.values()),
                )
            else:
                db.execute(
                    f"UPDATE objstore_objects SET {', '.join(f'{c} = ?' for c in columns)} "
                    "WHERE container_id = ? AND name = ?",
                    (*values.values(), container.id, name),
                )
            totals = db.execute(_CONTAINER_COUNT_SQL, (count_delta, bytes_delta,
                                values["last_modified"], container.id)).fetchone()  # fmt: skip
            if totals is None:
                raise errors.NotFound("The container does not exist.")
            _check_quota(load_meta(totals[2]), totals[0], totals[1], count_delta, bytes_delta,
                         "container")  # fmt: skip
            account = db.execute(
                _ACCOUNT_COUNT_SQL, (count_delta, bytes_delta, container.account)
            ).fetchone()
            if account is not None and account_quota:
                _check_quota(load_meta(account[2]), account[0], account[1], count_delta,
                             bytes_delta, "account")  # fmt: skip
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return old[1] if old is not None else None

    async def update_object(
        self,
        container_id: int,
        name: str,
        *,
        meta: dict[str, str],
        content_type: str | None,
        delete_at: int | None,
    ) -> ObjectInfo | None:
        """POST: replace the object's metadata (Swift's fast-POST); None when absent."""
        async with self.db.writer() as s:
            row = await s.get(Object, (container_id, name))
            if row is None or _object(row).expired():
                return None
            row.meta = orjson.dumps(meta).decode()
            if content_type:
                row.content_type = content_type
            row.delete_at = delete_at
            row.last_modified = now()
            return _object(row)

    async def delete_object(
        self, container_id: int, name: str, *, only_location: str | None = None
    ) -> ObjectInfo | None:
        """Remove the object's row and uncount it; returns the removed row (its data is the
        caller's to delete), None when absent. `only_location` deletes it only while it still
        points there (the reaper and auditor must not remove a newer version)."""
        async with self.db.writer() as s:
            row = await s.get(Object, (container_id, name))
            if row is None or (only_location is not None and row.location != only_location):
                return None
            info = _object(row)
            await s.execute(
                delete(Object).where(Object.container_id == container_id, Object.name == name)
            )
            crow = await s.get(Container, container_id)
            if crow is not None:
                crow.object_count -= 1
                crow.bytes_used -= info.size
                crow.updated_at = now()
                await s.execute(
                    update(Account)
                    .where(Account.project_id == crow.account)
                    .values(
                        object_count=Account.object_count - 1,
                        bytes_used=Account.bytes_used - info.size,
                    )
                )
            return info

    async def expired(self, at: float, limit: int = 500) -> list[tuple[int, str, str]]:
        """(container_id, name, location) of objects past their X-Delete-At."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(Object.container_id, Object.name, Object.location)
                .where(Object.delete_at.is_not(None), Object.delete_at <= at)
                .limit(limit)
            )
            return [(r[0], r[1], r[2]) for r in rows.all()]

    async def location_used(self, location: str) -> bool:
        """True when an object row names the data at `location`."""
        if self._sqlite is not None:
            sql = "SELECT 1 FROM objstore_objects WHERE location = ? LIMIT 1"
            return self._sqlite.execute(sql, (location,)).fetchone() is not None
        async with self.db.session() as s:
            found = await s.scalar(select(Object.name).where(Object.location == location).limit(1))
            return found is not None

    async def batch_for_audit(
        self, after: tuple[int, str], limit: int = 200
    ) -> list[tuple[int, str, str, str]]:
        """(container_id, name, location, sha256) of the next objects after `after`."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(Object.container_id, Object.name, Object.location, Object.sha256)
                .where(
                    (Object.container_id > after[0])
                    | ((Object.container_id == after[0]) & (Object.name > after[1]))
                )
                .order_by(Object.container_id, Object.name)
                .limit(limit)
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows.all()]


def _runner(s: AsyncSession) -> listing.Runner:
    async def run(page: listing.Page) -> Sequence[Any]:
        rows: Sequence[Any] = (await s.execute(page.select())).all()
        return rows

    return run


@functools.lru_cache(maxsize=16)
def _row_type(names: tuple[str, ...]) -> Any:
    return collections.namedtuple("Row", names)


def _update_container(row: Container, meta: dict[str, str], acls: dict[str, str]) -> None:
    row.meta = orjson.dumps(apply_meta(load_meta(row.meta), meta)).decode()
    if "read" in acls:
        row.read_acl = acls["read"]
    if "write" in acls:
        row.write_acl = acls["write"]
    row.updated_at = now()


def _check_quota(
    meta: dict[str, str], count: int, used: int, count_delta: int, bytes_delta: int, what: str
) -> None:
    """`count` and `used` are the totals with this write already counted."""
    max_bytes = _quota(meta, "quota-bytes")
    if max_bytes is not None and bytes_delta > 0 and used > max_bytes:
        raise QuotaExceeded(f"Upload exceeds {what} quota: the limit is {max_bytes} bytes.")
    max_count = _quota(meta, "quota-count")
    if max_count is not None and count_delta > 0 and count > max_count:
        raise QuotaExceeded(f"Upload exceeds {what} quota: the limit is {max_count} objects.")
