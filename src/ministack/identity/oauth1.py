"""OS-OAUTH1 (Keystone's delegated authentication): consumers, request tokens, authorization,
access tokens, and Keystone tokens issued for an access token.

The flow: an admin creates a consumer (id and shared secret); the consumer signs (RFC 5849,
HMAC-SHA1) a request for a project and gets a request token; a user who holds roles there
authorizes it with some of them and hands the verifier to the consumer; the consumer exchanges
the signed request token and verifier for an access token, and signs token requests with it
(`POST /v3/auth/tokens`, method ``oauth1``). Such a token's roles are checked again at every
validation (`IdentityCore._load_oauth`): deleting the access token or its consumer, or the user
losing the roles, ends it. Secrets are kept encrypted with the credential key (HMAC needs them
whole).
Signatures are checked with oauthlib's RFC 5849 primitives; timestamps older than
`TIMESTAMP_WINDOW` are refused.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.db import utcnow
from ministack.identity import models as m
from ministack.identity.core import IdentityCore, TokenInfo
from ministack.identity.tokens import SCOPE_PROJECT

REQUEST_TOKEN_SECONDS = 28800  # Keystone's [oauth1] request_token_duration
ACCESS_TOKEN_SECONDS = 86400  # Keystone's [oauth1] access_token_duration
TIMESTAMP_WINDOW = 600  # oauthlib's default timestamp lifetime
INVALID = "Invalid signature"


@dataclass(frozen=True)
class Signed:
    """An OAuth-signed HTTP request as the server received it."""

    method: str
    uri: str
    authorization: str
    form_body: str | None = None  # only an x-www-form-urlencoded body is signed


def _oauth_params(signed: Signed) -> dict[str, str]:
    if not signed.authorization.lower().startswith("oauth "):
        raise errors.Unauthorized("An OAuth Authorization header is required.")
    try:  # unescaped, as they were signed
        found = signature.collect_parameters(
            headers={"Authorization": signed.authorization}, exclude_oauth_signature=False
        )
        return {k: v for k, v in found if k.startswith("oauth_")}
    except ValueError:
        raise errors.Unauthorized("The OAuth Authorization header is malformed.") from None


def verify(signed: Signed, client_secret: str, token_secret: str | None) -> dict[str, str]:
    """The request's oauth_* parameters when its HMAC-SHA1 signature is right and fresh;
    401 otherwise."""
    oauth = _oauth_params(signed)
    if oauth.get("oauth_signature_method") != "HMAC-SHA1":
        raise errors.Unauthorized("Only the HMAC-SHA1 signature method is supported.")
    try:
        stamp = int(oauth.get("oauth_timestamp", ""))
    except ValueError:
        raise errors.Unauthorized("oauth_timestamp is missing or not a number.") from None
    if abs(time.time() - stamp) > TIMESTAMP_WINDOW:
        raise errors.Unauthorized("oauth_timestamp is too far from the server's time.")
    headers = {"Authorization": signed.authorization}
    request = OAuthRequest(signed.uri, signed.method, signed.form_body, headers)
    request.params = signature.collect_parameters(
        uri_query=urlsplit(signed.uri).query,
        body=signed.form_body,
        headers=headers,
        exclude_oauth_signature=True,
    )
    request.signature = oauth.get("oauth_signature", "")
    if not signature.verify_hmac_sha1(request, client_secret, token_secret):
        raise errors.Unauthorized(INVALID)
    return oauth


def form(token_id: str, secret: str, expires_at: dt.datetime | None) -> str:
    """The form-encoded answer of request_token and access_token."""
    fields = [("oauth_token", token_id), ("oauth_token_secret", secret)]
    if expires_at is not None:
        fields.append(("oauth_expires_at", expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
    return urlencode(fields)


async def _consumer(core: IdentityCore, s: AsyncSession, oauth: dict[str, str]) -> m.OAuthConsumer:
    consumer = await s.get(m.OAuthConsumer, oauth.get("oauth_consumer_key", ""))
    if consumer is None:
        raise errors.Unauthorized("Provided consumer does not exist.")
    return consumer


def _live(expires_at: dt.datetime | None) -> bool:
    return expires_at is None or expires_at > utcnow()


async def create_request_token(
    core: IdentityCore, signed: Signed, project_id: str | None
) -> tuple[m.OAuthRequestToken, str]:
    """A request token for `project_id` (the Requested-Project-Id header) and its secret."""
    if not project_id:
        raise errors.BadRequest("Requested-Project-Id header is required.")
    oauth = _oauth_params(signed)
    async with core.db.writer() as s:
        consumer = await _consumer(core, s, oauth)
        verify(signed, core.credentials.decrypt(consumer.secret), None)
        if await core.enabled_project(s, project_id) is None:
            raise errors.NotFound(f"Could not find project: {project_id}.")
        secret = uuid.uuid4().hex
        token = m.OAuthRequestToken(
            id=uuid.uuid4().hex,
            secret=core.credentials.encrypt(secret),
            consumer_id=consumer.id,
            project_id=project_id,
            expires_at=utcnow() + dt.timedelta(seconds=REQUEST_TOKEN_SECONDS),
        )
        s.add(token)
        await core.bump(s)
    return token, secret


async def authorize(
    core: IdentityCore, user_id: str, request_token_id: str, role_ids: list[str]
) -> str:
    """The authorizing user grants roles it holds on the requested project; the verifier."""
    async with core.db.writer() as s:
        token = await s.get(m.OAuthRequestToken, request_token_id)
        if token is None or not _live(token.expires_at):
            raise errors.NotFound(f"Could not find request token: {request_token_id}.")
        if token.authorizing_user_id is not None:
            raise errors.Unauthorized("This request token is already authorized.")
        project = await core.enabled_project(s, token.project_id)
        if project is None:
            raise errors.NotFound(f"Could not find project: {token.project_id}.")
        held = await core.effective_roles(s, user_id, "project", project.id, project.domain_id)
        if not held:
            raise errors.Unauthorized("User is not a member of the requested project.")
        missing = set(role_ids) - {r.id for r in held}
        if missing:
            raise errors.Unauthorized(
                f"The user does not hold role {sorted(missing)[0]} on the requested project."
            )
        token.authorizing_user_id, token.role_ids = user_id, sorted(set(role_ids))
        token.verifier = secrets.token_urlsafe(6)[:8]
        await core.bump(s)
        return token.verifier


async def create_access_token(core: IdentityCore, signed: Signed) -> tuple[m.OAuthAccessToken, str]:
    """Exchange an authorized request token (signed, with its verifier) for an access token;
    the request token is used up."""
    oauth = _oauth_params(signed)
    async with core.db.writer() as s:
        consumer = await _consumer(core, s, oauth)
        request = await s.get(m.OAuthRequestToken, oauth.get("oauth_token", ""))
        if request is None or request.consumer_id != consumer.id or not _live(request.expires_at):
            raise errors.Unauthorized("Request token not found or expired.")
        verify(
            signed,
            core.credentials.decrypt(consumer.secret),
            core.credentials.decrypt(request.secret),
        )
        if request.authorizing_user_id is None or not request.verifier:
            raise errors.Unauthorized("Request token has not been authorized.")
        if not secrets.compare_digest(oauth.get("oauth_verifier", ""), request.verifier):
            raise errors.Unauthorized("Provided verifier does not match the stored one.")
        secret = uuid.uuid4().hex
        access = m.OAuthAccessToken(
            id=uuid.uuid4().hex,
            secret=core.credentials.encrypt(secret),
            consumer_id=consumer.id,
            authorizing_user_id=request.authorizing_user_id,
            project_id=request.project_id,
            role_ids=list(request.role_ids or []),
            expires_at=utcnow() + dt.timedelta(seconds=ACCESS_TOKEN_SECONDS),
        )
        s.add(access)
        await s.delete(request)
        await core.bump(s)
    return access, secret


async def authenticate(core: IdentityCore, signed: Signed | None) -> TokenInfo:
    """POST /v3/auth/tokens with method oauth1: a project token for the access token's user
    with the access token's roles."""
    if signed is None:
        raise errors.Unauthorized("The oauth1 method needs a signed request.")
    oauth = _oauth_params(signed)
    async with core.db.session() as s:
        consumer = await _consumer(core, s, oauth)
        access = await s.get(m.OAuthAccessToken, oauth.get("oauth_token", ""))
        if access is None or access.consumer_id != consumer.id or not _live(access.expires_at):
            raise errors.Unauthorized("Access token not found or expired.")
        verify(
            signed,
            core.credentials.decrypt(consumer.secret),
            core.credentials.decrypt(access.secret),
        )
        user = await core.enabled_user(s, access.authorizing_user_id)
    if user is None:
        raise errors.Unauthorized("The authorizing user is disabled or gone.")
    return await core.issue(
        user,
        ("oauth1",),
        (SCOPE_PROJECT, access.project_id),
        expires_at=access.expires_at,
        access_token_id=access.id,
    )


async def access_tokens_of(core: IdentityCore, user_id: str) -> list[m.OAuthAccessToken]:
    async with core.db.session() as s:
        rows = await s.execute(
            select(m.OAuthAccessToken)
            .where(m.OAuthAccessToken.authorizing_user_id == user_id)
            .order_by(m.OAuthAccessToken.id)
        )
        return list(rows.scalars())
