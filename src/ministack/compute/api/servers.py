"""Servers: list (with Nova's filters, changes-since, limit/marker), show, update, delete.
Create is in server_create, actions in server_actions."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import Auth
from ministack.common.pagination import bool_param, paginate, parse_page
from ministack.common.web import empty_response, json_response
from ministack.compute import instances, network_info, servicegroup, states, tags
from ministack.compute import models as m
from ministack.compute.api import block_devices, schemas, soft_delete
from ministack.compute.api.common import (
    Api,
    api_of,
    base_url,
    caller,
    route,
    version,
)
from ministack.compute.api.server_create import create_server
from ministack.compute.api.views import canonical_ipv6, render_brief, render_server
from ministack.compute.claims import local_delete
from ministack.compute.instances import UNSET, Change

log = logging.getLogger("ministack.compute.api")


async def load(request: Request, auth: Auth) -> m.Instance:
    """The live server of the path, if the caller's project owns it (or the caller reads every
    project's: an admin or a system reader); else 404."""
    server_id = request.path_params["server_id"]
    inst = await instances.get(api_of(request).db, server_id)
    if inst is None or (inst.project_id != auth.project_id and not auth.reads_all):
        raise errors.NotFound(f"Instance {server_id} could not be found.")
    return inst


async def host_statuses(request: Request, auth: Auth) -> dict[str, str] | None:
    if version(request) < (2, 16) or not auth.is_admin:
        return None
    api = api_of(request)
    return await servicegroup.host_statuses(api.db, api.settings.compute.service_down_time)


def _since(raw: str) -> dt.datetime:
    when = validation.parse_time(raw)
    if when is None:  # the query schema already refused it; kept for direct callers
        raise errors.BadRequest(f"Invalid changes-since value {raw!r}: ISO 8601 expected.")
    return when


def name_pattern(raw: str) -> str:
    """The `name` filter: a regular expression searched anywhere in the name, as Nova
    applies it; 400 when it is not one."""
    try:
        re.compile(raw)
    except re.error as exc:
        raise errors.BadRequest(f"Invalid regular expression {raw!r} for 'name': {exc}.") from None
    return raw


def _filters(request: Request, auth: Auth, query: Select[Any]) -> Select[Any]:
    p = request.query_params
    all_tenants = auth.reads_all and p.get("all_tenants") not in (None, "0", "false", "False")
    project = p.get("project_id") or p.get("tenant_id")
    if auth.reads_all and project:
        query = query.where(m.Instance.project_id == project)
    elif not all_tenants:
        query = query.where(m.Instance.project_id == (auth.project_id or ""))
    if "changes-since" in p:
        query = query.where(m.Instance.updated_at >= _since(p["changes-since"]))
    elif not (auth.is_admin and bool_param(p.get("deleted"), "deleted")):
        query = query.where(m.Instance.deleted.is_(False))
    else:
        query = query.where(m.Instance.deleted.is_(True))
    if "changes-before" in p and version(request) >= (2, 66):
        query = query.where(m.Instance.updated_at <= _since(p["changes-before"]))
    if p.get("status"):
        wanted = p["status"].upper()
        if wanted not in states.STATUS_TO_VM_STATES:
            if version(request) >= (2, 38):
                raise errors.BadRequest(f"Invalid status value {p['status']!r}.")
            return query.where(m.Instance.id < 0)
        query = query.where(m.Instance.vm_state.in_(states.STATUS_TO_VM_STATES[wanted]))
    if p.get("name"):
        query = query.where(m.Instance.display_name.regexp_match(name_pattern(p["name"])))
    for key, col in _simple_filters(request, auth).items():
        if p.get(key):
            query = query.where(col == p[key].rstrip("/").rsplit("/", 1)[-1])
    if p.get("hostname") and (auth.is_admin or version(request) >= (2, 90)):
        query = query.where(m.Instance.hostname.regexp_match(name_pattern(p["hostname"])))
    if p.get("flavor"):
        query = query.where(m.Instance.flavor["id"].as_string() == p["flavor"])
    if auth.is_admin and p.get("host"):
        query = query.where(m.Instance.host == p["host"])
    if version(request) >= tags.SINCE:
        query = tags.tag_filters(p, query)
    if p.get("locked") is not None and version(request) >= (2, 73):
        query = query.where(m.Instance.locked.is_(bool(bool_param(p["locked"], "locked"))))
    return query


