"""Per-project image quotas: how many images, how many bytes, and the largest single image.

Usage is counted inside the caller's write transaction (serialised on SQLite, row-locked
elsewhere), so concurrent creates and uploads cannot together exceed a limit. Exceeding one is
a 413 with a message that names the limit, as Glance does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.config import ImageSection
from ministack.image.models import Image

UNLIMITED = -1


@dataclass(frozen=True)
class Usage:
    count: int
    bytes: int


async def usage(s: AsyncSession, project_id: str | None, exclude: str | None = None) -> Usage:
    """Images `project_id` owns and the bytes they hold (stored and staged)."""
    query = select(
        func.count(Image.id),
        func.coalesce(
            func.sum(func.coalesce(Image.size, 0) + func.coalesce(Image.staged_size, 0)), 0
        ),
    ).where(Image.owner == project_id)
    if exclude is not None:
        query = query.where(Image.id != exclude)
    count, used = (await s.execute(query)).one()
    return Usage(count=int(count), bytes=int(used))


async def check_count(s: AsyncSession, limits: ImageSection, project_id: str | None) -> None:
    """413 when `project_id` already owns image_count_total images."""
    if limits.image_count_total == UNLIMITED:
        return
    used = await usage(s, project_id)
    if used.count >= limits.image_count_total:
        raise errors.PayloadTooLarge(
            f"Project {project_id} already has {used.count} images, its quota "
            f"(image_count_total = {limits.image_count_total}); delete an image first."
        )


async def bytes_allowed(
    s: AsyncSession, limits: ImageSection, project_id: str | None, image_id: str
) -> int:
    """How many bytes one upload to `image_id` may carry: the size cap or the quota left."""
    allowed = limits.image_size_cap
    if limits.image_size_total != UNLIMITED:
        used = await usage(s, project_id, exclude=image_id)
        allowed = min(allowed, max(0, limits.image_size_total - used.bytes))
    return allowed


def too_large(limits: ImageSection, project_id: str | None) -> errors.ApiError:
    """The 413 for an upload that went past `bytes_allowed`."""
    return errors.PayloadTooLarge(
        f"The image data exceeds what project {project_id} may store: at most "
        f"{limits.image_size_cap} bytes per image (image_size_cap) and "
        f"{limits.image_size_total} bytes in all (image_size_total); nothing was stored."
    )
