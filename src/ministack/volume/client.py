"""How other services reach the volume service: one Protocol, `VolumeApi`, two transports.

- `VolumeClient` (in-process): the volume core and attachments code as a trusted caller
  acting for a project; used when the volume service runs in the caller's process.
- `HttpVolumeClient`: the Block Storage v3 API (microversion 3.44) as a service user
  (`ServiceSession`: the calling service's own user, e.g. `nova`).

`for_context` picks one. Where it sits: the compute API and agents (attach, detach, boot from
volume) call it; answers are the API's JSON (volume, attachment with connection_info).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.runtime import Context
from ministack.identity.client import ServiceSession
from ministack.image import client as image_client
from ministack.volume import attachments, snapshots
from ministack.volume import models as m
from ministack.volume.core import NewVolume, VolumeCore
from ministack.volume.snapshots import NewSnapshot

MICROVERSION = {"OpenStack-API-Version": "volume 3.44"}


@dataclass(frozen=True)
class VolumeRequest:
    """A volume compute makes for a server (boot from volume): from an image, a snapshot or
    blank, in the server's project."""

    size: int | None
    name: str
    image_id: str | None = None
    snapshot_id: str | None = None
    volume_type: str | None = None
    description: str | None = None

    def body(self) -> dict[str, Any]:
        """Block Storage v3's create body."""
        out: dict[str, Any] = {"size": self.size, "name": self.name}
        for key, value in (
            ("imageRef", self.image_id),
            ("snapshot_id", self.snapshot_id),
            ("volume_type", self.volume_type),
            ("description", self.description),
        ):
            if value is not None:
                out[key] = value
        return out