def _simple_filters(request: Request, auth: Auth) -> dict[str, Any]:
    """The exact-match filters the caller may use: Nova lets non-admins filter by zone, key,
    user and the states only from 2.83 (before, it drops those filters silently)."""
    simple: dict[str, Any] = {
        "image": m.Instance.image_ref,
        "reservation_id": m.Instance.reservation_id,
    }
    if auth.is_admin or version(request) >= (2, 83):
        simple.update(
            key_name=m.Instance.key_name,
            availability_zone=m.Instance.availability_zone,
            user_id=m.Instance.user_id,
            vm_state=m.Instance.vm_state,
            task_state=m.Instance.task_state,
        )
    return simple


async def _list(request: Request, detail: bool) -> Response:
    auth = await caller(request, "os_compute_api:servers:index")
    page = parse_page(request.query_params)
    query = _filters(request, auth, select(m.Instance))
    checked = validation.query(request)
    sort_dir = (checked.get("sort_dir") or ["desc"])[0]
    sort_key = (checked.get("sort_key") or ["created_at"])[0]
    # a whitelisted key this store does not keep sorts by created_at (Nova ignores some too)
    sort_col = SORT_COLUMNS.get(sort_key, m.Instance.created_at)
    async with api_of(request).db.session() as s:
        query = await paginate(
            s, query, page, m.Instance.uuid, sort_col, descending=sort_dir != "asc"
        )
        rows = (await s.execute(query)).scalars().all()
    if detail:
        statuses = await host_statuses(request, auth)
        by_uuid = await tags.tags_of(api_of(request).db, [i.uuid for i in rows])
        vols = await block_devices.volumes_of(api_of(request).db, [i.uuid for i in rows])
        servers = [
            render_server(request, i, auth, statuses, by_uuid.get(i.uuid), volumes=vols.get(i.uuid))
            for i in rows
        ]
    else:
        servers = [render_brief(request, i) for i in rows]
    body: dict[str, Any] = {"servers": servers}
    if page.limit and len(rows) >= page.limit:
        path = "servers/detail" if detail else "servers"
        params = dict(request.query_params)
        params["marker"] = rows[-1].uuid
        query_text = "&".join(f"{k}={v}" for k, v in params.items())
        body["servers_links"] = [
            {"rel": "next", "href": f"{base_url(request)}/v2.1/{path}?{query_text}"}
        ]
    return json_response(body)


SORT_COLUMNS: dict[str, Any] = {
    "created_at": m.Instance.created_at,
    "display_name": m.Instance.display_name,
    "display_description": m.Instance.display_description,
    "updated_at": m.Instance.updated_at,
    "uuid": m.Instance.uuid,
    "hostname": m.Instance.hostname,
    "host": m.Instance.host,
    "node": m.Instance.node,
    "key_name": m.Instance.key_name,
    "availability_zone": m.Instance.availability_zone,
    "vm_state": m.Instance.vm_state,
    "task_state": m.Instance.task_state,
    "power_state": m.Instance.power_state,
    "launched_at": m.Instance.launched_at,
    "terminated_at": m.Instance.terminated_at,
    "launch_index": m.Instance.launch_index,
    "image_ref": m.Instance.image_ref,
    "project_id": m.Instance.project_id,
    "user_id": m.Instance.user_id,
    "access_ip_v4": m.Instance.access_ip_v4,
    "access_ip_v6": m.Instance.access_ip_v6,
    "locked_by": m.Instance.locked_by,
}


async def list_servers(request: Request) -> Response:
    return await _list(request, detail=False)


async def list_servers_detail(request: Request) -> Response:
    return await _list(request, detail=True)


async def groups_of(request: Request, uuid: str) -> list[str] | None:
    """The server groups the server is in, from 2.71 (show, update, rebuild); None before."""
    if version(request) < (2, 71):
        return None
    async with api_of(request).db.session() as s:
        rows = (await s.execute(select(m.ServerGroup.uuid, m.ServerGroup.members))).tuples()
        return [g for g, members in rows if uuid in (members or [])]


