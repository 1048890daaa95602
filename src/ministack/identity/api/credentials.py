"""Credentials: ``/v3/credentials`` (CRUD, blobs encrypted at rest), EC2 credentials
(``/v3/users/{id}/credentials/OS-EC2``) and ``/v3/ec2tokens``, which turns a request signed
with an EC2 secret into a project-scoped token (the object store's S3 API asks it)."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, policy, validation
from ministack.common.auth import Auth, require_auth
from ministack.common.db import new_id
from ministack.common.web import empty_response, json_response
from ministack.identity import models as m
from ministack.identity import policies, s3tokens
from ministack.identity.api import schemas
from ministack.identity.api.auth import render_token
from ministack.identity.api.crud import base_url, core_of, public_route, route
from ministack.identity.catalog import catalog_for
from ministack.identity.core import LOGIN_FAILED, utcnow_precise
from ministack.identity.credentials import EC2, check_signature, ec2_blob, ec2_id
from ministack.identity.tokens import SCOPE_PROJECT

READ = policies.RULES["identity:get_credential"]  # who may learn that a credential exists


def render_credential(c: m.Credential, blob: str, base: str) -> dict[str, Any]:
    return {
        **(c.extra or {}),
        "id": c.id,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "type": c.type,
        "blob": blob,
        "links": {"self": f"{base}/v3/credentials/{c.id}"},
    }


def _not_found(cred_id: str) -> errors.NotFound:
    return errors.NotFound(f"Could not find credential: {cred_id}.")


async def _readable(request: Request, auth: Auth, cred_id: str) -> m.Credential:
    """The credential if the caller may read it; 404 otherwise (never reveals another
    user's credential exists)."""
    async with core_of(request).db.session() as s:
        cred = await s.get(m.Credential, cred_id)
    if cred is None or not policy.check(auth, READ, {"user_id": cred.user_id}):
        raise _not_found(cred_id)
    return cred


async def create_credential(request: Request) -> Response:
    auth = await require_auth(request)
    obj = validation.body(request)["credential"]
    policies.authorize(auth, "identity:create_credential", {"user_id": obj["user_id"]})
    project_id = obj.get("project_id")
    cred_id = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else new_id()
    if obj["type"] == EC2:
        if not project_id:
            raise errors.BadRequest(
                "Invalid input for field 'credential.project_id': an ec2 credential needs one."
            )
        cred_id = ec2_id(ec2_blob(obj["blob"])["access"])
    core = core_of(request)
    extra = {k: v for k, v in obj.items() if k not in (*schemas.CREDENTIAL_FIELDS, "id", "links")}
    cred = m.Credential(
        id=cred_id,
        user_id=obj["user_id"],
        project_id=project_id,
        type=obj["type"],
        encrypted_blob=core.credentials.encrypt(obj["blob"]),
        extra=extra,
    )
    try:
        async with core.db.writer() as s:
            if await s.get(m.User, cred.user_id) is None:
                raise errors.NotFound(f"Could not find user: {cred.user_id}.")
            if project_id and await s.get(m.Project, project_id) is None:
                raise errors.NotFound(f"Could not find project: {project_id}.")
            s.add(cred)
            await s.flush()
    except IntegrityError:
        raise errors.Conflict(
            f"Conflict occurred attempting to store credential - Duplicate entry: {cred_id}."
        ) from None
    body = render_credential(cred, obj["blob"], base_url(request))
    return json_response({"credential": body}, status=201)


async def list_credentials(request: Request) -> Response:
    """Every credential for an admin or a system reader; the caller's own for anyone else."""
    auth = await require_auth(request)
    wanted = validation.query(request)
    query = select(m.Credential).order_by(m.Credential.id)
    if not (auth.is_admin or auth.is_system_reader):
        query = query.where(m.Credential.user_id == auth.user_id)
    if wanted.get("user_id"):
        query = query.where(m.Credential.user_id == wanted["user_id"])
    if wanted.get("type"):
        query = query.where(m.Credential.type == wanted["type"])
    core = core_of(request)
    async with core.db.session() as s:
        rows = (await s.execute(query)).scalars().all()
    base = base_url(request)
    return json_response(
        {
            "credentials": [
                render_credential(c, core.credentials.decrypt(c.encrypted_blob), base) for c in rows
            ],
            "links": {"self": f"{base}/v3/credentials", "previous": None, "next": None},
        }
    )


async def show_credential(request: Request) -> Response:
    auth = await require_auth(request)
    cred = await _readable(request, auth, request.path_params["credential_id"])
    blob = core_of(request).credentials.decrypt(cred.encrypted_blob)
    return json_response({"credential": render_credential(cred, blob, base_url(request))})


async def update_credential(request: Request) -> Response:
    auth = await require_auth(request)
    obj = validation.body(request)["credential"]
    cred_id = request.path_params["credential_id"]
    core = core_of(request)
    async with core.db.writer() as s:
        cred = await s.get(m.Credential, cred_id)
        if cred is None or not policy.check(auth, READ, {"user_id": cred.user_id}):
            raise _not_found(cred_id)
        policies.authorize(auth, "identity:update_credential", {"user_id": cred.user_id})
        if "user_id" in obj:
            policies.authorize(auth, "identity:update_credential", {"user_id": obj["user_id"]})
            if await s.get(m.User, obj["user_id"]) is None:
                raise errors.NotFound(f"Could not find user: {obj['user_id']}.")
            cred.user_id = obj["user_id"]
        if "project_id" in obj:
            cred.project_id = obj["project_id"]
        if "type" in obj:
            cred.type = obj["type"]
        blob = obj.get("blob") or core.credentials.decrypt(cred.encrypted_blob)
        if cred.type == EC2 and ec2_id(ec2_blob(blob)["access"]) != cred.id:
            raise errors.BadRequest(
                "Invalid input for field 'credential.blob': an ec2 credential's access key "
                "cannot change (its id is made from it); create a new credential."
            )
        if cred.type == EC2 and not cred.project_id:
            raise errors.BadRequest(
                "Invalid input for field 'credential.project_id': an ec2 credential needs one."
            )
        cred.encrypted_blob = core.credentials.encrypt(blob)
        extra = {
            k: v for k, v in obj.items() if k not in (*schemas.CREDENTIAL_FIELDS, "id", "links")
        }
        cred.extra = {**(cred.extra or {}), **extra}
        await s.flush()
        body = render_credential(cred, blob, base_url(request))
    return json_response({"credential": body})


async def delete_credential(request: Request) -> Response:
    auth = await require_auth(request)
    cred_id = request.path_params["credential_id"]
    core = core_of(request)
    async with core.db.writer() as s:
        cred = await s.get(m.Credential, cred_id)
        if cred is None or not policy.check(auth, READ, {"user_id": cred.user_id}):
            raise _not_found(cred_id)
        policies.authorize(auth, "identity:delete_credential", {"user_id": cred.user_id})
        await s.delete(cred)
    return empty_response()


# -- EC2 credentials ------------------------------------------------------------------------


def render_ec2(c: m.Credential, blob: dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": blob["access"],
        "secret": blob.get("secret"),
        "trust_id": blob.get("trust_id"),
        "links": {"self": f"{base}/v3/users/{c.user_id}/credentials/OS-EC2/{blob['access']}"},
    }


async def create_ec2(request: Request) -> Response:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, "identity:ec2_create_credential", {"user_id": user_id})
    project_id = validation.body(request)["tenant_id"]
    access, secret = secrets.token_hex(16), secrets.token_hex(16)
    blob = {"access": access, "secret": secret, "trust_id": None}
    core = core_of(request)
    cred = m.Credential(
        id=ec2_id(access),
        user_id=user_id,
        project_id=project_id,
        type=EC2,
        encrypted_blob=core.credentials.encrypt(json.dumps(blob)),
        extra={},
    )
    async with core.db.writer() as s:
        if await s.get(m.User, user_id) is None:
            raise errors.NotFound(f"Could not find user: {user_id}.")
        if await s.get(m.Project, project_id) is None:
            raise errors.NotFound(f"Could not find project: {project_id}.")
        s.add(cred)
    return json_response({"credential": render_ec2(cred, blob, base_url(request))}, status=201)


