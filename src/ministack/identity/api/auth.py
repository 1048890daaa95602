"""Tokens (``/v3/auth/tokens``), the caller's catalog, projects and domains, and discovery."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies
from ministack.identity.api import schemas
from ministack.identity.api.crud import assigned_targets, base_url, core_of, public_route, route
from ministack.identity.api.resources import render_domain, render_project
from ministack.identity.authn import authenticate
from ministack.identity.catalog import catalog_for, scoped
from ministack.identity.core import TokenInfo
from ministack.identity.inheritance import projects_of
from ministack.identity.oauth1 import Signed
from ministack.identity.tokens import SYSTEM_ALL

UPDATED = "2024-04-01T00:00:00Z"


def _time(value: dt.datetime) -> str:
    """Keystone's token times: whole seconds, ``2026-01-02T03:04:05.000000Z`` (fernet keeps
    no more); the payload keeps issued_at's microseconds for revocation checks."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def render_token(info: TokenInfo, catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
    p = info.payload
    user = info.user
    body: dict[str, Any] = {
        "methods": list(p.methods),
        "user": {
            "domain": {"id": user.domain_id, "name": user.domain_name},
            "id": user.id,
            "name": user.name,
            "password_expires_at": None,
        },
        "audit_ids": [p.audit_id],
        "expires_at": _time(p.expires_at),
        "issued_at": _time(p.issued_at),
    }
    if info.project is not None:
        body["project"] = {
            "domain": {"id": info.project.domain_id, "name": info.project.domain_name},
            "id": info.project.id,
            "name": info.project.name,
        }
        body["is_domain"] = False
    if info.domain is not None:
        body["domain"] = {"id": info.domain.id, "name": info.domain.name}
    if info.system is not None:
        body["system"] = {info.system: True}
    if info.project is not None or info.domain is not None or info.system is not None:
        body["roles"] = [{"id": r.id, "name": r.name} for r in info.roles]
        if catalog is not None:
            body["catalog"] = scoped(catalog, info.project.id if info.project else None)
    if info.trust is not None:
        body["OS-TRUST:trust"] = {
            "id": info.trust.id,
            "impersonation": info.trust.impersonation,
            "trustor_user": {"id": info.trust.trustor_id},
            "trustee_user": {"id": info.trust.trustee_id},
        }
    if info.oauth is not None:
        body["OS-OAUTH1"] = {"access_token_id": info.oauth[0], "consumer_id": info.oauth[1]}
    if p.app_cred_id:
        body["application_credential"] = {"id": p.app_cred_id, "restricted": True}
        if info.access_rules is not None:
            body["application_credential"]["access_rules"] = [
                {"service": r.service, "method": r.method, "path": r.path}
                for r in info.access_rules
            ]
    return {"token": body}


def signed_request(request: Request) -> Signed | None:
    """The request as OAuth 1.0a signed it (method oauth1), when it has an OAuth header."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("oauth "):
        return None
    return Signed(request.method, str(request.url), header)


def _project_of(info: TokenInfo) -> str | None:
    return info.project.id if info.project else None


async def issue_token(request: Request) -> Response:
    core = core_of(request)
    info = await authenticate(core, validation.body(request), signed_request(request))
    nocatalog = "nocatalog" in request.query_params
    catalog = None if nocatalog else await catalog_for(core, _project_of(info))
    return json_response(
        render_token(info, catalog), status=201, headers={"X-Subject-Token": info.token}
    )


async def _subject(request: Request) -> TokenInfo:
    auth = await require_auth(request)
    subject = request.headers.get("x-subject-token")
    if not subject:
        raise errors.BadRequest("Send the token to check in the X-Subject-Token header.")
    core = core_of(request)
    try:
        info = await core.validate(subject)
    except errors.Unauthorized:
        raise errors.NotFound("Could not find token: it is invalid, expired or revoked.") from None
    policies.authorize(
        auth,
        "identity:validate_token",
        {"user_id": info.user.id},
    )
    return info


async def validate_token(request: Request) -> Response:
    info = await _subject(request)
    core = core_of(request)
    nocatalog = "nocatalog" in request.query_params
    catalog = None if nocatalog else await catalog_for(core, _project_of(info))
    return json_response(render_token(info, catalog), headers={"X-Subject-Token": info.token})


async def check_token(request: Request) -> Response:
    info = await _subject(request)
    return empty_response(200, headers={"X-Subject-Token": info.token})


async def revoke_token(request: Request) -> Response:
    info = await _subject(request)
    await core_of(request).revoke(info)
    return empty_response()


async def auth_catalog(request: Request) -> Response:
    auth = await require_auth(request)
    if auth.project_id is None and auth.domain_id is None and not auth.is_system:
        raise errors.Forbidden("An unscoped token has no catalog; scope it to a project.")
    catalog = scoped(await catalog_for(core_of(request), auth.project_id), auth.project_id)
    return json_response(
        {"catalog": catalog, "links": {"self": f"{base_url(request)}/v3/auth/catalog"}}
    )


async def _my_targets(request: Request, model: Any, plural: str, render: Any) -> Response:
    """The enabled projects or domains on which the caller holds a role (projects also where
    one is inherited)."""
    auth = await require_auth(request)
    core = core_of(request)
    async with core.db.session() as s:
        if model is m.Project:
            targets: Any = await projects_of(s, auth.user_id)
        else:
            targets = assigned_targets(auth.user_id, "domain")
        query = select(model).where(model.id.in_(targets), model.enabled)
        rows = (await s.execute(query)).scalars().all()
    base = base_url(request)
    return json_response(
        {
            plural: [render(r, base) for r in rows],
            "links": {"self": f"{base}/v3/auth/{plural}", "previous": None, "next": None},
        }
    )


async def auth_projects(request: Request) -> Response:
    return await _my_targets(request, m.Project, "projects", render_project)


async def auth_domains(request: Request) -> Response:
    return await _my_targets(request, m.Domain, "domains", render_domain)


async def auth_system(request: Request) -> Response:
    """The system scopes the caller may ask for: ``[{"all": true}]`` when they hold a role on
    the system (directly or through a group), else an empty list."""
    auth = await require_auth(request)
    core = core_of(request)
    async with core.db.session() as s:
        roles = await core.effective_roles(s, auth.user_id, "system", SYSTEM_ALL, None)
    return json_response(
        {
            "system": [{SYSTEM_ALL: True}] if roles else [],
            "links": {
                "self": f"{base_url(request)}/v3/auth/system",
                "previous": None,
                "next": None,
            },
        }
    )


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


async def versions(request: Request) -> Response:
    return json_response({"versions": {"values": [_version(base_url(request))]}}, status=300)


async def version_v3(request: Request) -> Response:
    return json_response({"version": _version(base_url(request))})


ROUTES = [
    Route("/", versions, methods=["GET"]),
    Route("/v3", version_v3, methods=["GET"]),
    Route("/v3/", version_v3, methods=["GET"]),
    public_route("/v3/auth/tokens", issue_token, "POST", body=schemas.issue_token),
    Route("/v3/auth/tokens", check_token, methods=["HEAD"]),
    Route("/v3/auth/tokens", validate_token, methods=["GET"]),
    Route("/v3/auth/tokens", revoke_token, methods=["DELETE"]),
    Route("/v3/auth/catalog", auth_catalog, methods=["GET"]),
    Route("/v3/auth/projects", auth_projects, methods=["GET"]),
    Route("/v3/auth/domains", auth_domains, methods=["GET"]),
    route("/v3/auth/system", auth_system, "GET"),
]