async def full_view(
    request: Request, inst: m.Instance, auth: Auth, *, show: bool = False
) -> dict[str, Any]:
    """The server as show answers it; update and rebuild answer the same from 2.75 and a
    shorter body before (Nova's show_all_attributes)."""
    full = show or version(request) >= (2, 75)
    statuses = await host_statuses(request, auth) if full else None
    own = await tags.tags_of(api_of(request).db, [inst.uuid])
    groups = await groups_of(request, inst.uuid)
    vols = await block_devices.volumes_of(api_of(request).db, [inst.uuid])
    return render_server(
        request,
        inst,
        auth,
        statuses,
        own.get(inst.uuid),
        groups=groups,
        full=full,
        volumes=vols.get(inst.uuid),
    )


async def show_server(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:servers:show")
    inst = await load(request, auth)
    return json_response({"server": await full_view(request, inst, auth, show=True)})


async def update_server(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:servers:update")
    inst = await load(request, auth)
    body = validation.body(request)["server"]
    change = Change(
        display_name=body.get("name", UNSET),
        display_description=body.get("description", UNSET),  # the schema allows it from 2.19
        access_ip_v4=body.get("accessIPv4", UNSET),
        access_ip_v6=canonical_ipv6(body["accessIPv6"]) if "accessIPv6" in body else UNSET,
        hostname=body.get("hostname", UNSET),  # the schema allows it from 2.90
    )
    api = api_of(request)
    if change:
        await instances.cas(api.db, inst.uuid, change=change)
    fresh = await instances.get(api.db, inst.uuid)
    if fresh is None:
        raise errors.NotFound(f"Instance {inst.uuid} could not be found.")
    return json_response({"server": await full_view(request, fresh, auth)})


def check_unlocked(inst: m.Instance, auth: Auth) -> None:
    if inst.locked and not auth.is_admin:
        raise errors.Conflict(f"Instance {inst.uuid} is locked")


async def delete_server(request: Request) -> Response:
    """204. Idempotent while deleting (PROMISES 7); a host that is down, or no host at all,
    means the delete completes here (local delete)."""
    auth = await caller(request, "os_compute_api:servers:delete")
    inst = await load(request, auth)
    check_unlocked(inst, auth)
    api = api_of(request)
    if not await soft_delete.try_soft_delete(api, auth, inst):
        await hard_delete(api, auth, inst)
    return empty_response(204)


async def hard_delete(api: Api, auth: Auth, inst: m.Instance) -> None:
    """Delete now (DELETE, forceDelete); nothing more when a delete is already under way."""
    won = await instances.cas(
        api.db,
        inst.uuid,
        task_states=[t for t in (None, *states.BY_TASK_STATE) if t != states.DELETING],
        change=Change(task_state=states.DELETING),
    )
    if not won:
        return  # already being deleted: no second action
    await instances.add_action(api.db, inst.uuid, "delete", auth.user_id, inst.project_id)
    await soft_delete.forget_shelved_image(api, inst)
    await _finish_delete(api, inst)


async def _finish_delete(api: Api, inst: m.Instance) -> None:
    host = inst.host
    if host is not None:
        services = await servicegroup.compute_services(api.db)
        rec = services.get(host)
        if rec is None or not servicegroup.is_up(rec, api.settings.compute.service_down_time):
            host = None
    if host is None:
        await _local_delete(api, inst)
        return
    try:
        await api.agent(host).terminate_instance(inst.uuid)
    except Exception:
        await _local_delete(api, inst)


async def _local_delete(api: Api, inst: m.Instance) -> None:
    """Delete with no host to do it: release the ports (as the agent would), then the rows."""
    try:
        await network_info.release(api.network, inst)
    except errors.ApiError:
        log.exception("could not release the ports of %s on local delete", inst.uuid)
    await local_delete(api.placement, api.db, inst.uuid)


ROUTES: list[BaseRoute] = [
    route("/v2.1/servers", list_servers, "GET", query=schemas.list_servers),
    route("/v2.1/servers", create_server, "POST", body=schemas.create_server),
    route("/v2.1/servers/detail", list_servers_detail, "GET", query=schemas.list_servers),
    route("/v2.1/servers/{server_id}", show_server, "GET"),
    route("/v2.1/servers/{server_id}", update_server, "PUT", body=schemas.update_server),
    route("/v2.1/servers/{server_id}", delete_server, "DELETE"),
]
