"""What compute's API handlers share: the service objects, the caller, the microversion,
Nova's time formats, links, and `route`, which declares a handler with its request schemas
(compute.api.schemas) so input is checked before the handler runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.requests import Request

from ministack.common import errors, policy
from ministack.common.auth import Auth, require_auth
from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.common.validation import Router
from ministack.compute import models as m
from ministack.compute.api.microversion import MIN_VERSION, Version
from ministack.compute.images import Images
from ministack.compute.policies import RULES
from ministack.compute.rpcapi import RpcPeers
from ministack.config import Settings
from ministack.network.client import NetworkApi
from ministack.placement.client import PlacementClient
from ministack.volume.client import VolumeApi


@dataclass
class Api(RpcPeers):
    """The objects the compute API works with (app.state.api)."""

    settings: Settings
    db: Database
    bus: Bus
    placement: PlacementClient
    images: Images
    network: NetworkApi | None = None
    """The network service (None: this cloud has none, servers get no NICs)."""
    volumes: VolumeApi | None = None
    """The volume client (os-volume_attachments, boot from volume)."""


def host_of(inst: m.Instance) -> str:
    """The host an action on the instance goes to; 409 when it has none (never scheduled)."""
    if inst.host is None:
        raise errors.Conflict(f"Instance {inst.uuid} is not on any host.")
    return inst.host


def version(request: Request) -> Version:
    v: Version = request.scope.get("state", {}).get("microversion", MIN_VERSION)
    return v


# Declares compute's routes with their request schemas (compute.schemas), per microversion
route = Router(version_of=version, wording="nova", authenticate=require_auth)


def api_of(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


async def caller(request: Request, action: str, project_id: str | None = None) -> Auth:
    """Authenticate, then authorize policy rule `action` (its default in compute/policies.py)
    on the project (the caller's own by default). 401/403 otherwise."""
    auth = await require_auth(request)
    target = {
        "project_id": project_id if project_id is not None else auth.project_id,
        "user_id": auth.user_id,
    }
    policy.authorize(RULES, auth, action, target)
    return auth


def iso(when: dt.datetime | None) -> str | None:
    """Nova's resource timestamps: 2026-01-01T00:00:00Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def iso_micro(when: dt.datetime | None) -> str | None:
    """Nova's event and usage timestamps: 2026-01-01T00:00:00.000000."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") if when else None


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def links(request: Request, collection: str, ident: str) -> list[dict[str, str]]:
    base = base_url(request)
    return [
        {"rel": "self", "href": f"{base}/v2.1/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{collection}/{ident}"},
    ]
