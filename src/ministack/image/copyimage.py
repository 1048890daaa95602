"""The `copy-image` import method: copy an active image's data into more stores.

POST /import checks the image (active, else 409), the policy `copy_image` (admin, as Glance),
the target stores (`ImageData.import_stores`; a named store already holding the image is 400,
with `all_stores` such stores are skipped) and the import lock, then records a task, sets
`os_glance_importing_to_stores` and answers 202. In the background each store gets its copy:
the data is read from the image's current location, spooled to the scratch directory while it
is hashed (never whole in memory), its md5 and sha512 compared with the image's, and handed to
the target store; then the row gains the location. A store that fails is listed in
`os_glance_failed_import`; with `all_stores_must_succeed` (the default) the first failure ends
the copying. The image stays active throughout. A restart fails the task (`WebImport.recover`
lists the stores that were pending as failed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.image import constants as c
from ministack.image import locations, policies, tasks
from ministack.image.data import ImageData
from ministack.image.models import Image, ImageProperty
from ministack.image.spool import spool
from ministack.image.store import discard
from ministack.image.webimport import FAILED, IMPORTING_TO, LOCK, set_props

METHOD = "copy-image"
logger = logging.getLogger("ministack.image")


class CopyImage:
    """Runs copy-image imports; holds the background copies so they are not collected."""

    def __init__(self, data: ImageData) -> None:
        self.data = data
        self.core = data.core
        self.running: set[asyncio.Task[None]] = set()

    async def start(
        self, auth: Auth, image_id: str, body: dict[str, Any], targets: list[str]
    ) -> None:
        """Accept the copy (the caller answers 202) and start it; returns at once, copying
        nothing, when `all_stores` finds every store already holding the image."""
        all_stores = bool(body.get("all_stores", False))
        async with self.core.db.writer() as s:
            img = await self.core.find(s, auth, image_id)
            policies.authorize(auth, "copy_image", img.owner)
            if img.status != c.ACTIVE:
                raise errors.Conflict("Only images with status active can be targeted for copying.")
            have = locations.parse(img.location)
            if all_stores:
                targets = [t for t in targets if t not in have]
                if not targets:
                    return
            for store_id in targets:
                if store_id in have:
                    raise errors.BadRequest(f"Image is already present at store '{store_id}'.")
            lock = await s.get(ImageProperty, (image_id, LOCK))
            if lock is not None and lock.value:
                raise errors.Conflict(
                    f"New operation on image '{image_id}' is not permitted as prior operation "
                    "is still in progress."
                )
            task_id = tasks.add_import(s, image_id, img.owner, auth.user_id, body, targets)
            for name, value in ((LOCK, task_id), (IMPORTING_TO, ",".join(targets))):
                await s.merge(ImageProperty(image_id=image_id, name=name, value=value))
            img.updated_at = utcnow()
        must_succeed = bool(body.get("all_stores_must_succeed", True))
        job = asyncio.create_task(self._run(image_id, targets, task_id, must_succeed))
        self.running.add(job)
        job.add_done_callback(self.running.discard)

    async def _run(
        self, image_id: str, targets: list[str], task_id: str, must_succeed: bool
    ) -> None:
        pending, failed, errors_seen = list(targets), [], []
        for store_id in targets:
            try:
                await self._copy_to(image_id, store_id)
            except Exception as exc:
                reason = exc.message if isinstance(exc, errors.ApiError) else str(exc)
                logger.warning(
                    "copy of image %s to store %s failed: %s", image_id, store_id, reason
                )
                failed.append(store_id)
                errors_seen.append(f"{store_id}: {reason or type(exc).__name__}")
            pending.remove(store_id)
            if failed and must_succeed:
                failed += pending
                pending = []
            values = {IMPORTING_TO: ",".join(pending), FAILED: ",".join(failed)}
            await set_props(self.core.db, image_id, values)
            if not pending:
                break
        await set_props(self.core.db, image_id, {}, drop=(LOCK,))
        message = f"Copying failed for {'; '.join(errors_seen)}" if errors_seen else None
        await tasks.finish(self.core.db, task_id, message)

    async def _copy_to(self, image_id: str, store_id: str) -> None:
        """Copy the image's data into `store_id` and record the location; on failure nothing
        is left in the target store."""
        got = await self.data.download(_copier(), image_id, None)
        if got.chunks is None:
            raise errors.Conflict(f"Image {image_id} has no data to copy.")
        async with self.core.db.session() as s:
            img = await s.get(Image, image_id)
            want = (img.checksum, img.os_hash_value) if img else (None, None)
        spooled = await spool(
            got.chunks,
            self.core.store.scratch_dir(),
            got.size,
            lambda _limit: errors.InternalError("the data is longer than the image's size"),
        )
        try:
            if (spooled.checksum, spooled.os_hash_value) != want:
                raise errors.InternalError("the data read does not match the image's checksums")
            found = await self.data.store_copies(image_id, spooled.path, [store_id])
        finally:
            discard(spooled.path)
        try:
            async with self.core.db.writer() as s:
                img = await s.get(Image, image_id)
                if img is None:
                    raise errors.NotFound(f"Image {image_id} was deleted during the copy.")
                now = locations.parse(img.location)
                now.update(found)
                img.location, img.updated_at = locations.dump(now), utcnow()
        except BaseException:
            await asyncio.shield(self.core.delete_data(found))
            raise


def _copier() -> Auth:
    """The copy task reads as an admin (Glance runs it with an elevated context)."""
    return Auth(
        user_id="ministack-service",
        user_name="ministack-service",
        user_domain_id="default",
        roles=("admin", "member", "reader", "service"),
        expires_at=dt.datetime.max,
        project_id=None,
    )
