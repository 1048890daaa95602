"""Turning a ``POST /v3/auth/tokens`` body into a token: methods, credentials and scope.

A wrong password and an unknown user get the same 401 with the same message (no user
enumeration). Malformed bodies get a 400 naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.db import utcnow
from ministack.identity import models as m
from ministack.identity import oauth1, trusts
from ministack.identity.core import LOGIN_FAILED, IdentityCore, Ref, TokenInfo
from ministack.identity.passwords import MAX_PASSWORD_LENGTH
from ministack.identity.tokens import (
    SCOPE_DOMAIN,
    SCOPE_NONE,
    SCOPE_PROJECT,
    SCOPE_SYSTEM,
    SYSTEM_ALL,
)

TRUST_SCOPE = "OS-TRUST:trust"


def _obj(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise errors.BadRequest(f"Invalid input for field '{where}': an object is required.")
    return value


def _str(parent: dict[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise errors.BadRequest(f"Invalid input for field '{where}': a string is required.")
    return value


async def authenticate(
    core: IdentityCore, body: dict[str, Any], signed: oauth1.Signed | None = None
) -> TokenInfo:
    """Check the credentials in `body` (and, for method oauth1, the request's OAuth
    signature) and issue a token for the requested scope."""
    auth = _obj(body, "auth", "auth")
    identity = _obj(auth, "identity", "auth.identity")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(x, str) for x in methods):
        raise errors.BadRequest("Invalid input for field 'auth.identity.methods'.")
    method = methods[0]
    if method == "oauth1":
        return await oauth1.authenticate(core, signed)
    async with core.db.session() as s:
        if method == "password":
            user = await _password_user(
                core, s, _obj(identity, "password", "auth.identity.password")
            )
            if _trust_spec(auth) is not None:
                return await trusts.issue(core, user, ("password",), _trust_spec(auth))
            scope_key = ("scope-of", user.id, repr(auth.get("scope")))
            scope = await core.cached(scope_key, lambda: _scope(s, auth, user))
            return await core.issue(user, ("password",), scope)
        if method == "application_credential":
            return await _app_cred(
                core,
                s,
                _obj(identity, "application_credential", "auth.identity.application_credential"),
            )
        if method == "token":
            return await _rescope(core, s, auth, _obj(identity, "token", "auth.identity.token"))
    raise errors.Unauthorized(f"Unsupported authentication method: {method}.")


async def _password_user(core: IdentityCore, s: AsyncSession, password: dict[str, Any]) -> Ref:
    spec = _obj(password, "user", "auth.identity.password.user")
    secret = spec.get("password")
    if not isinstance(secret, str):
        raise errors.BadRequest("Invalid input for field 'auth.identity.password.user.password'.")
    if len(secret) > MAX_PASSWORD_LENGTH:
        raise errors.BadRequest(
            f"Invalid input for field 'password': longer than {MAX_PASSWORD_LENGTH} characters."
        )
    query = select(m.User, m.Domain).join(m.Domain, m.Domain.id == m.User.domain_id)
    if "id" in spec:
        query = query.where(m.User.id == _str(spec, "id", "auth.identity.password.user.id"))
    else:
        name = _str(spec, "name", "auth.identity.password.user.name")
        domain = _obj(spec, "domain", "auth.identity.password.user.domain")
        query = query.where(m.User.name == name, *_domain_filter(domain, "user.domain"))
    key = ("login", repr(sorted((k, repr(v)) for k, v in spec.items() if k != "password")))
    row = await core.cached(key, lambda: _login_row(s, query))
    if row is None:
        # Spend the same time as a real check so timing does not reveal unknown users.
        await core.hasher.burn(secret)
        raise errors.Unauthorized(LOGIN_FAILED)
    ref, password_hash, enabled, expires_at = row
    # Keystone's order: a locked account is refused before its password is even checked
    failures = await core.compliance.check_locked(s, ref.id)
    if not await core.check_password(ref.id, secret, password_hash):
        await core.compliance.record_failure(ref.id)
        raise errors.Unauthorized(LOGIN_FAILED)
    if not enabled:
        raise errors.Unauthorized(LOGIN_FAILED)
    core.compliance.check_expiry(ref.id, expires_at)
    if failures:
        await core.compliance.reset_failures(ref.id)
    return ref


async def _login_row(
    s: AsyncSession, query: Any
) -> tuple[Ref, str | None, bool, dt.datetime | None] | None:
    row = (await s.execute(query)).first()
    if row is None:
        return None
    user, domain = row
    ref = Ref(user.id, user.name, domain.id, domain.name)
    return ref, user.password_hash, bool(user.enabled and domain.enabled), user.password_expires_at


def _trust_spec(auth: dict[str, Any]) -> Any:
    """The ``OS-TRUST:trust`` part of a trust scope, or None for any other scope."""
    scope = auth.get("scope")
    return scope.get(TRUST_SCOPE) if isinstance(scope, dict) else None


def _domain_filter(domain: dict[str, Any], where: str) -> list[Any]:
    if "id" in domain:
        return [m.Domain.id == _str(domain, "id", f"{where}.id")]
    return [m.Domain.name == _str(domain, "name", f"{where}.name")]


async def _scope(s: AsyncSession, auth: dict[str, Any], user: Ref) -> tuple[int, str | None]:
    scope = auth.get("scope")
    if scope is None or scope == "unscoped":
        return await _default_scope(s, user)
    if not isinstance(scope, dict):
        raise errors.BadRequest("Invalid input for field 'auth.scope'.")
    if "project" in scope:
        spec = _obj(scope, "project", "auth.scope.project")
        if "id" in spec:
            return SCOPE_PROJECT, _str(spec, "id", "auth.scope.project.id")
        name = _str(spec, "name", "auth.scope.project.name")
        domain = _obj(spec, "domain", "auth.scope.project.domain")
        row = (
            await s.execute(
                select(m.Project.id)
                .join(m.Domain, m.Domain.id == m.Project.domain_id)
                .where(m.Project.name == name, *_domain_filter(domain, "project.domain"))
            )
        ).first()
        if row is None:
            raise errors.Unauthorized(f"Could not find project {name!r} in that domain.")
        return SCOPE_PROJECT, row[0]
    if "domain" in scope:
        spec = _obj(scope, "domain", "auth.scope.domain")
        row = (
            await s.execute(select(m.Domain.id).where(*_domain_filter(spec, "scope.domain")))
        ).first()
        if row is None:
            raise errors.Unauthorized("Could not find the requested domain.")
        return SCOPE_DOMAIN, row[0]
    if "system" in scope:
        if scope["system"] != {"all": True}:
            raise errors.BadRequest(
                "Invalid input for field 'auth.scope.system': the only system scope is "
                '{"all": true}.'
            )
        return SCOPE_SYSTEM, SYSTEM_ALL
    raise errors.BadRequest(
        "Invalid input for field 'auth.scope': name a project, a domain or the system."
    )


async def _default_scope(s: AsyncSession, user: Ref) -> tuple[int, str | None]:
    """No scope asked: use the user's default project if set (as Keystone), else unscoped."""
    default = (
        await s.execute(select(m.User.default_project_id).where(m.User.id == user.id))
    ).scalar()
    return (SCOPE_PROJECT, default) if default else (SCOPE_NONE, None)


