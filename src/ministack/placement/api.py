"""The Placement HTTP API (read side plus allocation removal): resource providers, their
inventories and usages, consumers' allocations, resource classes and project usages — what
`openstack resource provider ...` and openstacksdk's placement proxy read.

Microversions 1.0-1.14 (``OpenStack-API-Version: placement 1.x``); from 1.14 providers show
their parent and root.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ministack.common import errors, policy
from ministack.common.auth import require_auth
from ministack.common.db import Database
from ministack.common.validation import Router
from ministack.common.web import empty_response, json_response
from ministack.placement import models as m
from ministack.placement import schemas
from ministack.placement.policies import RULES

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 14)
STANDARD_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "IPV4_ADDRESS")


class VersionNotAcceptable(errors.NotAcceptable):
    """406 for a microversion outside 1.0-MAX_VERSION; placement's error body names the range
    (osc-placement reads max_version from it to fall back)."""

    def body(self, style: errors.Style) -> dict[str, Any]:
        out = super().body(style)
        for item in out.get("errors", []):
            item.update(min_version=_text(MIN_VERSION), max_version=_text(MAX_VERSION))
        return out


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _version(request: Request) -> tuple[int, int]:
    v: tuple[int, int] = request.scope.get("state", {}).get("placement_version", MIN_VERSION)
    return v


class VersionMiddleware:
    """Parse ``OpenStack-API-Version: placement X``; 406 outside the range; echo the version."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = ""
        for key, value in scope.get("headers", []):
            if key == b"openstack-api-version":
                for item in value.decode().split(","):
                    service, _, ver = item.strip().partition(" ")
                    if service.lower() == "placement":
                        raw = ver.strip()
        version = MIN_VERSION
        if raw == "latest":
            version = MAX_VERSION
        elif raw:
            match = re.fullmatch(r"(\d+)\.(\d+)", raw)
            version = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
            if not MIN_VERSION <= version <= MAX_VERSION:
                raise VersionNotAcceptable(
                    f"Unacceptable version header: {raw}; this placement supports 1.0 to "
                    f"{MAX_VERSION[0]}.{MAX_VERSION[1]}."
                )
        scope.setdefault("state", {})["placement_version"] = version
        text = f"placement {version[0]}.{version[1]}".encode()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"openstack-api-version", text),
                    (b"vary", b"openstack-api-version"),
                ]
            await send(message)

        await self.app(scope, receive, send_wrapper)


# Declares placement's routes with their query schemas (placement.schemas)
route = Router(version_of=_version, authenticate=require_auth)


async def _authorized(request: Request, rule: str, project_id: str | None = None) -> Database:
    """Authenticate, then authorize policy `rule` (placement/policies.py); 401/403."""
    auth = await require_auth(request)
    policy.authorize(RULES, auth, rule, {"project_id": project_id})
    db: Database = request.app.state.db
    return db


def _render(request: Request, rp: m.ResourceProvider) -> dict[str, Any]:
    base = f"/resource_providers/{rp.uuid}"
    body: dict[str, Any] = {
        "uuid": rp.uuid,
        "name": rp.name,
        "generation": rp.generation,
        "links": [
            {"rel": "self", "href": base},
            {"rel": "inventories", "href": f"{base}/inventories"},
            {"rel": "usages", "href": f"{base}/usages"},
        ],
    }
    if _version(request) >= (1, 14):
        body.update(parent_provider_uuid=None, root_provider_uuid=rp.uuid)
    return body


async def versions(request: Request) -> Response:
    return json_response(
        {
            "versions": [
                {
                    "id": "v1.0",
                    "status": "CURRENT",
                    "min_version": "1.0",
                    "max_version": f"{MAX_VERSION[0]}.{MAX_VERSION[1]}",
                    "links": [{"rel": "self", "href": ""}],
                }
            ]
        }
    )


async def list_providers(request: Request) -> Response:
    db = await _authorized(request, "placement:resource_providers:list")
    query = select(m.ResourceProvider).order_by(m.ResourceProvider.id)
    if request.query_params.get("name"):
        query = query.where(m.ResourceProvider.name == request.query_params["name"])
    if request.query_params.get("uuid"):
        query = query.where(m.ResourceProvider.uuid == request.query_params["uuid"])
    async with db.session() as s:
        rows = (await s.execute(query)).scalars().all()
    return json_response({"resource_providers": [_render(request, rp) for rp in rows]})


async def _provider(request: Request, db: Database) -> m.ResourceProvider:
    ident = request.path_params["uuid"]
    async with db.session() as s:
        rp = (
            await s.execute(select(m.ResourceProvider).where(m.ResourceProvider.uuid == ident))
        ).scalar_one_or_none()
    if rp is None:
        raise errors.NotFound(f"No resource provider with uuid {ident} found")
    return rp


async def show_provider(request: Request) -> Response:
    db = await _authorized(request, "placement:resource_providers:show")
    return json_response(_render(request, await _provider(request, db)))


