"""Volume transfers: offer a volume (awaiting-transfer, an auth key shown once), another
project accepts it with the key (quota claimed there), or the offer is deleted. Served at
os-volume-transfer and, from 3.55, volume-transfers (no_snapshots)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, params, validation
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.web import empty_response, json_response
from ministack.volume import models as m
from ministack.volume import quotas
from ministack.volume import states as st
from ministack.volume.api import schemas
from ministack.volume.api.common import at_least, base_url, caller, core_of, iso, route


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256((salt + key).encode()).hexdigest()


def _view(request: Request, t: m.Transfer, detail: bool) -> dict[str, Any]:
    collection = (
        "volume-transfers" if "volume-transfers" in request.url.path else ("os-volume-transfer")
    )
    href = f"{base_url(request)}/v3/{t.project_id}/{collection}/{t.id}"
    body: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "volume_id": t.volume_id,
        "links": [{"rel": "self", "href": href}],
    }
    if detail:
        body["created_at"] = iso(t.created_at)
        if at_least(request, "3.55"):
            body["no_snapshots"] = t.no_snapshots
        if at_least(request, "3.57"):
            body.update(source_project_id=t.project_id, destination_project_id=None, accepted=False)
    return body


async def _transfer(
    s: AsyncSession, auth: Auth, transfer_id: str, any_project: bool = False
) -> m.Transfer:
    t = await s.get(m.Transfer, transfer_id)
    if t is None or not (any_project or auth.reads_all or t.project_id == auth.project_id):
        raise errors.NotFound(f"Transfer {transfer_id} could not be found.")
    return t


async def create_transfer(request: Request) -> Response:
    auth = await caller(request, "volume:create_transfer")
    body = validation.body(request)["transfer"]
    core = core_of(request)
    key, salt = secrets.token_hex(8), secrets.token_hex(8)
    async with core.db.writer() as s:
        volume = await core.volume(s, auth, body["volume_id"])
        if volume.status != st.AVAILABLE:
            raise errors.BadRequest(
                f"Invalid volume: Status of volume {volume.id} must be available to transfer "
                f"(it is {volume.status})."
            )
        t = m.Transfer(
            id=str(uuid.uuid4()),
            volume_id=volume.id,
            project_id=volume.project_id,
            name=body.get("name"),
            salt=salt,
            crypt_hash=_hash(salt, key),
            no_snapshots=params.to_bool(body.get("no_snapshots", False)),
            created_at=utcnow(),
        )
        s.add(t)
        volume.status, volume.updated_at = st.AWAITING_TRANSFER, utcnow()
    view = _view(request, t, True)
    view["auth_key"] = key
    return json_response({"transfer": view}, 202)


async def accept_transfer(request: Request) -> Response:
    auth = await caller(request, "volume:accept_transfer")
    key = validation.body(request)["accept"]["auth_key"]
    core = core_of(request)
    async with core.db.writer() as s:
        t = await _transfer(s, auth, request.path_params["transfer_id"], any_project=True)
        if not hmac.compare_digest(_hash(t.salt, key), t.crypt_hash):
            raise errors.BadRequest(
                f"Invalid auth key: Attempt to transfer {t.id} with invalid auth key."
            )
        volume = await s.get(m.Volume, t.volume_id)
        if volume is None or volume.status != st.AWAITING_TRANSFER:
            raise errors.BadRequest(
                f"Invalid volume: volume {t.volume_id} is not awaiting transfer."
            )
        project = auth.project_id or ""
        snaps = (
            (await s.execute(select(m.Snapshot).where(m.Snapshot.volume_id == volume.id)))
            .scalars()
            .all()
        )
        moved = [] if t.no_snapshots else list(snaps)
        wanted = {
            "volumes": 1,
            "snapshots": len(moved),
            "gigabytes": volume.size + sum(x.size for x in moved),
            "per_volume_gigabytes": volume.size,
        }
        await quotas.claim(s, core.db, project, wanted, await quotas.type_name(s, volume))
        volume.project_id, volume.user_id = project, auth.user_id
        volume.status, volume.updated_at = st.AVAILABLE, utcnow()
        if moved:
            await s.execute(
                update(m.Snapshot)
                .where(m.Snapshot.id.in_([x.id for x in moved]))
                .values(project_id=project, user_id=auth.user_id)
            )
        await s.delete(t)
    return json_response({"transfer": _view(request, t, False)}, 202)


async def list_transfers(request: Request) -> Response:
    auth = await caller(request, "volume:get_all_transfers")
    stmt = select(m.Transfer).order_by(m.Transfer.created_at.desc(), m.Transfer.id)
    if not auth.reads_all:
        stmt = stmt.where(m.Transfer.project_id == auth.project_id)
    detail = request.url.path.endswith("/detail")
    async with core_of(request).db.session() as s:
        rows = (await s.execute(stmt)).scalars().all()
    return json_response({"transfers": [_view(request, t, detail) for t in rows]})


async def show_transfer(request: Request) -> Response:
    auth = await caller(request, "volume:get_transfer")
    async with core_of(request).db.session() as s:
        t = await _transfer(s, auth, request.path_params["transfer_id"])
    return json_response({"transfer": _view(request, t, True)})


async def delete_transfer(request: Request) -> Response:
    auth = await caller(request, "volume:delete_transfer")
    async with core_of(request).db.writer() as s:
        t = await _transfer(s, auth, request.path_params["transfer_id"])
        volume = await s.get(m.Volume, t.volume_id)
        if volume is not None and volume.status == st.AWAITING_TRANSFER:
            volume.status, volume.updated_at = st.AVAILABLE, utcnow()
        await s.delete(t)
    return empty_response(202)


ROUTES = []
for _base in ("/v3/{project_id}/os-volume-transfer", "/v3/{project_id}/volume-transfers"):
    ROUTES += [
        route(_base, create_transfer, "POST", body=schemas.create_transfer),
        route(_base, list_transfers, "GET"),
        route(_base + "/detail", list_transfers, "GET"),
        route(_base + "/{transfer_id}", show_transfer, "GET"),
        route(_base + "/{transfer_id}", delete_transfer, "DELETE"),
        route(
            _base + "/{transfer_id}/accept",
            accept_transfer,
            "POST",
            body=schemas.accept_transfer,
        ),
    ]
