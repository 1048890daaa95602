"""Key pairs (Nova's /os-keypairs): import a public key, or, before microversion 2.92, have
one generated (the private key is returned once and never stored)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common.auth import Auth
from ministack.common.pagination import paginate, parse_page
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute import quotas
from ministack.compute.api import schemas
from ministack.compute.api.common import api_of, caller, iso_micro, route, version


def fingerprint(public_key: str) -> str:
    """The MD5 colon fingerprint of an OpenSSH public key; 400 when it is not one."""
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1])
    except Exception:
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def generate() -> tuple[str, str]:
    """A new RSA key pair: (private key PEM, OpenSSH public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public + " Generated-by-Nova"


def render(kp: m.KeyPair, request: Request, full: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": kp.name,
        "public_key": kp.public_key,
        "fingerprint": kp.fingerprint,
    }
    if version(request) >= (2, 2):
        body["type"] = kp.type
    if full:
        body.update(
            user_id=kp.user_id,
            created_at=iso_micro(kp.created_at),
            deleted=False,
            deleted_at=None,
            updated_at=None,
            id=kp.id,
        )
    return body


def _user(request: Request, auth: Auth) -> str:
    wanted = request.query_params.get("user_id")
    if wanted and wanted != auth.user_id:
        if version(request) < (2, 10) or not auth.is_admin:
            raise errors.Forbidden("Only an admin may act on another user's key pairs.")
        return wanted
    return auth.user_id


async def list_keypairs(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-keypairs:index")
    user_id = _user(request, auth)
    query = select(m.KeyPair).where(m.KeyPair.user_id == user_id)
    # limit and marker (a key pair name) exist from 2.35 on; the query schema says which
    wanted = validation.query(request) if version(request) >= (2, 35) else {}
    page = parse_page(wanted)
    async with api_of(request).db.session() as s:
        query = await paginate(s, query, page, m.KeyPair.name)
        rows = (await s.execute(query)).scalars().all()
    return json_response({"keypairs": [{"keypair": render(k, request)} for k in rows]})


async def create_keypair(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-keypairs:create")
    body = validation.body(request)["keypair"]  # checked by schemas.create_keypair
    name = body["name"]
    user_id = auth.user_id
    if body.get("user_id") and body["user_id"] != auth.user_id:
        if version(request) < (2, 10) or not auth.is_admin:
            raise errors.Forbidden("Only an admin may create key pairs for another user.")
        user_id = str(body["user_id"])
    kind = str(body.get("type", "ssh"))
    private = None
    public = body.get("public_key")
    if public is None:
        private, public = generate()
    kp = m.KeyPair(
        name=name,
        user_id=user_id,
        project_id=auth.project_id or "",
        public_key=public.strip(),
        fingerprint=fingerprint(public),
        type=kind,
    )
    api = api_of(request)
    async with api.db.writer() as s:
        if (
            await s.execute(
                select(m.KeyPair).where(m.KeyPair.user_id == user_id, m.KeyPair.name == name)
            )
        ).first():
            raise errors.Conflict(f"Key pair '{name}' already exists.")
        limit = (await quotas.limits(s, auth.project_id or ""))["key_pairs"]
        count = (
            await s.execute(
                select(func.count()).select_from(m.KeyPair).where(m.KeyPair.user_id == user_id)
            )
        ).scalar_one()
        if 0 <= limit <= count:
            raise errors.OverLimit("Quota exceeded, too many key pairs.")
        s.add(kp)
    out = render(kp, request)
    out["user_id"] = kp.user_id
    if private is not None:
        out["private_key"] = private
    return json_response({"keypair": out}, status=201 if version(request) >= (2, 2) else 200)


async def _get(request: Request, auth: Auth) -> m.KeyPair:
    name = request.path_params["name"]
    user_id = _user(request, auth)
    async with api_of(request).db.session() as s:
        kp = (
            await s.execute(
                select(m.KeyPair).where(m.KeyPair.user_id == user_id, m.KeyPair.name == name)
            )
        ).scalar_one_or_none()
    if kp is None:
        raise errors.NotFound(f"Keypair {name} not found for user {user_id}")
    return kp


async def show_keypair(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-keypairs:show")
    return json_response({"keypair": render(await _get(request, auth), request, full=True)})


async def delete_keypair(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-keypairs:delete")
    kp = await _get(request, auth)
    async with api_of(request).db.writer() as s:
        await s.execute(delete(m.KeyPair).where(m.KeyPair.id == kp.id))
    return empty_response(204 if version(request) >= (2, 2) else 202)


ROUTES: list[BaseRoute] = [
    route("/v2.1/os-keypairs", list_keypairs, "GET", query=schemas.list_keypairs),
    route("/v2.1/os-keypairs", create_keypair, "POST", body=schemas.create_keypair),
    route("/v2.1/os-keypairs/{name}", show_keypair, "GET", query=schemas.keypair_query),
    route("/v2.1/os-keypairs/{name}", delete_keypair, "DELETE", query=schemas.keypair_query),
]
