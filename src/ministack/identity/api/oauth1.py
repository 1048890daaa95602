"""OS-OAUTH1: consumers (admin CRUD), request tokens, authorization, access tokens, and a user's
access tokens with their roles. The flow and the signature checks are in `identity.oauth1`;
the token request itself is `POST /v3/auth/tokens` with method ``oauth1`` (`api/auth.py`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common.auth import require_auth
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import oauth1, policies
from ministack.identity.api import schemas
from ministack.identity.api.crud import base_url, core_of, public_route, route

BASE = "/v3/OS-OAUTH1"
FORM = "application/x-www-form-urlencoded"


def _time(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def render_consumer(c: m.OAuthConsumer, base: str) -> dict[str, Any]:
    return {
        **(c.extra or {}),
        "id": c.id,
        "description": c.description,
        "links": {"self": f"{base}{BASE}/consumers/{c.id}"},
    }


async def create_consumer(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "identity:create_consumer")
    body = dict(validation.body(request)["consumer"])
    for key in ("id", "secret"):
        if key in body:
            raise errors.BadRequest(
                f"Invalid input for field 'consumer.{key}': it is set by Keystone."
            )
    core, secret = core_of(request), uuid.uuid4().hex
    description = body.pop("description", None)
    consumer = m.OAuthConsumer(
        id=uuid.uuid4().hex,
        secret=core.credentials.encrypt(secret),
        description=description,
        extra=body,
    )
    async with core.db.writer() as s:
        s.add(consumer)
        await core.bump(s)
    shown = {**render_consumer(consumer, base_url(request)), "secret": secret}
    return json_response({"consumer": shown}, status=201)


async def _consumer(request: Request, action: str) -> m.OAuthConsumer:
    auth = await require_auth(request)
    policies.authorize(auth, action)
    consumer_id = request.path_params["consumer_id"]
    async with core_of(request).db.session() as s:
        found = await s.get(m.OAuthConsumer, consumer_id)
    if found is None:
        raise errors.NotFound(f"Could not find consumer: {consumer_id}.")
    return found


async def list_consumers(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "identity:list_consumers")
    base = base_url(request)
    async with core_of(request).db.session() as s:
        rows = list(
            (await s.execute(select(m.OAuthConsumer).order_by(m.OAuthConsumer.id))).scalars()
        )
    links = {"self": f"{base}{BASE}/consumers", "previous": None, "next": None}
    return json_response({"consumers": [render_consumer(c, base) for c in rows], "links": links})


async def show_consumer(request: Request) -> Response:
    consumer = await _consumer(request, "identity:get_consumer")
    return json_response({"consumer": render_consumer(consumer, base_url(request))})


async def update_consumer(request: Request) -> Response:
    consumer = await _consumer(request, "identity:update_consumer")
    body = dict(validation.body(request)["consumer"])
    if "secret" in body:
        raise errors.BadRequest("Cannot change consumer secret.")
    if body.pop("id", consumer.id) != consumer.id:
        raise errors.BadRequest("Cannot change consumer id.")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await s.get(m.OAuthConsumer, consumer.id)
        if row is None:
            raise errors.NotFound(f"Could not find consumer: {consumer.id}.")
        if "description" in body:
            row.description = body.pop("description")
        row.extra = {**(row.extra or {}), **body}
        await core.bump(s)
        shown = render_consumer(row, base_url(request))
    return json_response({"consumer": shown})


async def delete_consumer(request: Request) -> Response:
    """Deletes its request and access tokens too (and so ends the tokens made from them)."""
    consumer = await _consumer(request, "identity:delete_consumer")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await s.get(m.OAuthConsumer, consumer.id)
        if row is not None:
            await s.delete(row)
        await core.bump(s)
    return empty_response(204)


def _signed(request: Request, body: bytes) -> oauth1.Signed:
    media = request.headers.get("content-type", "").split(";")[0].strip()
    form = body.decode() if media == FORM and body else None
    return oauth1.Signed(
        request.method, str(request.url), request.headers.get("authorization", ""), form
    )


async def request_token(request: Request) -> Response:
    signed = _signed(request, await request.body())
    project_id = request.headers.get("requested-project-id")
    token, secret = await oauth1.create_request_token(core_of(request), signed, project_id)
    text = oauth1.form(token.id, secret, token.expires_at)
    return Response(text, status_code=201, media_type=FORM)


async def authorize_request_token(request: Request) -> Response:
    auth = await require_auth(request)
    policies.authorize(auth, "identity:authorize_request_token")
    refs = validation.body(request)["roles"]
    core = core_of(request)
    async with core.db.session() as s:
        role_ids = []
        for ref in refs:
            where = m.Role.id == ref["id"] if "id" in ref else m.Role.name == ref["name"]
            found = (await s.execute(select(m.Role.id).where(where))).scalar()
            if found is None:
                raise errors.NotFound(f"Could not find role: {ref.get('id') or ref.get('name')}.")
            role_ids.append(found)
    verifier = await oauth1.authorize(
        core, auth.user_id, request.path_params["request_token_id"], role_ids
    )
    return json_response({"token": {"oauth_verifier": verifier}})


async def access_token(request: Request) -> Response:
    signed = _signed(request, await request.body())
    token, secret = await oauth1.create_access_token(core_of(request), signed)
    return Response(
        oauth1.form(token.id, secret, token.expires_at), status_code=201, media_type=FORM
    )


def render_access_token(t: m.OAuthAccessToken, base: str) -> dict[str, Any]:
    url = f"{base}/v3/users/{t.authorizing_user_id}/OS-OAUTH1/access_tokens/{t.id}"
    return {
        "id": t.id,
        "consumer_id": t.consumer_id,
        "project_id": t.project_id,
        "authorizing_user_id": t.authorizing_user_id,
        "expires_at": _time(t.expires_at),
        "links": {"self": url, "roles": f"{url}/roles"},
    }


async def _user_tokens(request: Request, action: str) -> list[m.OAuthAccessToken]:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, action, {"user_id": user_id})
    return await oauth1.access_tokens_of(core_of(request), user_id)


async def _one_token(request: Request, action: str) -> m.OAuthAccessToken:
    wanted = request.path_params["access_token_id"]
    for token in await _user_tokens(request, action):
        if token.id == wanted:
            return token
    raise errors.NotFound(f"Could not find access token: {wanted}.")


async def list_access_tokens(request: Request) -> Response:
    base = base_url(request)
    found = await _user_tokens(request, "identity:list_access_tokens")
    url = f"{base}/v3/users/{request.path_params['user_id']}/OS-OAUTH1/access_tokens"
    links = {"self": url, "previous": None, "next": None}
    return json_response(
        {"access_tokens": [render_access_token(t, base) for t in found], "links": links}
    )


async def show_access_token(request: Request) -> Response:
    token = await _one_token(request, "identity:get_access_token")
    return json_response({"access_token": render_access_token(token, base_url(request))})


async def delete_access_token(request: Request) -> Response:
    """Ends every token made from it at its next validation."""
    token = await _one_token(request, "identity:delete_access_token")
    core = core_of(request)
    async with core.db.writer() as s:
        row = await s.get(m.OAuthAccessToken, token.id)
        if row is not None:
            await s.delete(row)
        await core.bump(s)
    return empty_response(204)


async def _roles(request: Request, token: m.OAuthAccessToken) -> list[dict[str, Any]]:
    base = base_url(request)
    async with core_of(request).db.session() as s:
        rows = await s.execute(select(m.Role).where(m.Role.id.in_(token.role_ids)))
        return [
            {"id": r.id, "name": r.name, "links": {"self": f"{base}/v3/roles/{r.id}"}}
            for r in rows.scalars()
        ]


async def list_access_token_roles(request: Request) -> Response:
    token = await _one_token(request, "identity:list_access_token_roles")
    return json_response(
        {"roles": await _roles(request, token), "links": {"self": str(request.url)}}
    )


async def show_access_token_role(request: Request) -> Response:
    token = await _one_token(request, "identity:get_access_token_role")
    role_id = request.path_params["role_id"]
    for role in await _roles(request, token):
        if role["id"] == role_id:
            return json_response({"role": role})
    raise errors.NotFound(f"Could not find role: {role_id}.")


_CONSUMER = BASE + "/consumers/{consumer_id}"
_TOKENS = "/v3/users/{user_id}/OS-OAUTH1/access_tokens"
_TOKEN = _TOKENS + "/{access_token_id}"
ROUTES = [
    route(BASE + "/consumers", create_consumer, "POST", body=schemas.create_consumer),
    route(BASE + "/consumers", list_consumers, "GET"),
    route(_CONSUMER, show_consumer, "GET"),
    route(_CONSUMER, update_consumer, "PATCH", body=schemas.update_consumer),
    route(_CONSUMER, delete_consumer, "DELETE"),
    public_route(BASE + "/request_token", request_token, "POST"),
    route(
        BASE + "/authorize/{request_token_id}",
        authorize_request_token,
        "PUT",
        body=schemas.authorize_request_token,
    ),
    public_route(BASE + "/access_token", access_token, "POST"),
    route(_TOKENS, list_access_tokens, "GET"),
    route(_TOKEN, show_access_token, "GET"),
    route(_TOKEN, delete_access_token, "DELETE"),
    route(_TOKEN + "/roles", list_access_token_roles, "GET"),
    route(_TOKEN + "/roles/{role_id}", show_access_token_role, "GET"),
]
