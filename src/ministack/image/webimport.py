"""The `web-download` import method: the image service fetches the image data from a URL.

POST /import checks the image (queued, formats set, caller may write it) and the URL (http or
https, host listed in `[image] web_download_allowed_hosts`; otherwise 400 as Glance's URI
filter answers), moves the image to importing, records a task and answers 202. The download
then runs in the background: streamed through the same spool, quota/size limit and format
inspection as an upload. A redirect is followed only to an allowed host. On any failure the
partial data is removed, the image is queued again, `os_glance_failed_import` names the store
and the task ends in failure with the reason; on success the image is active and the task
succeeds. A restart finds no image importing (ImageData.recover) and fails orphaned tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import delete, select

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database, utcnow
from ministack.image import constants as c
from ministack.image import tasks
from ministack.image.data import ImageData
from ministack.image.models import Image, ImageProperty

METHOD = "web-download"
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(60.0, connect=10.0)  # per connect and per read
# The whole import, however slowly the server sends: the importing state ends (PROMISES 4)
MAX_SECONDS = 6 * 3600
IMPORTING_TO = "os_glance_importing_to_stores"
FAILED = "os_glance_failed_import"
LOCK = "os_glance_import_task"


def allowed_hosts(setting: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in setting.split(",") if h.strip())


def uri_allowed(uri: str, hosts: frozenset[str]) -> bool:
    """http(s) URL whose host, as the HTTP client will read it, is one of `hosts` written
    exactly (Glance's allowed_hosts filter). Other spellings of an allowed address (decimal,
    hex, short forms) are refused: they are not on the list."""
    try:
        url = httpx.URL(uri)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    split_host = (urlsplit(uri).hostname or "").lower()
    host = url.host.lower()
    return url.scheme in ("http", "https") and host == split_host and host in hosts


class WebImport:
    """Runs web-download imports; holds the background downloads so they are not collected."""

    def __init__(self, data: ImageData) -> None:
        self.data = data
        self.core = data.core
        self.running: set[asyncio.Task[None]] = set()

    @property
    def hosts(self) -> frozenset[str]:
        return allowed_hosts(self.core.settings.image.web_download_allowed_hosts)

    async def start(
        self, auth: Auth, image_id: str, body: dict[str, Any], targets: list[str]
    ) -> None:
        """Accept the import (the caller answers 202) and start the download into the
        `targets` stores."""
        uri = body["method"].get("uri")
        if not isinstance(uri, str) or not uri:
            raise errors.BadRequest("The web-download method needs a 'uri' to fetch from.")
        async with self.core.db.session() as s:
            img = await self.core.find(s, auth, image_id)
            self.core.enforce_write(auth, img, "modify_image")
            if img.status != c.QUEUED:
                raise errors.Conflict(
                    f"Image needs to be in 'queued' state to use '{METHOD}' method; image "
                    f"{image_id} is {img.status}."
                )
            for attr in ("container_format", "disk_format"):
                if not getattr(img, attr):
                    raise errors.Conflict(f"'{attr}' needs to be set before import.")
        if not uri_allowed(uri, self.hosts):
            raise errors.BadRequest(
                f"URI for web-download does not pass filtering: {uri} (allowed hosts are set "
                "by [image] web_download_allowed_hosts)."
            )
        allowed, owner = await self.data._begin(auth, image_id, c.IMPORTING, None)
        task_id = await tasks.start_import(
            self.core.db, image_id, owner, auth.user_id, body, targets
        )
        stores = ",".join(targets)
        await self._set_props(image_id, {IMPORTING_TO: stores, FAILED: "", LOCK: task_id})
        job = asyncio.create_task(self._run(image_id, owner, allowed, uri, task_id, targets))
        self.running.add(job)
        job.add_done_callback(self.running.discard)

    async def _run(
        self,
        image_id: str,
        owner: str | None,
        allowed: int,
        uri: str,
        task_id: str,
        targets: list[str],
    ) -> None:
        try:
            async with asyncio.timeout(MAX_SECONDS):
                await self._fetch(image_id, owner, allowed, uri, targets)
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                reason = f"it took longer than {MAX_SECONDS} seconds"
            else:
                reason = exc.message if isinstance(exc, errors.ApiError) else str(exc)
            reason = reason or type(exc).__name__
            failed = {IMPORTING_TO: "", FAILED: ",".join(targets)}
            await self._set_props(image_id, failed, drop=(LOCK,))
            await tasks.finish(self.core.db, task_id, f"Import from {uri} failed: {reason}")
            return
        await self._set_props(image_id, {IMPORTING_TO: ""}, drop=(LOCK,))
        await tasks.finish(self.core.db, task_id, None)

    async def _fetch(
        self, image_id: str, owner: str | None, allowed: int, uri: str, targets: list[str]
    ) -> None:
        """Download into the spool, then inspect and adopt (ImageData's upload steps)."""
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
            chunks = self._download(http, uri)
            try:
                got = await self.data._receive(image_id, owner, c.IMPORTING, allowed, chunks)
            finally:
                with contextlib.suppress(Exception):
                    await chunks.aclose()
        await self.data._finish(image_id, c.IMPORTING, got.path, got, targets)

    async def _download(self, http: httpx.AsyncClient, uri: str) -> AsyncGenerator[bytes, None]:
        """The body at `uri`, following redirects to allowed hosts only."""
        for _ in range(MAX_REDIRECTS + 1):
            async with http.stream("GET", uri) as resp:
                if resp.is_redirect:
                    target = urljoin(uri, resp.headers.get("location", ""))
                    if not uri_allowed(target, self.hosts):
                        raise errors.BadRequest(
                            f"redirected to {target}, which does not pass filtering"
                        )
                    uri = target
                    continue
                if resp.status_code != 200:
                    raise errors.BadRequest(f"the server answered {resp.status_code}")
                async for chunk in resp.aiter_bytes(1 << 20):
                    yield chunk
                return
        raise errors.BadRequest(f"more than {MAX_REDIRECTS} redirects")

    async def recover(self) -> None:
        """At start-up (after ImageData.recover queued the images): every import task still
        processing lost its download; it failed, and its image says so."""
        async with self.core.db.session() as s:
            rows = await s.execute(
                select(tasks.Task.image_id, ImageProperty.value)
                .outerjoin(
                    ImageProperty,
                    (ImageProperty.image_id == tasks.Task.image_id)
                    & (ImageProperty.name == IMPORTING_TO),
                )
                .where(tasks.Task.status == tasks.PROCESSING)
            )
            pending = [(i, v) for i, v in rows.all() if i]
        await tasks.fail_unfinished(self.core.db, "The image service restarted during the import.")
        for image_id, stores in pending:
            failed = {IMPORTING_TO: "", FAILED: stores or self.core.stores.default}
            await self._set_props(image_id, failed, drop=(LOCK,))

    async def _set_props(
        self, image_id: str, values: dict[str, str], drop: tuple[str, ...] = ()
    ) -> None:
        await set_props(self.core.db, image_id, values, drop)


async def set_props(
    db: Database, image_id: str, values: dict[str, str], drop: tuple[str, ...] = ()
) -> None:
    """Set (and drop) Glance's import bookkeeping properties, if the image still exists."""
    async with db.writer() as s:
        img = await s.get(Image, image_id)
        if img is None:
            return
        if drop:
            await s.execute(
                delete(ImageProperty).where(
                    ImageProperty.image_id == image_id, ImageProperty.name.in_(drop)
                )
            )
        rows = await s.execute(
            select(ImageProperty).where(
                ImageProperty.image_id == image_id, ImageProperty.name.in_(list(values))
            )
        )
        have = {p.name: p for p in rows.scalars()}
        for name, value in values.items():
            if name in have:
                have[name].value = value
            else:
                s.add(ImageProperty(image_id=image_id, name=name, value=value))
        img.updated_at = utcnow()
