"""The image service's logic: who sees which image, and the life cycle of image records.

API handlers and the in-process `ImageClient` both call `ImageCore`; it never touches HTTP.
Visibility follows Glance: an image is visible to its owner, to everyone when public or
community, to member projects when shared; anything else is 404. Writes need the member role
on the owner project (or admin); making an image public needs admin.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors, policy
from ministack.common.auth import Auth
from ministack.common.db import Database, utcnow
from ministack.config import ImageSection, Settings
from ministack.image import attrs, locations, policies, quotas
from ministack.image import constants as c
from ministack.image.models import Image, ImageMember, ImageProperty, ImageTag
from ministack.image.store import Stores, discard
from ministack.image.views import render_one

logger = logging.getLogger("ministack.image")


class Gone(errors.ApiError):
    status, title, nova_key = 410, "Gone", "gone"


class RangeNotSatisfiable(errors.ApiError):
    status, title, nova_key = 416, "Requested Range Not Satisfiable", "badRequest"


class ImageCore:
    def __init__(self, settings: Settings, db: Database, stores: Stores) -> None:
        self.settings = settings
        self.db = db
        self.stores = stores
        self.store = stores.local  # scratch and staging files, and the "file" store

    @property
    def limits(self) -> ImageSection:
        return self.settings.image

    # -- access -----------------------------------------------------------------------------

    async def find(self, s: AsyncSession, auth: Auth, image_id: str) -> Image:
        """The image if `auth` may see it; 404 otherwise (never reveals that it exists).

        403 first when the caller may read no image at all (policy image:get_image).
        """
        policies.authorize(auth, "get_image", auth.project_id)
        img = await s.get(Image, image_id)
        if img is None or not await self.visible(s, auth, img):
            raise errors.NotFound(f"No image found with ID {image_id}.")
        return img

    async def visible(self, s: AsyncSession, auth: Auth, img: Image) -> bool:
        if auth.reads_all or img.owner == auth.project_id:
            return True
        if img.visibility in ("public", "community"):
            return True
        if img.visibility == "shared" and auth.project_id:
            return await s.get(ImageMember, (img.id, auth.project_id)) is not None
        return False

    @staticmethod
    def enforce_write(auth: Auth, img: Image, action: str = "modify_image") -> None:
        """403 unless policy `action` allows the caller on the owner project."""
        policies.authorize(auth, action, img.owner)

    # -- records ----------------------------------------------------------------------------

    async def create(self, auth: Auth, body: dict[str, Any]) -> dict[str, Any]:
        """Create a queued image record. 403 read-only/publicize, 400 bad values, 413 quota."""
        policies.authorize(auth, "add_image", auth.project_id)
        image_id = body.get("id")
        if image_id is not None:
            try:
                image_id = str(uuid.UUID(str(image_id)))
            except ValueError:
                raise errors.BadRequest(
                    f"Invalid image id {image_id!r}: a UUID is required."
                ) from None
        base: dict[str, Any] = {
            "visibility": "shared",
            "protected": False,
            "os_hidden": False,
            "min_disk": 0,
            "min_ram": 0,
        }
        props: dict[str, str] = {}
        tags: list[str] = []
        for name, value in body.items():
            if name == "id":
                continue
            attrs.check_name_allowed(name)
            if name == "tags":
                tags = attrs.tags_value(value)
            elif name in c.BASE_WRITABLE:
                base[name] = attrs.base_value(name, value)
            else:
                props[name] = attrs.property_value(name, value)
        if len(props) > c.MAX_PROPERTIES:
            raise errors.PayloadTooLarge(
                f"An image may have at most {c.MAX_PROPERTIES} properties."
            )
        owner = base.pop("owner", None) or auth.project_id
        if owner is None:  # a system-scoped token has no project to own the image
            raise errors.Forbidden(
                "An image belongs to a project: name its owner, or use a project-scoped token."
            )
        self._check_publicize(auth, base.get("visibility"))
        if owner != auth.project_id and not auth.is_admin:
            raise errors.Forbidden("Only an admin may create an image owned by another project.")
        now = utcnow()
        async with self.db.writer() as s:
            if image_id and await s.get(Image, image_id) is not None:
                raise errors.Conflict(f"An image with ID {image_id} already exists.")
            await quotas.check_count(s, self.limits, owner)
            img = Image(
                id=image_id or str(uuid.uuid4()),
                status=c.QUEUED,
                owner=owner,
                created_at=now,
                updated_at=now,
                **base,
            )
            s.add(img)
            await s.flush()
            s.add_all(ImageProperty(image_id=img.id, name=k, value=v) for k, v in props.items())
            s.add_all(ImageTag(image_id=img.id, value=t) for t in tags)
            await s.flush()
            return await render_one(s, img)

    @staticmethod
    def _check_publicize(auth: Auth, visibility: str | None) -> None:
        if visibility == "public" and not policy.check(auth, policies.RULES["publicize_image"]):
            raise errors.Forbidden(
                "You are not authorized to make an image public: only an admin can "
                "(policy image:publicize_image). Use visibility 'shared' or 'community'."
            )

    async def show(self, auth: Auth, image_id: str) -> dict[str, Any]:
        async with self.db.session() as s:
            return await render_one(s, await self.find(s, auth, image_id))

    async def update(self, auth: Auth, image_id: str, ops: list[attrs.Op]) -> dict[str, Any]:
        """Apply JSON-patch operations atomically: all of them or none."""
        async with self.db.writer() as s:
            img = await self.find(s, auth, image_id)
            self.enforce_write(auth, img)
            props = {
                p.name: p
                for p in (
                    await s.execute(select(ImageProperty).where(ImageProperty.image_id == img.id))
                ).scalars()
            }
            for op in ops:
                await self._apply(s, auth, img, props, op)
            if len(props) > c.MAX_PROPERTIES:
                raise errors.PayloadTooLarge(
                    f"An image may have at most {c.MAX_PROPERTIES} properties."
                )
            img.updated_at = utcnow()
            await s.flush()
            return await render_one(s, img)

    async def _apply(
        self,
        s: AsyncSession,
        auth: Auth,
        img: Image,
        props: dict[str, ImageProperty],
        op: attrs.Op,
    ) -> None:
        if op.name == "tags":
            if op.op == "remove":
                raise errors.Forbidden("Attribute 'tags' cannot be removed; replace it with [].")
            tags = attrs.tags_value(op.value)
            await s.execute(delete(ImageTag).where(ImageTag.image_id == img.id))
            s.add_all(ImageTag(image_id=img.id, value=t) for t in tags)
        elif op.name in c.BASE_WRITABLE:
            if op.op == "remove":
                raise errors.Forbidden(f"Attribute '{op.name}' cannot be removed.")
            value = attrs.base_value(op.name, op.value)
            if op.name == "visibility":
                self._check_publicize(auth, value)
            elif op.name == "owner" and value != img.owner and not auth.is_admin:
                raise errors.Forbidden("Only an admin may change an image's owner.")
            elif (
                op.name in ("disk_format", "container_format")
                and img.status != c.QUEUED
                and value != getattr(img, op.name)
            ):
                raise errors.Forbidden(
                    f"Attribute {op.name} can be only replaced for a queued image."
                )
            setattr(img, op.name, value)
        elif op.op == "remove" or op.op == "replace":
            row = props.get(op.name)
            if row is None:
                raise errors.Conflict(f"Property {op.name} does not exist.")
            if op.op == "remove":
                await s.delete(row)
                del props[op.name]
            else:
                row.value = attrs.property_value(op.name, op.value)
        else:
            value = attrs.property_value(op.name, op.value)
            if op.name in props:
                props[op.name].value = value
            else:
                props[op.name] = ImageProperty(image_id=img.id, name=op.name, value=value)
                s.add(props[op.name])

    async def delete(self, auth: Auth, image_id: str) -> None:
        """Delete the record and its data. 403 when protected; an upload in flight gets 410."""
        async with self.db.writer() as s:
            img = await self.find(s, auth, image_id)
            self.enforce_write(auth, img, "delete_image")
            if img.protected:
                raise errors.Forbidden(
                    f"Image {image_id} is protected and cannot be deleted; "
                    "set protected to false first."
                )
            found = locations.parse(img.location)
            await s.delete(img)
        await self.delete_data(found)
        discard(self.store.staging_path(image_id))

    async def delete_data(self, found: dict[str, str]) -> None:
        """Remove the data at every location (each store's delete is idempotent)."""
        for store_id, location in found.items():
            if store_id not in self.stores.enabled:
                logger.warning("image data left at %s: store %s is not enabled", location, store_id)
                continue
            await self.stores.get(store_id).delete(location)

    async def set_tag(self, auth: Auth, image_id: str, tag: str, add: bool) -> None:
        """Add (idempotent) or remove (404 when absent) one tag."""
        attrs.tag_value(tag)
        async with self.db.writer() as s:
            img = await self.find(s, auth, image_id)
            self.enforce_write(auth, img)
            row = await s.get(ImageTag, (img.id, tag))
            if add and row is None:
                count = len(
                    (
                        await s.execute(select(ImageTag.value).where(ImageTag.image_id == img.id))
                    ).all()
                )
                if count >= c.MAX_TAGS:
                    raise errors.PayloadTooLarge(f"An image may have at most {c.MAX_TAGS} tags.")
                s.add(ImageTag(image_id=img.id, value=tag))
            elif not add:
                if row is None:
                    raise errors.NotFound(f"Tag {tag} not found on image {image_id}.")
                await s.delete(row)
            img.updated_at = utcnow()

    async def set_active(self, auth: Auth, image_id: str, active: bool) -> None:
        """Deactivate (active -> deactivated) or reactivate; idempotent; 403 in other states."""
        async with self.db.writer() as s:
            img = await self.find(s, auth, image_id)
            action = "reactivate" if active else "deactivate"
            self.enforce_write(auth, img, action)
            want, source = (c.ACTIVE, c.DEACTIVATED) if active else (c.DEACTIVATED, c.ACTIVE)
            if img.status == want:
                return
            if img.status != source:
                raise errors.Forbidden(f"Not allowed to {action} image in status '{img.status}'.")
            img.status = want
            img.updated_at = utcnow()