async def _ec2_rows(request: Request, action: str) -> list[m.Credential]:
    auth = await require_auth(request)
    user_id = request.path_params["user_id"]
    policies.authorize(auth, action, {"user_id": user_id})
    query = select(m.Credential).where(m.Credential.user_id == user_id, m.Credential.type == EC2)
    if "access" in request.path_params:
        query = query.where(m.Credential.id == ec2_id(request.path_params["access"]))
    async with core_of(request).db.session() as s:
        rows = list((await s.execute(query.order_by(m.Credential.created_at))).scalars().all())
    if "access" in request.path_params and not rows:
        raise errors.NotFound(f"Could not find credential: {request.path_params['access']}.")
    return rows


async def list_ec2(request: Request) -> Response:
    rows = await _ec2_rows(request, "identity:ec2_list_credentials")
    core, base = core_of(request), base_url(request)
    out = [
        render_ec2(c, json.loads(core.credentials.decrypt(c.encrypted_blob)), base) for c in rows
    ]
    return json_response(
        {"credentials": out, "links": {"self": None, "previous": None, "next": None}}
    )


async def show_ec2(request: Request) -> Response:
    (cred,) = await _ec2_rows(request, "identity:ec2_get_credential")
    blob = json.loads(core_of(request).credentials.decrypt(cred.encrypted_blob))
    return json_response({"credential": render_ec2(cred, blob, base_url(request))})


