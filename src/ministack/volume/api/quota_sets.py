"""Quota sets (show with usage, defaults, update, delete) and limits, as Cinder answers
them; a project sees its own, an admin any."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, params, validation
from ministack.common.auth import Auth
from ministack.common.web import json_response
from ministack.volume import models as m
from ministack.volume import quotas
from ministack.volume.api import schemas
from ministack.volume.api.common import caller, core_of, route


def _target(request: Request, auth: Auth) -> str:
    target: str = request.path_params["target"]
    if target != auth.project_id and not auth.reads_all:
        raise errors.Forbidden("You are not authorized to see another project's quotas.")
    return target


async def show_quota_set(request: Request) -> Response:
    auth = await caller(request, "volume_extension:quotas:show")
    target = _target(request, auth)
    with_usage = params.to_bool(validation.query(request).get("usage", "false"))
    async with core_of(request).db.session() as s:
        limit = await quotas.limits(s, target)
        used = await quotas.usage(s, target)
    body: dict[str, Any] = {"id": target}
    for key, value in limit.items():
        if with_usage:
            body[key] = {"limit": value, "in_use": used.get(key, 0), "reserved": 0, "allocated": 0}
        else:
            body[key] = value
    return json_response({"quota_set": body})


async def show_defaults(request: Request) -> Response:
    await caller(request, "volume_extension:quotas:show")
    async with core_of(request).db.session() as s:
        defaults = await quotas.defaults(s)
    return json_response({"quota_set": {"id": request.path_params["target"], **defaults}})


async def update_quota_set(request: Request) -> Response:
    auth = await caller(request, "volume_extension:quotas:update")
    target = request.path_params["target"]
    items = validation.body(request)["quota_set"]
    async with core_of(request).db.writer() as s:
        unknown = sorted(set(items) - set(await quotas.defaults(s)))
        if unknown:  # a type's own keys exist for the types that exist
            raise errors.BadRequest(
                f"Invalid input received: Bad key(s) in quota set: {', '.join(unknown)}"
            )
        used = await quotas.usage(s, target)
        for key, raw in items.items():
            value = int(raw)
            if value >= 0 and key != "per_volume_gigabytes" and value < used.get(key, 0):
                raise errors.BadRequest(
                    f"Invalid input received: Quota limit {value} for {key} must be equal or "
                    f"greater than existing resources. Current usage is {used.get(key, 0)}."
                )
            await s.merge(m.QuotaLimit(project_id=target, resource=key, hard_limit=value))
        await s.flush()
        limit = await quotas.limits(s, target)
    del auth
    return json_response({"quota_set": limit})


async def delete_quota_set(request: Request) -> Response:
    await caller(request, "volume_extension:quotas:delete")
    async with core_of(request).db.writer() as s:
        await s.execute(
            delete(m.QuotaLimit).where(m.QuotaLimit.project_id == request.path_params["target"])
        )
    return Response(status_code=200)


async def show_limits(request: Request) -> Response:
    auth = await caller(request, "limits_extension:used_limits")
    project = auth.project_id or ""
    async with core_of(request).db.session() as s:
        limit = await quotas.limits(s, project)
        used = await quotas.usage(s, project)
    absolute = {
        "maxTotalVolumes": limit["volumes"],
        "maxTotalSnapshots": limit["snapshots"],
        "maxTotalVolumeGigabytes": limit["gigabytes"],
        "maxTotalBackups": limit["backups"],
        "maxTotalBackupGigabytes": limit["backup_gigabytes"],
        "totalVolumesUsed": used["volumes"],
        "totalSnapshotsUsed": used["snapshots"],
        "totalGigabytesUsed": used["gigabytes"],
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }
    return json_response({"limits": {"rate": [], "absolute": absolute}})


Q = "/v3/{project_id}/os-quota-sets/{target}"
ROUTES = [
    route(Q + "/defaults", show_defaults, "GET"),
    route(Q, show_quota_set, "GET", query=schemas.quota_query),
    route(Q, update_quota_set, "PUT", body=schemas.update_quota),
    route(Q, delete_quota_set, "DELETE"),
    route("/v3/{project_id}/limits", show_limits, "GET"),
]