async def _rescope(
    core: IdentityCore, s: AsyncSession, auth: dict[str, Any], spec: dict[str, Any]
) -> TokenInfo:
    old = await core.validate(_str(spec, "id", "auth.identity.token.id"))
    if old.payload.app_cred_id:
        raise errors.Forbidden("An application credential token cannot be rescoped.")
    if old.trust is not None:
        raise errors.Forbidden(
            "Using trust-scoped token to create another token. "
            "Create a new trust-scoped token instead."
        )
    methods = tuple(dict.fromkeys((*old.payload.methods, "token")))
    if _trust_spec(auth) is not None:
        return await trusts.issue(
            core, old.user, methods, _trust_spec(auth), expires_at=old.payload.expires_at
        )
    scope = await _scope(s, auth, old.user) if "scope" in auth else (SCOPE_NONE, None)
    return await core.issue(
        old.user, methods, scope, expires_at=old.payload.expires_at, audit_id=old.payload.audit_id
    )


async def _app_cred(core: IdentityCore, s: AsyncSession, spec: dict[str, Any]) -> TokenInfo:
    secret = _str(spec, "secret", "auth.identity.application_credential.secret")
    query = select(m.ApplicationCredential)
    if "id" in spec:
        query = query.where(m.ApplicationCredential.id == spec["id"])
    else:
        user_spec = _obj(spec, "user", "application_credential.user")
        name = _str(spec, "name", "application_credential.name")
        if "id" in user_spec:
            user_id = _str(user_spec, "id", "application_credential.user.id")
        else:
            domain = _obj(user_spec, "domain", "application_credential.user.domain")
            user_name = _str(user_spec, "name", "application_credential.user.name")
            user_row = (
                await s.execute(
                    select(m.User.id)
                    .join(m.Domain, m.Domain.id == m.User.domain_id)
                    .where(m.User.name == user_name, *_domain_filter(domain, "user.domain"))
                )
            ).first()
            user_id = user_row[0] if user_row else ""
        query = query.where(
            m.ApplicationCredential.user_id == user_id, m.ApplicationCredential.name == name
        )
    cred = (await s.execute(query)).scalars().first()
    if cred is None or not await core.check_password(cred.id, secret, cred.secret_hash):
        raise errors.Unauthorized(LOGIN_FAILED)
    if cred.expires_at is not None and cred.expires_at <= utcnow():
        raise errors.Unauthorized(LOGIN_FAILED)
    user = await core._enabled_user(s, cred.user_id)
    if user is None:
        raise errors.Unauthorized(LOGIN_FAILED)
    expires: dt.datetime | None = cred.expires_at
    return await core.issue(
        user,
        ("application_credential",),
        (SCOPE_PROJECT, cred.project_id),
        expires_at=expires,
        app_cred_id=cred.id,
    )
