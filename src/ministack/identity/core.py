"""Authentication and token validation: the hot path of every request to every service.

`IdentityCore.authenticate` turns credentials into a token; `validate` turns a token back into
who and what scope, checking expiry, revocation events, that user, project and domain are still
enabled and that the user still holds a role there. Results are cached per token and tagged with
the identity revision (a counter bumped by every identity write), so a revocation, a disabled
user or a removed role takes effect on the very next validation, in every process.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import event, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import context, errors
from ministack.common.auth import AccessRule, Auth
from ministack.common.db import Database, utcnow
from ministack.config import Settings
from ministack.identity import models as m
from ministack.identity.compliance import Compliance
from ministack.identity.credentials import CredentialCipher
from ministack.identity.inheritance import ancestors
from ministack.identity.passwords import PasswordHasher
from ministack.identity.tokens import (
    SCOPE_NONE,
    SCOPE_PROJECT,
    SCOPE_SYSTEM,
    SYSTEM_ALL,
    TokenCodec,
    TokenPayload,
    new_audit_id,
)

log = logging.getLogger("ministack.identity")

LOGIN_FAILED = "The request you have made requires authentication."
TOKEN_INVALID = "The request you have made requires authentication: the token is not valid."
TOKEN_CACHE_SIZE = 50_000
NOTIFY_CHANNEL = "ministack_identity"
_REVISION_SQL = "SELECT value FROM identity_revision WHERE id = 1"
_revision_memo: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "identity_revision", default=None
)
T = TypeVar("T")


@dataclass(frozen=True)
class Ref:
    id: str
    name: str
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True)
class TrustRef:
    """The trust a trust-scoped token stands on, as its token body shows it."""

    id: str
    impersonation: bool
    trustor_id: str
    trustee_id: str


@dataclass(frozen=True)
class TokenInfo:
    """Everything a validated token stands for, ready to render or to authorize with."""

    token: str
    payload: TokenPayload
    user: Ref
    roles: tuple[Ref, ...] = ()
    project: Ref | None = None
    domain: Ref | None = None
    trust: TrustRef | None = None
    # OS-OAUTH1: (access token id, consumer id) of a token issued for an access token
    oauth: tuple[str, str] | None = None
    # an application credential's access rules (None: the credential has none)
    access_rules: tuple[AccessRule, ...] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> str | None:
        """ "all" for a system-scoped token, else None."""
        return self.payload.scope_id if self.payload.scope_type == SCOPE_SYSTEM else None

    def to_auth(self) -> Auth:
        """The Auth every other service sees; built once per cached validation."""
        return self._auth

    @functools.cached_property
    def _auth(self) -> Auth:  # a frozen dataclass still has a __dict__ to cache into
        return Auth(
            user_id=self.user.id,
            user_name=self.user.name,
            user_domain_id=self.user.domain_id or "",
            roles=tuple(r.name for r in self.roles),
            expires_at=self.payload.expires_at,
            project_id=self.project.id if self.project else None,
            project_name=self.project.name if self.project else None,
            project_domain_id=self.project.domain_id if self.project else None,
            domain_id=self.domain.id if self.domain else None,
            domain_name=self.domain.name if self.domain else None,
            system_scope=self.system,
            trust_id=self.trust.id if self.trust else None,
            access_rules=self.access_rules,
        )


class IdentityCore:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.codec = TokenCodec(settings.state_path / "identity" / "fernet.key")
        self.hasher = PasswordHasher(
            settings.identity.password_hash_rounds, settings.identity.password_cache_seconds
        )
        self.compliance = Compliance(settings.security_compliance, self.hasher, db)
        self.credentials = CredentialCipher(settings.state_path / "identity" / "credential.key")
        self._cache: dict[str, tuple[int, TokenInfo]] = {}
        self._memo: dict[tuple[Any, ...], tuple[int, object]] = {}
        self._sqlite: sqlite3.Connection | None = None
        self._pg_conn: Any = None
        self._pg_lock = asyncio.Lock()
        self._pg_value: int | None = None
        self._pg_generation = 0
        url = make_url(db.url)
        self._pg_dsn: str | None = None
        if url.get_backend_name() == "postgresql":
            self._pg_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        if db.is_sqlite:
            path = make_url(db.url).database or ":memory:"
            self._sqlite = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._sqlite.execute("PRAGMA busy_timeout=30000")

    # -- revision --------------------------------------------------------------------------
    async def revision(self) -> int:
        """The identity revision, read from the database once per request.

        On SQLite the read runs inline on a private connection (microseconds, no thread hop).
        """
        req = context.current_request_id()
        memo = _revision_memo.get()
        if req is not None and memo is not None and memo[0] == req:
            return memo[1]
        if self._sqlite is not None:
            row = self._sqlite.execute(_REVISION_SQL).fetchone()
            value = int(row[0]) if row else 0
        elif self._pg_dsn is not None:
            value = await self._pg_revision(self._pg_dsn)
        else:
            async with self.db.engine.connect() as conn:
                result = await conn.execute(select(m.Revision.value).where(m.Revision.id == 1))
                value = int(result.scalar() or 0)
                await conn.rollback()
        if req is not None:
            _revision_memo.set((req, value))
        return value

    async def _pg_revision(self, dsn: str) -> int:
        """The revision on PostgreSQL: kept in memory while LISTENing for changes.

        Every bump NOTIFYs at commit and also invalidates this process's copy right after its
        own commit, so no validation here ever uses a revision older than a committed change;
        other processes learn of it when the notification arrives (milliseconds).
        """
        if self._pg_value is not None:
            return self._pg_value
        async with self._pg_lock:
            if self._pg_conn is None or self._pg_conn.is_closed():
                import asyncpg  # type: ignore[import-untyped]

                self._pg_conn = await asyncpg.connect(dsn)
                await self._pg_conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                self._pg_conn.add_termination_listener(self._on_lost)
            generation = self._pg_generation
            value = int(await self._pg_conn.fetchval(_REVISION_SQL) or 0)
            if generation == self._pg_generation:
                self._pg_value = value
            return value

    def _on_notify(self, *_args: object) -> None:
        self.invalidate()

    def _on_lost(self, *_args: object) -> None:
        self._pg_conn = None
        self.invalidate()

    def _after_commit(self, _session: object) -> None:
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the in-memory revision; the next validation reads it again."""
        self._pg_generation += 1
        self._pg_value = None

    async def close(self) -> None:
        if self._pg_conn is not None:
            await self._pg_conn.close()
            self._pg_conn = None
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    async def cached(self, key: tuple[Any, ...], load: Callable[[], Awaitable[T]]) -> T:
        """`load()`'s result, reused until any identity write bumps the revision."""
        rev = await self.revision()
        hit = self._memo.get(key)
        if hit is not None and hit[0] == rev:
            return cast(T, hit[1])
        value = await load()
        if len(self._memo) >= TOKEN_CACHE_SIZE:
            self._memo.clear()
        self._memo[key] = (rev, value)
        return value

    async def bump(self, session: AsyncSession) -> None:
        """Invalidate every cached token validation (call inside the write transaction)."""
        _revision_memo.set(None)
        if self._pg_dsn is not None:
            await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
            event.listen(session.sync_session, "after_commit", self._after_commit, once=True)
        result = await session.execute(
            update(m.Revision).where(m.Revision.id == 1).values(value=m.Revision.value + 1)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            session.add(m.Revision(id=1, value=1))

    # -- validation ------------------------------------------------------------------------
    async def validate(self, token: str) -> TokenInfo:
        """The token's info; raises Unauthorized when invalid, expired or revoked."""
        rev = await self.revision()
        hit = self._cache.get(token)
        if hit and hit[0] == rev:
            if hit[1].payload.expires_at <= utcnow_precise():
                raise errors.Unauthorized(TOKEN_INVALID)
            return hit[1]
        payload = self.codec.decode(token)
        if payload is None or payload.expires_at <= utcnow_precise():
            raise errors.Unauthorized(TOKEN_INVALID)
        async with self.db.session() as s:
            info = await self._load(s, token, payload)
        if len(self._cache) >= TOKEN_CACHE_SIZE:
            self._cache.clear()
        self._cache[token] = (rev, info)
        return info

    async def _load(self, s: AsyncSession, token: str, p: TokenPayload) -> TokenInfo:
        if await self.cached(
            ("revoked", p.audit_id, p.user_id, p.issued_at), lambda: self._is_revoked(s, p)
        ):
            raise errors.Unauthorized(TOKEN_INVALID)
        user = await self.cached(("user", p.user_id), lambda: self._enabled_user(s, p.user_id))
        if user is None:
            raise errors.Unauthorized(TOKEN_INVALID)
        return await self._scoped_info(s, token, p, user)

    async def _is_revoked(self, s: AsyncSession, p: TokenPayload) -> bool:
        revoked = await s.execute(
            select(m.Revocation.id)
            .where(
                or_(
                    m.Revocation.audit_id == p.audit_id,
                    (m.Revocation.user_id == p.user_id)
                    & (m.Revocation.issued_before >= p.issued_at),
                )
            )
            .limit(1)
        )
        return revoked.first() is not None

    async def _user_revoked(self, s: AsyncSession, user_id: str, issued_at: dt.datetime) -> bool:
        revoked = await s.execute(
            select(m.Revocation.id)
            .where(m.Revocation.user_id == user_id, m.Revocation.issued_before >= issued_at)
            .limit(1)
        )
        return revoked.first() is not None

    async def enabled_user(self, s: AsyncSession, user_id: str) -> Ref | None:
        """The user when it and its domain are enabled."""
        return await self._enabled_user(s, user_id)

    async def _enabled_user(self, s: AsyncSession, user_id: str) -> Ref | None:
        row = (
            await s.execute(
                select(m.User.id, m.User.name, m.Domain.id, m.Domain.name)
                .join(m.Domain, m.Domain.id == m.User.domain_id)
                .where(m.User.id == user_id, m.User.enabled, m.Domain.enabled)
            )
        ).first()
        return Ref(row[0], row[1], row[2], row[3]) if row else None

    async def _scoped_info(
        self, s: AsyncSession, token: str, p: TokenPayload, user: Ref
    ) -> TokenInfo:
        if p.scope_type == SCOPE_NONE:
            return TokenInfo(token=token, payload=p, user=user)
        if p.trust_id is not None:
            by_trust = await self.cached(
                ("trust-scope", p.user_id, p.trust_id),
                lambda: self._load_trust(s, p.trust_id or "", user),
            )
            trustor = by_trust[1].trustor_id  # its revocations (e.g. a new password) count too
            if await self.cached(
                ("revoked-user", trustor, p.issued_at),
                lambda: self._user_revoked(s, trustor, p.issued_at),
            ):
                raise errors.Unauthorized(TOKEN_INVALID)
            return TokenInfo(
                token=token,
                payload=p,
                user=by_trust[0],
                trust=by_trust[1],
                project=by_trust[2],
                roles=by_trust[3],
            )
        if p.access_token_id is not None:
            access_id = p.access_token_id
            delegated = await self.cached(
                ("oauth-scope", user.id, access_id),
                lambda: self._load_oauth(s, access_id, user),
            )
            return TokenInfo(
                token=token,
                payload=p,
                user=user,
                roles=delegated[1],
                project=delegated[0],
                oauth=(access_id, delegated[2]),
            )
        key = ("scope", user.id, p.scope_type, p.scope_id, p.app_cred_id)
        project, domain, roles = await self.cached(key, lambda: self._load_scope(s, p, user))
        rules = None
        if p.app_cred_id is not None:
            cred_id = p.app_cred_id
            rules = await self.cached(("rules", cred_id), lambda: self._access_rules(s, cred_id))
        return TokenInfo(
            token=token,
            payload=p,
            user=user,
            roles=roles,
            project=project,
            domain=domain,
            access_rules=rules,
        )

    async def _access_rules(self, s: AsyncSession, cred_id: str) -> tuple[AccessRule, ...] | None:
        rows = (
            await s.execute(
                select(m.AccessRule.service, m.AccessRule.method, m.AccessRule.path)
                .join(m.AppCredAccessRule, m.AppCredAccessRule.access_rule_id == m.AccessRule.id)
                .where(m.AppCredAccessRule.app_cred_id == cred_id)
            )
        ).all()
        return tuple(AccessRule(*row) for row in rows) or None

    async def _load_scope(
        self, s: AsyncSession, p: TokenPayload, user: Ref
    ) -> tuple[Ref | None, Ref | None, tuple[Ref, ...]]:
        assert p.scope_id is not None
        project = domain = None
        if p.scope_type == SCOPE_PROJECT:
            project = await self.enabled_project(s, p.scope_id)
            if project is None:
                raise errors.Unauthorized(TOKEN_INVALID)
            roles = await self.effective_roles(s, user.id, "project", project.id, project.domain_id)
        elif p.scope_type == SCOPE_SYSTEM:
            if p.scope_id != SYSTEM_ALL:
                raise errors.Unauthorized(TOKEN_INVALID)
            roles = await self.effective_roles(s, user.id, "system", SYSTEM_ALL, None)
        else:
            domain = await self.enabled_domain(s, p.scope_id)
            if domain is None:
                raise errors.Unauthorized(TOKEN_INVALID)
            roles = await self.effective_roles(s, user.id, "domain", domain.id, None)
        if p.app_cred_id:
            roles = await self._app_cred_roles(s, p.app_cred_id, roles)
        if not roles:
            raise errors.Unauthorized(TOKEN_INVALID)
        return project, domain, roles

    async def _load_trust(
        self, s: AsyncSession, trust_id: str, trustee: Ref
    ) -> tuple[Ref, TrustRef, Ref, tuple[Ref, ...]]:
        """(the token's user, the trust, its project, the delegated roles the trustor still
        holds there) for a token of `trustee` on the trust; invalid once the trust is deleted,
        its trustor disabled or left with none of its roles (Keystone's trust-scoped token).
        A redelegated trust's roles are checked against the first trustor of its chain."""
        trust = await s.get(m.Trust, trust_id)
        if trust is None or trust.trustee_user_id != trustee.id or trust.project_id is None:
            raise errors.Unauthorized(TOKEN_INVALID)
        root: m.Trust | None = trust  # a redelegated trust gives what the first trustor holds
        while root is not None and root.redelegated_trust_id:
            root = await s.get(m.Trust, root.redelegated_trust_id)
        trustor = await self._enabled_user(s, trust.trustor_user_id)
        project = await self.enabled_project(s, trust.project_id)
        if root is None or trustor is None or project is None:
            raise errors.Unauthorized(TOKEN_INVALID)
        if await self._enabled_user(s, root.trustor_user_id) is None:
            raise errors.Unauthorized(TOKEN_INVALID)
        held = await self.effective_roles(
            s, root.trustor_user_id, "project", project.id, project.domain_id
        )
        delegated = await self.with_implied(s, set(trust.roles))
        roles = tuple(r for r in held if r.id in delegated)
        if not roles:
            raise errors.Unauthorized(TOKEN_INVALID)
        ref = TrustRef(trust.id, trust.impersonation, trustor.id, trustee.id)
        return (trustor if trust.impersonation else trustee), ref, project, roles

    async def _load_oauth(
        self, s: AsyncSession, access_token_id: str, user: Ref
    ) -> tuple[Ref, tuple[Ref, ...], str]:
        """(project, roles, consumer id) of a token issued for an OS-OAUTH1 access token: the
        authorized roles the user still holds there. 401 when the access token, its consumer or
        the project is gone or no authorized role is left."""
        access = await s.get(m.OAuthAccessToken, access_token_id)
        if (
            access is None
            or access.authorizing_user_id != user.id
            or (access.expires_at is not None and access.expires_at <= utcnow())
        ):
            raise errors.Unauthorized(TOKEN_INVALID)
        project = await self.enabled_project(s, access.project_id)
        if project is None:
            raise errors.Unauthorized(TOKEN_INVALID)
        held = await self.effective_roles(s, user.id, "project", project.id, project.domain_id)
        granted = await self.with_implied(s, set(access.role_ids))
        roles = tuple(r for r in held if r.id in granted)
        if not roles:
            raise errors.Unauthorized(TOKEN_INVALID)
        return project, roles, access.consumer_id

    async def enabled_project(self, s: AsyncSession, project_id: str) -> Ref | None:
        row = (
            await s.execute(
                select(m.Project.id, m.Project.name, m.Domain.id, m.Domain.name)
                .join(m.Domain, m.Domain.id == m.Project.domain_id)
                .where(m.Project.id == project_id, m.Project.enabled, m.Domain.enabled)
            )
        ).first()
        return Ref(row[0], row[1], row[2], row[3]) if row else None

    async def enabled_domain(self, s: AsyncSession, domain_id: str) -> Ref | None:
        row = (
            await s.execute(
                select(m.Domain.id, m.Domain.name).where(m.Domain.id == domain_id, m.Domain.enabled)
            )
        ).first()
        return Ref(row[0], row[1]) if row else None

    async def effective_roles(
        self,
        s: AsyncSession,
        user_id: str,
        target_type: str,
        target_id: str,
        parent_domain_id: str | None,
    ) -> tuple[Ref, ...]:
        """Roles the user holds on the target, directly, through groups, inherited, and implied."""
        group_ids = select(m.GroupMember.group_id).where(m.GroupMember.user_id == user_id)
        actor = or_(
            (m.Assignment.actor_type == "user") & (m.Assignment.actor_id == user_id),
            (m.Assignment.actor_type == "group") & m.Assignment.actor_id.in_(group_ids),
        )
        target = (
            (m.Assignment.target_type == target_type)
            & (m.Assignment.target_id == target_id)
            & (m.Assignment.inherited.is_(False))
        )
        if parent_domain_id is not None:
            target = target | (
                (m.Assignment.target_type == "domain")
                & (m.Assignment.target_id == parent_domain_id)
                & (m.Assignment.inherited.is_(True))
            )
        above = await ancestors(s, target_id) if target_type == "project" else []
        if above:  # OS-INHERIT: grants on a project's ancestors marked inherited_to_projects
            target = target | (
                (m.Assignment.target_type == "project")
                & m.Assignment.target_id.in_(above)
                & (m.Assignment.inherited.is_(True))
            )
        role_ids = set(
            (await s.execute(select(m.Assignment.role_id).where(actor, target))).scalars()
        )
        if not role_ids:
            return ()
        role_ids = await self.with_implied(s, role_ids)
        rows = (
            await s.execute(select(m.Role.id, m.Role.name).where(m.Role.id.in_(role_ids)))
        ).all()
        return tuple(sorted((Ref(r[0], r[1]) for r in rows), key=lambda r: r.name))

    async def with_implied(self, s: AsyncSession, role_ids: set[str]) -> set[str]:
        """The roles and every role they imply, transitively."""
        role_ids = set(role_ids)
        implied = (
            await s.execute(select(m.ImpliedRole.prior_role_id, m.ImpliedRole.implied_role_id))
        ).all()
        frontier = set(role_ids)
        while frontier:
            new = {imp for prior, imp in implied if prior in frontier} - role_ids
            role_ids |= new
            frontier = new
        return role_ids

    async def _app_cred_roles(
        self, s: AsyncSession, app_cred_id: str, roles: tuple[Ref, ...]
    ) -> tuple[Ref, ...]:
        cred = await s.get(m.ApplicationCredential, app_cred_id)
        if cred is None or (cred.expires_at is not None and cred.expires_at <= utcnow()):
            raise errors.Unauthorized(TOKEN_INVALID)
        allowed = set(cred.roles)
        return tuple(r for r in roles if r.id in allowed)

    # -- issuing ---------------------------------------------------------------------------
    async def issue(
        self,
        user: Ref,
        methods: tuple[str, ...],
        scope: tuple[int, str | None],
        *,
        expires_at: dt.datetime | None = None,
        audit_id: str | None = None,
        app_cred_id: str | None = None,
        trust_id: str | None = None,
        access_token_id: str | None = None,
    ) -> TokenInfo:
        """Make a token for an authenticated user in the requested scope (401 if no role there)."""
        now = utcnow_precise()
        life = dt.timedelta(seconds=self.settings.identity.token_expiration)
        payload = TokenPayload(
            user_id=user.id,
            methods=methods,
            scope_type=scope[0],
            scope_id=scope[1],
            issued_at=now,
            # whole seconds, as Keystone's tokens expire (their bodies say ...:SS.000000Z)
            expires_at=(min(expires_at, now + life) if expires_at else now + life).replace(
                microsecond=0
            ),
            audit_id=audit_id or new_audit_id(),
            app_cred_id=app_cred_id,
            trust_id=trust_id,
            access_token_id=access_token_id,
        )
        token = self.codec.encode(payload)
        async with self.db.session() as s:
            try:
                return await self._scoped_info(s, token, payload, user)
            except errors.Unauthorized:
                raise errors.Unauthorized(
                    "The user has no role on the requested scope, or it is disabled."
                ) from None

    async def revoke(self, info: TokenInfo) -> None:
        """Revoke one token (by its audit id); takes effect on the next validation anywhere."""
        async with self.db.writer() as s:
            s.add(
                m.Revocation(
                    audit_id=info.payload.audit_id,
                    issued_before=info.payload.issued_at,
                    expires_at=info.payload.expires_at,
                )
            )
            await self.bump(s)
        self._cache.pop(info.token, None)

    async def revoke_user(self, s: AsyncSession, user_id: str) -> None:
        """Revoke every token of a user issued until now (inside the caller's transaction)."""
        now = utcnow_precise()
        life = dt.timedelta(seconds=self.settings.identity.token_expiration)
        s.add(m.Revocation(user_id=user_id, issued_before=now, expires_at=now + life))
        self.hasher.forget(user_id)

    async def check_password(self, user_id: str, password: str, stored: str | None) -> bool:
        return await self.hasher.verify(user_id, password, stored)


def utcnow_precise() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
