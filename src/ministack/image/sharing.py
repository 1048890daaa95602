"""Image members: sharing an image with other projects, who accept or reject it (Glance).

Only images with visibility 'shared' have members. The owner project (member role) or admin
adds and removes members; only the member project itself (or admin) sets its status. A project
that is a member sees the image even while pending; it appears in its image list only once
accepted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.image import constants as c
from ministack.image import policies
from ministack.image.core import ImageCore
from ministack.image.models import Image, ImageMember
from ministack.image.views import member_view


class Sharing:
    def __init__(self, core: ImageCore) -> None:
        self.core = core

    def _owner_only(self, auth: Auth, img: Image, action: str) -> None:
        if not auth.is_admin and img.owner != auth.project_id:
            raise errors.Forbidden(f"Only the owner of image {img.id} may {action} its members.")
        policies.authorize(auth, f"{action}_member", img.owner)

    async def add(self, auth: Auth, image_id: str, member: Any) -> dict[str, Any]:
        """Share with project `member` (pending). 403 unless shared; 409 when already a member."""
        if not isinstance(member, str) or not member or len(member) > 255:
            raise errors.BadRequest("Invalid input: 'member' must be a project id.")
        async with self.core.db.writer() as s:
            img = await self.core.find(s, auth, image_id)
            self._owner_only(auth, img, "add")
            if img.visibility != "shared":
                raise errors.Forbidden(
                    f"Image {image_id} has visibility '{img.visibility}'; only shared images "
                    "can have members. Set visibility to 'shared' first."
                )
            if await s.get(ImageMember, (image_id, member)) is not None:
                raise errors.Conflict(f"Project {member} is already a member of image {image_id}.")
            count = (
                await s.execute(select(func.count()).where(ImageMember.image_id == image_id))
            ).scalar_one()
            if count >= c.MAX_MEMBERS:
                raise errors.PayloadTooLarge(
                    f"Image {image_id} already has {count} members, the most allowed."
                )
            now = utcnow()
            row = ImageMember(
                image_id=image_id, member=member, status="pending", created_at=now, updated_at=now
            )
            s.add(row)
            return member_view(row)

    async def list(self, auth: Auth, image_id: str) -> list[dict[str, Any]]:
        """The owner sees every member; a member project sees only itself."""
        policies.authorize(auth, "get_members", auth.project_id)
        async with self.core.db.session() as s:
            img = await self.core.find(s, auth, image_id)
            query = select(ImageMember).where(ImageMember.image_id == image_id)
            if not auth.is_admin and img.owner != auth.project_id:
                query = query.where(ImageMember.member == auth.project_id)
            rows = (await s.execute(query.order_by(ImageMember.created_at))).scalars()
            return [member_view(r) for r in rows]

    async def show(self, auth: Auth, image_id: str, member: str) -> dict[str, Any]:
        policies.authorize(auth, "get_member", auth.project_id)
        async with self.core.db.session() as s:
            img = await self.core.find(s, auth, image_id)
            row = await s.get(ImageMember, (image_id, member))
            mine = auth.is_admin or img.owner == auth.project_id or member == auth.project_id
            if row is None or not mine:
                raise errors.NotFound(f"Project {member} is not a member of image {image_id}.")
            return member_view(row)

    async def set_status(
        self, auth: Auth, image_id: str, member: str, status: Any
    ) -> dict[str, Any]:
        """The member project accepts or rejects (or resets to pending) the share."""
        if status not in c.MEMBER_STATUSES:
            raise errors.BadRequest(
                f"Invalid member status {status!r}; use one of {', '.join(c.MEMBER_STATUSES)}."
            )
        async with self.core.db.writer() as s:
            await self.core.find(s, auth, image_id)
            row = await s.get(ImageMember, (image_id, member))
            if row is None:
                raise errors.NotFound(f"Project {member} is not a member of image {image_id}.")
            if not auth.is_admin:
                if member != auth.project_id:
                    raise errors.Forbidden(
                        "Only the member project can accept or reject a shared image."
                    )
                policies.authorize(auth, "modify_member", member)
            row.status, row.updated_at = status, utcnow()
            return member_view(row)

    async def remove(self, auth: Auth, image_id: str, member: str) -> None:
        async with self.core.db.writer() as s:
            img = await self.core.find(s, auth, image_id)
            self._owner_only(auth, img, "delete")
            row = await s.get(ImageMember, (image_id, member))
            if row is None:
                raise errors.NotFound(f"Project {member} is not a member of image {image_id}.")
            await s.delete(row)
