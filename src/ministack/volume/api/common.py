"""What the volume API's handlers share: the core, the caller, the microversion, Cinder's
time format, links, and `route`, which declares a handler with its request schemas."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request

from ministack.common import errors, policy
from ministack.common.auth import Auth, require_auth
from ministack.common.validation import Router
from ministack.volume.api.microversion import MIN_VERSION, Version
from ministack.volume.core import VolumeCore
from ministack.volume.policies import RULES


def version(request: Request) -> Version:
    v: Version = request.scope.get("state", {}).get("microversion", MIN_VERSION)
    return v


def at_least(request: Request, wanted: str) -> bool:
    major, _, minor = wanted.partition(".")
    return version(request) >= (int(major), int(minor))


route = Router(version_of=version, wording="nova", authenticate=require_auth)


def core_of(request: Request) -> VolumeCore:
    core: VolumeCore = request.app.state.core
    return core


async def caller(request: Request, action: str, project_id: str | None = None) -> Auth:
    """Authenticate, check the URL's project is the caller's (an admin may name any), then
    authorize policy rule `action` on the target project. 401/403 otherwise."""
    auth = await require_auth(request)
    url_project = request.path_params.get("project_id")
    if url_project is not None and url_project != auth.project_id and not auth.is_admin:
        raise errors.Forbidden(
            f"The project in the URL ({url_project}) is not the project of your token."
        )
    target = {
        "project_id": project_id if project_id is not None else auth.project_id,
        "user_id": auth.user_id,
    }
    policy.authorize(RULES, auth, action, target)
    return auth


def allowed(auth: Auth, action: str, project_id: str | None = None) -> bool:
    target = {"project_id": project_id or auth.project_id, "user_id": auth.user_id}
    return policy.check(auth, RULES[action], target)


def iso(when: dt.datetime | None) -> str | None:
    """Cinder's timestamps: 2026-01-01T00:00:00.000000."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") if when else None


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def links(request: Request, project_id: str, collection: str, ident: str) -> list[dict[str, str]]:
    base = base_url(request)
    return [
        {"rel": "self", "href": f"{base}/v3/{project_id}/{collection}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{project_id}/{collection}/{ident}"},
    ]