async def delete_ec2(request: Request) -> Response:
    (cred,) = await _ec2_rows(request, "identity:ec2_delete_credential")
    async with core_of(request).db.writer() as s:
        row = await s.get(m.Credential, cred.id)
        if row is not None:
            await s.delete(row)
    return empty_response()


async def ec2_token(request: Request) -> Response:
    """A token for the project of the EC2 credential that signed the described request;
    401 for an unknown access key, a wrong or stale signature, or a disabled user."""
    data = validation.body(request)
    signed = data.get("credentials") or data["ec2Credentials"]
    core = core_of(request)
    async with core.db.session() as s:
        cred = await s.get(m.Credential, ec2_id(signed["access"]))
        if cred is None or cred.type != EC2 or not cred.project_id:
            raise errors.Unauthorized(LOGIN_FAILED)
        blob = ec2_blob(core.credentials.decrypt(cred.encrypted_blob))
        check_signature(str(blob.get("secret", "")), signed, utcnow_precise())
        user = await core._enabled_user(s, cred.user_id)
    if user is None:
        raise errors.Unauthorized(LOGIN_FAILED)
    info = await core.issue(user, ("ec2credential",), (SCOPE_PROJECT, cred.project_id))
    body = render_token(info, await catalog_for(core, cred.project_id))
    return json_response(body, headers={"X-Subject-Token": info.token})


async def s3_token(request: Request) -> Response:
    """Keystone's /v3/s3tokens: a token for the project of the EC2 credential whose secret
    signs the given string to the given signature; 401 otherwise."""
    signed = validation.body(request)["credentials"]
    try:
        string_to_sign = base64.b64decode(signed["token"], validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("credentials.token must be base64.") from None
    core = core_of(request)
    info = await s3tokens.s3_token(core, signed["access"], string_to_sign, signed["signature"])
    body = render_token(info, await catalog_for(core))
    return json_response(body, headers={"X-Subject-Token": info.token})


_EC2 = "/v3/users/{user_id}/credentials/OS-EC2"
ROUTES = [
    route("/v3/credentials", list_credentials, "GET", query=schemas.list_credentials),
    route("/v3/credentials", create_credential, "POST", body=schemas.create_credential),
    route("/v3/credentials/{credential_id}", show_credential, "GET"),
    route(
        "/v3/credentials/{credential_id}",
        update_credential,
        "PATCH",
        body=schemas.update_credential,
    ),
    route("/v3/credentials/{credential_id}", delete_credential, "DELETE"),
    route(_EC2, list_ec2, "GET"),
    route(_EC2, create_ec2, "POST", body=schemas.create_ec2_credential),
    route(_EC2 + "/{access}", show_ec2, "GET"),
    route(_EC2 + "/{access}", delete_ec2, "DELETE"),
    public_route("/v3/ec2tokens", ec2_token, "POST", body=schemas.ec2_token),
    public_route("/v3/s3tokens", s3_token, "POST", body=schemas.s3_token),
]
