"""Snapshots: create (copy-on-write in the backend), list/detail with filters and
limit/marker, show, update, delete, metadata, and the admin actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, params, validation
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.pagination import MAX_LIMIT, Page, paginate
from ministack.common.rpc.base import RpcError
from ministack.common.web import empty_response, json_response
from ministack.volume import models as m
from ministack.volume import snapshots
from ministack.volume import states as st
from ministack.volume.api import schemas, views
from ministack.volume.api.common import caller, core_of, route
from ministack.volume.snapshots import NewSnapshot

DELETABLE = (st.AVAILABLE, st.ERROR, st.ERROR_DELETING)


async def _meta(s: AsyncSession, snapshot_ids: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {i: {} for i in snapshot_ids}
    rows = await s.execute(
        select(m.SnapshotMetadata).where(m.SnapshotMetadata.snapshot_id.in_(snapshot_ids))
    )
    for r in rows.scalars():
        out[r.snapshot_id][r.key] = r.value
    return out


async def _render(s: AsyncSession, request: Request, auth: Auth, snap: m.Snapshot) -> Any:
    meta = await _meta(s, [snap.id])
    return {"snapshot": views.snapshot(request, auth, snap, meta[snap.id])}


async def create_snapshot(request: Request) -> Response:
    auth = await caller(request, "volume:create_snapshot")
    body = validation.body(request)["snapshot"]
    core = core_of(request)
    req = NewSnapshot(
        volume_id=body["volume_id"],
        name=body.get("name", body.get("display_name")),
        description=body.get("description", body.get("display_description")),
        metadata=dict(body.get("metadata") or {}),
        force=params.to_bool(body.get("force", False)),
    )
    snap = await snapshots.create(core, auth, req)
    async with core.db.session() as s:
        fresh = await s.get(m.Snapshot, snap.id) or snap
        return json_response(await _render(s, request, auth, fresh), 202)


async def _list(request: Request, detail: bool) -> Response:
    auth = await caller(request, "volume:get_all_snapshots")
    query = validation.query(request)
    stmt = select(m.Snapshot)
    if not (auth.reads_all and params.to_bool(query.get("all_tenants", "false"))):
        stmt = stmt.where(m.Snapshot.project_id == request.path_params["project_id"])
    for key in ("name", "status", "volume_id"):
        if query.get(key):
            stmt = stmt.where(getattr(m.Snapshot, key) == query[key])
    limit = min(int(query["limit"]), MAX_LIMIT) if query.get("limit") else None
    async with core_of(request).db.session() as s:
        page = await paginate(
            s,
            stmt,
            Page(limit, query.get("marker")),
            m.Snapshot.id,
            m.Snapshot.created_at,
            True,
        )
        rows = list((await s.execute(page)).scalars())
        meta = await _meta(s, [r.id for r in rows])
    if detail:
        items = [views.snapshot(request, auth, r, meta[r.id]) for r in rows]
    else:
        items = [views.snapshot(request, auth, r, meta[r.id]) for r in rows]
    return json_response({"snapshots": items})


async def list_snapshots(request: Request) -> Response:
    return await _list(request, False)


async def list_snapshots_detail(request: Request) -> Response:
    return await _list(request, True)


async def show_snapshot(request: Request) -> Response:
    auth = await caller(request, "volume:get_snapshot")
    core = core_of(request)
    async with core.db.session() as s:
        snap = await core.snapshot(s, auth, request.path_params["snapshot_id"])
        return json_response(await _render(s, request, auth, snap))


async def update_snapshot(request: Request) -> Response:
    auth = await caller(request, "volume:update_snapshot")
    body = validation.body(request)["snapshot"]
    core = core_of(request)
    async with core.db.writer() as s:
        snap = await core.snapshot(s, auth, request.path_params["snapshot_id"])
        if "name" in body or "display_name" in body:
            snap.name = body.get("name", body.get("display_name"))
        if "description" in body or "display_description" in body:
            snap.description = body.get("description", body.get("display_description"))
        snap.updated_at = utcnow()
        return json_response(await _render(s, request, auth, snap))


async def _delete(request: Request, snapshot_id: str, auth: Auth, force: bool) -> None:
    core = core_of(request)
    async with core.db.writer() as s:
        snap = await core.snapshot(s, auth, snapshot_id)
        if not force and snap.status not in DELETABLE:
            raise errors.BadRequest(
                "Invalid snapshot: Snapshot status must be available or error and must not be "
                f"part of a group (it is {snap.status})."
            )
        snap.status, snap.updated_at = st.DELETING, utcnow()
        volume = await s.get(m.Volume, snap.volume_id)
        host = volume.host if volume else None
    try:
        await core.manager(host).delete_snapshot(snapshot_id)
    except RpcError as exc:
        async with core.db.writer() as s:
            row = await s.get(m.Snapshot, snapshot_id)
            if row is not None:
                row.status, row.fault = st.ERROR_DELETING, str(exc)


async def delete_snapshot(request: Request) -> Response:
    auth = await caller(request, "volume:delete_snapshot")
    await _delete(request, request.path_params["snapshot_id"], auth, force=False)
    return empty_response(202)


async def snapshot_action(request: Request) -> Response:
    body = validation.body(request)
    snapshot_id = request.path_params["snapshot_id"]
    if "os-force_delete" in body:
        auth = await caller(request, "volume_extension:snapshot_admin_actions:force_delete")
        await _delete(request, snapshot_id, auth, force=True)
        return empty_response(202)
    auth = await caller(request, "volume_extension:snapshot_admin_actions:reset_status")
    status = body["os-reset_status"]["status"]
    if status not in st.SNAPSHOT_STATUSES:
        raise errors.BadRequest(f"Invalid input received: status {status!r}")
    core = core_of(request)
    async with core.db.writer() as s:
        snap = await core.snapshot(s, auth, snapshot_id)
        snap.status, snap.updated_at = status, utcnow()
    return empty_response(202)


# --- metadata ---------------------------------------------------------------------------


async def _meta_of(request: Request, rule: str) -> tuple[Auth, str]:
    auth = await caller(request, rule)
    core = core_of(request)
    async with core.db.session() as s:
        snap = await core.snapshot(s, auth, request.path_params["snapshot_id"])
    return auth, snap.id


async def list_snapshot_metadata(request: Request) -> Response:
    _, snap_id = await _meta_of(request, "volume:get_snapshot_metadata")
    async with core_of(request).db.session() as s:
        return json_response({"metadata": (await _meta(s, [snap_id]))[snap_id]})


async def _write_meta(request: Request, items: dict[str, str], replace: bool) -> dict[str, str]:
    _, snap_id = await _meta_of(request, "volume:update_snapshot_metadata")
    async with core_of(request).db.writer() as s:
        if replace:
            await s.execute(
                delete(m.SnapshotMetadata).where(m.SnapshotMetadata.snapshot_id == snap_id)
            )
        for key, value in items.items():
            await s.merge(m.SnapshotMetadata(snapshot_id=snap_id, key=key, value=value))
        await s.flush()
        return (await _meta(s, [snap_id]))[snap_id]


async def set_snapshot_metadata(request: Request) -> Response:
    items = validation.body(request)["metadata"]
    return json_response({"metadata": await _write_meta(request, items, False)})


async def replace_snapshot_metadata(request: Request) -> Response:
    items = validation.body(request)["metadata"]
    return json_response({"metadata": await _write_meta(request, items, True)})


async def show_snapshot_metadata_item(request: Request) -> Response:
    _, snap_id = await _meta_of(request, "volume:get_snapshot_metadata")
    key = request.path_params["key"]
    async with core_of(request).db.session() as s:
        meta = (await _meta(s, [snap_id]))[snap_id]
    if key not in meta:
        raise errors.NotFound(f"Snapshot {snap_id} has no metadata with key {key}.")
    return json_response({"meta": {key: meta[key]}})


async def update_snapshot_metadata_item(request: Request) -> Response:
    item = validation.body(request)["meta"]
    if request.path_params["key"] not in item:
        raise errors.BadRequest("Request body and URI mismatch")
    await _write_meta(request, item, False)
    return json_response({"meta": item})


async def delete_snapshot_metadata_item(request: Request) -> Response:
    _, snap_id = await _meta_of(request, "volume:delete_snapshot_metadata")
    key = request.path_params["key"]
    async with core_of(request).db.writer() as s:
        gone = await s.execute(
            delete(m.SnapshotMetadata).where(
                m.SnapshotMetadata.snapshot_id == snap_id, m.SnapshotMetadata.key == key
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise errors.NotFound(f"Snapshot {snap_id} has no metadata with key {key}.")
    return empty_response(200)


P = "/v3/{project_id}/snapshots"
M = P + "/{snapshot_id}/metadata"
ROUTES = [
    route(P, create_snapshot, "POST", body=schemas.create_snapshot),
    route(P, list_snapshots, "GET", query=schemas.list_query),
    route(P + "/detail", list_snapshots_detail, "GET", query=schemas.list_query),
    route(P + "/{snapshot_id}", show_snapshot, "GET"),
    route(P + "/{snapshot_id}", update_snapshot, "PUT", body=schemas.update_snapshot),
    route(P + "/{snapshot_id}", delete_snapshot, "DELETE"),
    route(P + "/{snapshot_id}/action", snapshot_action, "POST", body=schemas.snapshot_action),
    route(M, list_snapshot_metadata, "GET"),
    route(M, set_snapshot_metadata, "POST", body=schemas.metadata_body),
    route(M, replace_snapshot_metadata, "PUT", body=schemas.metadata_body),
    route(M + "/{key:path}", show_snapshot_metadata_item, "GET"),
    route(M + "/{key:path}", update_snapshot_metadata_item, "PUT", body=schemas.meta_item),
    route(M + "/{key:path}", delete_snapshot_metadata_item, "DELETE"),
]
