"""The object service's background work: the expirer (X-Delete-At) and the auditor.

The expirer deletes objects whose X-Delete-At has passed (reads already answer 404 for them).
The auditor re-reads every object's data and compares its SHA-256 with the one recorded at
write; a mismatch moves the data to quarantine and removes the row, so the object is never
served again (a read answers 404). It also removes data older than an hour that no row names
(a kill between a write and its commit leaves such a file: never torn, but wasted space).
Both delete a row only while it still names the data they looked at, so a newer version
written meanwhile is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ministack.objectstore.backend import Backend
from ministack.objectstore.store import Records

logger = logging.getLogger("ministack.object")

# data no row names, older than this, is left from a crash between a write and its commit
ORPHAN_AGE = 3600.0


async def expire_once(records: Records, backend: Backend) -> int:
    """Delete every object past its X-Delete-At; returns how many."""
    count = 0
    while batch := await records.expired(time.time()):
        for container_id, name, location in batch:
            gone = await records.delete_object(container_id, name, only_location=location)
            if gone is not None:
                await backend.delete(location)
                count += 1
        if len(batch) < 500:
            break
    return count


async def audit_once(records: Records, backend: Backend) -> int:
    """Check every object's data; quarantine and unlist the corrupt ones. Returns how many."""
    bad = 0
    after: tuple[int, str] = (0, "")
    while batch := await records.batch_for_audit(after):
        for container_id, name, location, sha256 in batch:
            if not await backend.verify(location, sha256):
                logger.warning(
                    "quarantined object %s in container %d: checksum mismatch", name, container_id
                )
                await records.delete_object(container_id, name, only_location=location)
                bad += 1
        after = (batch[-1][0], batch[-1][1])
    for location in await backend.unreferenced_candidates(ORPHAN_AGE):
        if not await records.location_used(location):
            logger.info(
                "removing data %s that no object names (a crash before its commit)", location
            )
            await backend.delete(location)
    return bad


async def every(seconds: float, work: str, run: Callable[[], Awaitable[int]]) -> None:
    """Run `run()` every `seconds`, logging failures, until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        try:
            done = await run()
        except Exception:
            logger.exception("object %s pass failed", work)
            continue
        if done:
            logger.info("object %s: %d objects", work, done)
