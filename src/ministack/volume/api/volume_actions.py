"""POST /volumes/{id}/action: extend, bootable, readonly, image metadata, upload to image,
re-image (3.68), and the admin actions (force-delete, reset-status, force-detach), as Cinder's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, params, validation
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.rpc.base import RpcError
from ministack.common.web import empty_response, json_response
from ministack.volume import models as m
from ministack.volume import states as st
from ministack.volume.api import microversion, schemas
from ministack.volume.api.common import allowed, at_least, caller, core_of, iso, route, version
from ministack.volume.rpcapi.manager import UploadToImage

Action = Callable[[Request, str, Any], Awaitable[Response]]


async def _extend(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    auth = await caller(request, "volume:extend")
    attached_ok = at_least(request, "3.42") and allowed(auth, "volume:extend_attached_volume")
    await core_of(request).extend(auth, volume_id, int(arg["new_size"]), attached_ok)
    return empty_response(202)


async def _set_flag(
    request: Request, volume_id: str, rule: str, change: Callable[..., Any]
) -> None:
    auth = await caller(request, rule)
    core = core_of(request)
    async with core.db.writer() as s:
        row = await core.volume(s, auth, volume_id)
        await change(s, row)
        row.updated_at = utcnow()


async def _bootable(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    async def change(_s: Any, row: m.Volume) -> None:
        row.bootable = params.to_bool(arg["bootable"])

    await _set_flag(request, volume_id, "volume:update", change)
    return empty_response(200)


async def _readonly(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    core = core_of(request)
    value = "True" if params.to_bool(arg["readonly"]) else "False"

    async def change(s: Any, row: m.Volume) -> None:
        await core.set_metadata(s, row.id, "admin", {"readonly": value}, replace=False)

    await _set_flag(request, volume_id, "volume:update_readonly_flag", change)
    return empty_response(202)


async def _force_delete(request: Request, volume_id: str, _arg: Any) -> Response:
    auth = await caller(request, "volume:force_delete")
    await core_of(request).delete(auth, volume_id, force=True, cascade=True)
    return empty_response(202)


async def _reset_status(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    auth = await caller(request, "volume_extension:volume_admin_actions:reset_status")
    await core_of(request).reset_status(auth, volume_id, arg)
    return empty_response(202)


async def _force_detach(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    auth = await caller(request, "volume_extension:volume_admin_actions:force_detach")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await core.volume(s, auth, volume_id)
        stmt = delete(m.Attachment).where(m.Attachment.volume_id == volume_id)
        if arg.get("attachment_id"):
            stmt = stmt.where(m.Attachment.id == arg["attachment_id"])
        await s.execute(stmt)
        await s.flush()
        await core.refresh_attach_status(s, row)
    return empty_response(202)


async def _image_meta(request: Request, volume_id: str, arg: Any) -> Response:
    auth = await caller(request, "volume_extension:volume_image_metadata:show")
    core = core_of(request)
    async with core.db.session() as s:
        row = await core.volume(s, auth, volume_id)
        return json_response({"metadata": await core.metadata(s, row.id, "image")})


async def _set_image_meta(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    auth = await caller(request, "volume_extension:volume_image_metadata:set")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await core.volume(s, auth, volume_id)
        await core.set_metadata(s, row.id, "image", arg["metadata"], replace=False)
        return json_response({"metadata": await core.metadata(s, row.id, "image")})


async def _unset_image_meta(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    auth = await caller(request, "volume_extension:volume_image_metadata:remove")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await core.volume(s, auth, volume_id)
        gone = await s.execute(
            delete(m.VolumeMetadata).where(
                m.VolumeMetadata.volume_id == row.id,
                m.VolumeMetadata.kind == "image",
                m.VolumeMetadata.key == arg["key"],
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise errors.NotFound(
                f"Glance metadata for volume {row.id} with key {arg['key']} cannot be found."
            )
    return empty_response(200)


async def _reimage(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    """3.68: write an image onto the volume (Nova's rebuild of a volume-backed server)."""
    if not at_least(request, "3.68"):  # Cinder's VersionNotFoundForAPIMethod
        asked = microversion.fmt(version(request))
        raise errors.NotFound(f"API version {asked} is not supported on this method.")
    reserved = params.to_bool(arg.get("reimage_reserved") or False)
    rule = "volume:reimage_reserved" if reserved else "volume:reimage"
    auth = await caller(request, rule)
    await core_of(request).reimage(auth, volume_id, str(arg["image_id"]), reserved)
    return empty_response(202)


async def _reserve(request: Request, volume_id: str, _arg: Any) -> Response:
    await _move(
        request, volume_id, "volume_extension:volume_actions:reserve", (st.AVAILABLE,), st.ATTACHING
    )
    return empty_response(202)


async def _unreserve(request: Request, volume_id: str, _arg: Any) -> Response:
    await _move(
        request,
        volume_id,
        "volume_extension:volume_actions:unreserve",
        (st.ATTACHING,),
        st.AVAILABLE,
    )
    return empty_response(202)


async def _move(
    request: Request, volume_id: str, rule: str, expected: tuple[str, ...], to: str
) -> None:
    auth = await caller(request, rule)
    core = core_of(request)
    async with core.db.writer() as s:
        row = await core.volume(s, auth, volume_id)
        if row.status not in expected:
            raise errors.BadRequest(
                f"Invalid volume: Volume status must be {' or '.join(expected)} (it is "
                f"{row.status})."
            )
        row.status, row.updated_at = to, utcnow()


async def _upload(request: Request, volume_id: str, arg: dict[str, Any]) -> Response:
    auth = await caller(request, "volume_extension:volume_actions:upload_image")
    visibility = arg.get("visibility") or "private"
    if visibility == "public":
        await caller(request, "volume_extension:volume_actions:upload_public")
    disk_format = arg.get("disk_format") or "raw"
    if disk_format not in ("raw", "qcow2"):
        raise errors.BadRequest(
            f"Invalid input received: disk_format {disk_format!r}: a volume uploads as raw "
            "or qcow2."
        )
    container = arg.get("container_format") or "bare"
    force = params.to_bool(arg.get("force") or False)
    core = core_of(request)
    restore = await _begin_upload(core, auth, volume_id, force)
    try:
        image_id = await core.images.create_queued(
            arg["image_name"], disk_format, auth.project_id, None, container, visibility
        )
    except BaseException:
        await _end_upload(core, volume_id, restore)
        raise
    async with core.db.session() as s:
        row = await core.volume(s, auth, volume_id)
        vtype = await s.get(m.VolumeType, row.volume_type_id)
    try:
        await core.manager(row.host).upload_to_image(
            UploadToImage(volume_id, image_id, disk_format, restore)
        )
    except RpcError:
        await core.images.delete(image_id)
        await _end_upload(core, volume_id, restore)
        raise errors.ServiceUnavailable("No volume manager serves this volume's host.") from None
    body = {
        "id": volume_id,
        "updated_at": iso(row.updated_at),
        "status": st.UPLOADING,
        "display_description": row.description,
        "size": row.size,
        "volume_type": {"id": vtype.id, "name": vtype.name} if vtype else None,
        "image_id": image_id,
        "container_format": container,
        "disk_format": disk_format,
        "image_name": arg["image_name"],
        "protected": params.to_bool(arg.get("protected") or False),
        "visibility": visibility,
    }
    return json_response({"os-volume_upload_image": body}, 202)


async def _begin_upload(core: Any, auth: Auth, volume_id: str, force: bool) -> str:
    """Move the volume to uploading; returns the status to restore afterwards."""
    async with core.db.writer() as s:
        row = await core.volume(s, auth, volume_id)
        ok = (st.AVAILABLE, st.IN_USE) if force else (st.AVAILABLE,)
        if row.status not in ok:
            raise errors.BadRequest(
                f"Invalid volume: Volume {volume_id} status must be available or in-use with "
                f"force, but current status is: {row.status}."
            )
        restore: str = row.status
        row.status, row.updated_at = st.UPLOADING, utcnow()
        return restore


async def _end_upload(core: Any, volume_id: str, restore: str) -> None:
    async with core.db.writer() as s:
        row = await s.get(m.Volume, volume_id)
        if row is not None and row.status == st.UPLOADING:
            row.status = restore


ACTIONS: dict[str, Action] = {
    "os-extend": _extend,
    "os-set_bootable": _bootable,
    "os-update_readonly_flag": _readonly,
    "os-force_delete": _force_delete,
    "os-reset_status": _reset_status,
    "os-volume_upload_image": _upload,
    "os-set_image_metadata": _set_image_meta,
    "os-unset_image_metadata": _unset_image_meta,
    "os-show_image_metadata": _image_meta,
    "os-force_detach": _force_detach,
    "os-reserve": _reserve,
    "os-unreserve": _unreserve,
    "os-reimage": _reimage,
}


async def volume_action(request: Request) -> Response:
    body = validation.body(request)
    ((name, arg),) = body.items()
    return await ACTIONS[name](request, request.path_params["volume_id"], arg)


ROUTES = [
    route(
        "/v3/{project_id}/volumes/{volume_id}/action",
        volume_action,
        "POST",
        body=schemas.volume_action,
    ),
]