def _inventory(inv: m.Inventory) -> dict[str, Any]:
    return {
        "total": inv.total,
        "reserved": inv.reserved,
        "min_unit": inv.min_unit,
        "max_unit": inv.max_unit,
        "step_size": inv.step_size,
        "allocation_ratio": inv.allocation_ratio,
    }


async def list_inventories(request: Request) -> Response:
    db = await _authorized(request, "placement:resource_providers:inventories:list")
    rp = await _provider(request, db)
    async with db.session() as s:
        rows = (
            (await s.execute(select(m.Inventory).where(m.Inventory.provider_id == rp.id)))
            .scalars()
            .all()
        )
    only = request.path_params.get("resource_class")
    if only is not None:
        found = [i for i in rows if i.resource_class == only]
        if not found:
            raise errors.NotFound(f"No inventory of class {only} for {rp.uuid}")
        return json_response(
            {**_inventory(found[0]), "resource_provider_generation": rp.generation}
        )
    return json_response(
        {
            "inventories": {i.resource_class: _inventory(i) for i in rows},
            "resource_provider_generation": rp.generation,
        }
    )


async def provider_usages(request: Request) -> Response:
    db = await _authorized(request, "placement:resource_providers:usages")
    rp = await _provider(request, db)
    async with db.session() as s:
        rows = await s.execute(
            select(m.Allocation.resource_class, func.sum(m.Allocation.used))
            .where(m.Allocation.provider_id == rp.id)
            .group_by(m.Allocation.resource_class)
        )
        used = {rc: int(n) for rc, n in rows.tuples()}
        classes = await s.execute(
            select(m.Inventory.resource_class).where(m.Inventory.provider_id == rp.id)
        )
        # Like placement: every inventoried class is listed, 0 when nothing is allocated.
        usages = {rc: 0 for rc in classes.scalars()} | used
    return json_response({"usages": usages, "resource_provider_generation": rp.generation})


async def show_allocations(request: Request) -> Response:
    db = await _authorized(request, "placement:allocations:list")
    consumer = request.path_params["consumer"]
    async with db.session() as s:
        rows = (
            (
                await s.execute(
                    select(m.Allocation, m.ResourceProvider)
                    .join(m.ResourceProvider, m.ResourceProvider.id == m.Allocation.provider_id)
                    .where(m.Allocation.consumer_id == consumer)
                )
            )
            .tuples()
            .all()
        )
    out: dict[str, Any] = {}
    project = user = None
    for alloc, rp in rows:
        entry = out.setdefault(rp.uuid, {"generation": rp.generation, "resources": {}})
        if alloc.used:
            entry["resources"][alloc.resource_class] = alloc.used
        project, user = alloc.project_id, alloc.user_id
    body: dict[str, Any] = {"allocations": out}
    if _version(request) >= (1, 12) and out:
        body.update(project_id=project, user_id=user)
    return json_response(body)


async def delete_allocations(request: Request) -> Response:
    db = await _authorized(request, "placement:allocations:delete")
    consumer = request.path_params["consumer"]
    async with db.writer() as s:
        result = await s.execute(delete(m.Allocation).where(m.Allocation.consumer_id == consumer))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise errors.NotFound(f"No allocations for consumer '{consumer}'")
    return empty_response(204)


async def list_resource_classes(request: Request) -> Response:
    await _authorized(request, "placement:resource_classes:list")
    return json_response(
        {
            "resource_classes": [
                {"name": rc, "links": [{"rel": "self", "href": f"/resource_classes/{rc}"}]}
                for rc in STANDARD_CLASSES
            ]
        }
    )


async def project_usages(request: Request) -> Response:
    project = request.query_params.get("project_id")
    db = await _authorized(request, "placement:usages", project)
    if not project:
        raise errors.BadRequest("Invalid query string parameters: 'project_id' is required")
    query = select(m.Allocation.resource_class, func.sum(m.Allocation.used)).where(
        m.Allocation.project_id == project
    )
    if request.query_params.get("user_id"):
        query = query.where(m.Allocation.user_id == request.query_params["user_id"])
    async with db.session() as s:
        rows = await s.execute(query.group_by(m.Allocation.resource_class))
        usages = {rc: int(n) for rc, n in rows.tuples()}
    return json_response({"usages": usages})


ROUTES = [
    Route("/", versions, methods=["GET"]),
    route("/resource_providers", list_providers, "GET", query=schemas.list_resource_providers),
    Route("/resource_providers/{uuid}", show_provider, methods=["GET"]),
    Route("/resource_providers/{uuid}/inventories", list_inventories, methods=["GET"]),
    Route(
        "/resource_providers/{uuid}/inventories/{resource_class}", list_inventories, methods=["GET"]
    ),
    Route("/resource_providers/{uuid}/usages", provider_usages, methods=["GET"]),
    Route("/allocations/{consumer}", show_allocations, methods=["GET"]),
    Route("/allocations/{consumer}", delete_allocations, methods=["DELETE"]),
    Route("/resource_classes", list_resource_classes, methods=["GET"]),
    route("/usages", project_usages, "GET", query=schemas.usages),
]