class VolumeApi(Protocol):
    """What other services may ask of the volume service, acting for `project_id`. Errors
    are `errors.ApiError`s (NotFound, BadRequest, ServiceUnavailable...)."""

    async def get(self, project_id: str, volume_id: str) -> dict[str, Any]:
        """id, status, size, attach_status, bootable, project_id, fault and
        volume_image_metadata of the volume."""
        ...

    async def create(self, project_id: str, req: VolumeRequest) -> dict[str, Any]:
        """A new volume of `project_id` (status creating; claims the project's quota, 413
        over it); answers as `get`."""
        ...

    async def get_snapshot(self, project_id: str, snapshot_id: str) -> dict[str, Any]:
        """id, status, size, volume_id, project_id of the snapshot."""
        ...

    async def create_snapshot(
        self, project_id: str, volume_id: str, name: str, force: bool
    ) -> dict[str, Any]:
        """A new snapshot of the volume (creating; `force`: also of an in-use volume);
        answers as `get_snapshot`. 400 when the volume cannot be snapshotted, 413 over quota."""
        ...

    async def reimage(self, project_id: str, volume_id: str, image_id: str) -> None:
        """Write the image onto the volume a server holds (os-reimage, reimage_reserved):
        it goes downloading, and the server is told volume-reimaged when it is done. 400 when
        the volume is not reserved or available or the image does not fit."""
        ...

    async def attachment_create(
        self,
        project_id: str,
        volume_id: str,
        instance_uuid: str,
        connector: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """A new attachment (reserved, or attaching with connection_info for a connector)."""
        ...

    async def attachment_update(
        self, project_id: str, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def attachment_complete(self, project_id: str, attachment_id: str) -> None: ...

    async def attachment_delete(self, project_id: str, attachment_id: str) -> None:
        """Idempotent: an attachment already gone is not an error."""
        ...

    async def delete(self, project_id: str, volume_id: str) -> None:
        """Delete the volume (a server's delete_on_termination); a volume already gone is
        not an error."""
        ...


def service_auth(project_id: str) -> Auth:
    """A trusted in-process caller acting in `project_id` (sees every project's volumes)."""
    return Auth(
        user_id="ministack-service",
        user_name="ministack-service",
        user_domain_id="default",
        roles=("admin", "member", "reader", "service"),
        expires_at=dt.datetime.max,
        project_id=project_id,
    )


def _iso(when: dt.datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") if when else None


def _attachment(att: m.Attachment, info: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": att.id,
        "status": att.attach_status,
        "instance": att.instance_uuid,
        "volume_id": att.volume_id,
        "attached_at": _iso(att.attach_time),
        "detached_at": _iso(att.detach_time),
        "attach_mode": att.attach_mode,
        "connection_info": info,
    }


def _summary(row: m.Volume) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "size": row.size,
        "attach_status": row.attach_status,
        "bootable": "true" if row.bootable else "false",
        "project_id": row.project_id,
        "multiattach": row.multiattach,
        "fault": row.fault,
    }


class VolumeClient:
    """`VolumeApi` in-process."""

    def __init__(self, core: VolumeCore) -> None:
        self.core = core

    async def get(self, project_id: str, volume_id: str) -> dict[str, Any]:
        async with self.core.db.session() as s:
            row = await self.core.volume(s, service_auth(project_id), volume_id)
            image_meta = await self.core.metadata(s, row.id, "image")
        return {**_summary(row), "volume_image_metadata": image_meta}

    async def create(self, project_id: str, req: VolumeRequest) -> dict[str, Any]:
        new = NewVolume(
            size=req.size,
            name=req.name,
            description=req.description,
            volume_type=req.volume_type,
            availability_zone=None,
            metadata={},
            snapshot_id=req.snapshot_id,
            source_volid=None,
            image_ref=req.image_id,
            multiattach=False,
            bootable=False,
        )
        return _summary(await self.core.create(service_auth(project_id), new))

    async def get_snapshot(self, project_id: str, snapshot_id: str) -> dict[str, Any]:
        async with self.core.db.session() as s:
            snap = await self.core.snapshot(s, service_auth(project_id), snapshot_id)
        return {
            "id": snap.id,
            "status": snap.status,
            "size": snap.size,
            "volume_id": snap.volume_id,
            "project_id": snap.project_id,
        }

    async def create_snapshot(
        self, project_id: str, volume_id: str, name: str, force: bool
    ) -> dict[str, Any]:
        req = NewSnapshot(volume_id=volume_id, name=name, force=force)
        snap = await snapshots.create(self.core, service_auth(project_id), req)
        return await self.get_snapshot(project_id, snap.id)

    async def reimage(self, project_id: str, volume_id: str, image_id: str) -> None:
        await self.core.reimage(service_auth(project_id), volume_id, image_id, True)

    async def attachment_create(
        self,
        project_id: str,
        volume_id: str,
        instance_uuid: str,
        connector: dict[str, Any] | None,
    ) -> dict[str, Any]:
        auth = service_auth(project_id)
        att, info = await attachments.create(self.core, auth, volume_id, instance_uuid, connector)
        return _attachment(att, info)

    async def attachment_update(
        self, project_id: str, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        auth = service_auth(project_id)
        att, info = await attachments.update(self.core, auth, attachment_id, connector)
        return _attachment(att, info)

    async def attachment_complete(self, project_id: str, attachment_id: str) -> None:
        await attachments.complete(self.core, service_auth(project_id), attachment_id)

    async def attachment_delete(self, project_id: str, attachment_id: str) -> None:
        try:
            await attachments.delete(self.core, service_auth(project_id), attachment_id)
        except errors.NotFound:
            pass

    async def delete(self, project_id: str, volume_id: str) -> None:
        try:
            await self.core.delete(service_auth(project_id), volume_id, force=False, cascade=True)
        except errors.NotFound:
            pass


_ERRORS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    503: errors.ServiceUnavailable,
}


def _check(resp: httpx.Response, what: str) -> dict[str, Any]:
    if resp.status_code < 400:
        return resp.json() if resp.content else {}
    try:
        body = resp.json()
        message = next(iter(body.values()))["message"]
    except (ValueError, StopIteration, KeyError, TypeError, AttributeError):
        message = resp.text[:500]
    raise _ERRORS.get(resp.status_code, errors.InternalError)(f"{what}: {message}")


class HttpVolumeClient:
    """`VolumeApi` over HTTP as a service user (admin on the service project, so it reaches
    any project's volumes; the URL names the volume's project)."""

    def __init__(self, session: ServiceSession) -> None:
        self.session = session

    async def _call(
        self, project_id: str, method: str, path: str, what: str, **kw: Any
    ) -> dict[str, Any]:
        base = await self.session.endpoint("block-storage")
        root = base.rsplit("/v3/", 1)[0]
        url = f"/v3/{project_id}{path}"
        headers = {**MICROVERSION, **kw.pop("headers", {})}
        resp = await self.session.http.request(
            method,
            root + url,
            headers={**headers, "X-Auth-Token": await self.session.token()},
            **kw,
        )
        return _check(resp, what)

    async def get(self, project_id: str, volume_id: str) -> dict[str, Any]:
        body = await self._call(project_id, "GET", f"/volumes/{volume_id}", f"Volume {volume_id}")
        volume: dict[str, Any] = body["volume"]
        return volume

    async def create(self, project_id: str, req: VolumeRequest) -> dict[str, Any]:
        # Known gap: Cinder makes the volume in the token's project (the service user's
        # here); Nova would use the user's own token.
        body = await self._call(
            project_id, "POST", "/volumes", "Creating a volume", json={"volume": req.body()}
        )
        volume: dict[str, Any] = body["volume"]
        return volume

    async def get_snapshot(self, project_id: str, snapshot_id: str) -> dict[str, Any]:
        body = await self._call(
            project_id, "GET", f"/snapshots/{snapshot_id}", f"Snapshot {snapshot_id}"
        )
        snap: dict[str, Any] = body["snapshot"]
        return snap

    async def create_snapshot(
        self, project_id: str, volume_id: str, name: str, force: bool
    ) -> dict[str, Any]:
        body = await self._call(
            project_id,
            "POST",
            "/snapshots",
            f"Snapshotting volume {volume_id}",
            json={"snapshot": {"volume_id": volume_id, "name": name, "force": force}},
        )
        snap: dict[str, Any] = body["snapshot"]
        return snap

    async def reimage(self, project_id: str, volume_id: str, image_id: str) -> None:
        await self._call(
            project_id,
            "POST",
            f"/volumes/{volume_id}/action",
            f"Re-imaging volume {volume_id}",
            json={"os-reimage": {"image_id": image_id, "reimage_reserved": True}},
            headers={"OpenStack-API-Version": "volume 3.68"},
        )

    async def attachment_create(
        self,
        project_id: str,
        volume_id: str,
        instance_uuid: str,
        connector: dict[str, Any] | None,
    ) -> dict[str, Any]:
        req = {"volume_uuid": volume_id, "instance_uuid": instance_uuid, "connector": connector}
        body = await self._call(
            project_id,
            "POST",
            "/attachments",
            f"Attaching volume {volume_id}",
            json={"attachment": req},
        )
        att: dict[str, Any] = body["attachment"]
        return att

    async def attachment_update(
        self, project_id: str, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        body = await self._call(
            project_id,
            "PUT",
            f"/attachments/{attachment_id}",
            f"Attachment {attachment_id}",
            json={"attachment": {"connector": connector}},
        )
        att: dict[str, Any] = body["attachment"]
        return att

    async def attachment_complete(self, project_id: str, attachment_id: str) -> None:
        await self._call(
            project_id,
            "POST",
            f"/attachments/{attachment_id}/action",
            f"Attachment {attachment_id}",
            json={"os-complete": None},
        )

    async def attachment_delete(self, project_id: str, attachment_id: str) -> None:
        try:
            await self._call(
                project_id,
                "DELETE",
                f"/attachments/{attachment_id}",
                f"Attachment {attachment_id}",
            )
        except errors.NotFound:
            pass

    async def delete(self, project_id: str, volume_id: str) -> None:
        try:
            await self._call(
                project_id,
                "DELETE",
                f"/volumes/{volume_id}?cascade=true",
                f"Volume {volume_id}",
            )
        except errors.NotFound:
            pass


def in_process(ctx: Context, user: str) -> VolumeClient:
    images = image_client.for_context(ctx, user)
    return VolumeClient(VolumeCore(ctx.settings, ctx.db, ctx.bus, images))


def for_context(ctx: Context, user: str) -> VolumeApi:
    """In-process when the volume service runs in this process, over HTTP (as service user
    `user`) otherwise."""
    if ctx.runs("volume"):
        return in_process(ctx, user)
    return HttpVolumeClient(ServiceSession.for_service(ctx.settings, user))
