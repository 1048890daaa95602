"""OS-TRUST rules: what a new trust may delegate (from the trustor's roles, or from the trust it
redelegates) and how a trust becomes a token (``"scope": {"OS-TRUST:trust": {"id": ...}}``).

The API module (`identity.api.trusts`) parses and renders; `authn` asks `issue` for a
trust-scoped token; `IdentityCore._load_trust` re-checks a trust at every validation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.identity import models as m
from ministack.identity.core import IdentityCore, Ref, TokenInfo
from ministack.identity.tokens import SCOPE_PROJECT

MAX_REDELEGATION_COUNT = 3  # Keystone's default [trust] max_redelegation_count


def usable(trust: m.Trust | None) -> bool:
    """Not expired and not used up (Keystone answers 404 for either)."""
    if trust is None:
        return False
    if trust.expires_at is not None and trust.expires_at <= utcnow():
        return False
    return trust.remaining_uses is None or trust.remaining_uses > 0


async def check_delegation(
    core: IdentityCore, s: AsyncSession, auth: Auth, trust: m.Trust, *, count_given: bool
) -> None:
    """403 unless the trust delegates only what its trustor may give: its own roles on the
    project, or, from a trust-scoped token, a narrower copy of a redelegatable trust."""
    if trust.allow_redelegation and trust.remaining_uses is not None:
        raise errors.BadRequest(
            "Invalid input for field 'trust.remaining_uses': a trust that allows redelegation "
            "cannot limit its uses."
        )
    if auth.trust_id is not None:
        await _check_redelegation(s, auth.trust_id, trust, count_given)
        return
    if trust.redelegation_count > MAX_REDELEGATION_COUNT:
        raise errors.Forbidden(
            f"Specified redelegation_count of {trust.redelegation_count} is above the maximum "
            f"of {MAX_REDELEGATION_COUNT}."
        )
    if not trust.roles:
        return
    project = await core.enabled_project(s, trust.project_id or "")
    held = (
        await core.effective_roles(
            s, trust.trustor_user_id, "project", project.id, project.domain_id
        )
        if project
        else ()
    )
    missing = set(trust.roles) - {r.id for r in held}
    if missing:
        raise errors.Forbidden(
            f"The trustor does not hold the role(s) {', '.join(sorted(missing))} on the project."
        )


async def _check_redelegation(
    s: AsyncSession, parent_id: str, trust: m.Trust, count_given: bool
) -> None:
    parent = await s.get(m.Trust, parent_id)
    if parent is None or not usable(parent):
        raise errors.Forbidden("The trust this token stands on no longer exists.")
    if not parent.allow_redelegation or parent.redelegation_count <= 0:
        raise errors.Forbidden("Redelegation is not allowed by the trust this token stands on.")
    limit = parent.redelegation_count - 1
    if not trust.allow_redelegation:
        trust.redelegation_count = 0
    elif count_given:
        if trust.redelegation_count > limit:
            raise errors.Forbidden(
                f"Specified redelegation_count of {trust.redelegation_count} is above the "
                f"allowed {limit}."
            )
    else:
        trust.redelegation_count = limit
    if trust.redelegation_count == 0:
        trust.allow_redelegation = False
    if trust.project_id != parent.project_id:
        raise errors.Forbidden("A redelegated trust must name the project of its trust.")
    if not set(trust.roles) <= set(parent.roles):
        raise errors.Forbidden("Some of the requested roles are not in the redelegated trust.")
    if trust.impersonation and not parent.impersonation:
        raise errors.Forbidden(
            "Impersonation is not allowed because the redelegated trust does not allow it."
        )
    if parent.expires_at is not None and (
        trust.expires_at is None or trust.expires_at > parent.expires_at
    ):
        raise errors.Forbidden(
            "Requested expiration time is more than the redelegated trust can provide."
        )
    trust.redelegated_trust_id = parent.id


async def issue(
    core: IdentityCore,
    user: Ref,
    methods: tuple[str, ...],
    spec: Any,
    *,
    expires_at: dt.datetime | None = None,
) -> TokenInfo:
    """A token scoped to the trust in `spec` for its trustee `user`; uses one of the trust's
    remaining uses."""
    trust_id = spec.get("id") if isinstance(spec, dict) else None
    if not isinstance(trust_id, str) or not trust_id:
        raise errors.BadRequest("Invalid input for field 'auth.scope.OS-TRUST:trust.id'.")
    trust, trustor_enabled = await core.cached(
        ("trust-login", trust_id), lambda: _login_view(core, trust_id)
    )
    if trust is None or not usable(trust):
        raise errors.NotFound(f"Could not find trust: {trust_id}.")
    if trust.trustee_user_id != user.id:
        raise errors.Forbidden("User is not a trustee.")
    if trust.project_id is None:
        raise errors.Forbidden("This trust names no project: it gives no role to scope to.")
    if not trustor_enabled:
        raise errors.Forbidden("Trustor is disabled.")
    ends = [t for t in (expires_at, trust.expires_at) if t is not None]
    info = await core.issue(
        user,
        methods,
        (SCOPE_PROJECT, trust.project_id),
        expires_at=min(ends) if ends else None,
        trust_id=trust.id,
    )
    if trust.remaining_uses is not None:
        # the cached view may be stale on uses (spending one bumps no revision): this
        # conditional update is what enforces the limit
        async with core.db.writer() as w:
            used = await w.execute(
                update(m.Trust)
                .where(m.Trust.id == trust.id, m.Trust.remaining_uses > 0)
                .values(remaining_uses=m.Trust.remaining_uses - 1)
            )
            if used.rowcount == 0:  # type: ignore[attr-defined]
                raise errors.NotFound(f"Could not find trust: {trust.id}.")
    return info


async def _login_view(core: IdentityCore, trust_id: str) -> tuple[m.Trust | None, bool]:
    """(the trust row, detached; whether its trustor is enabled), cached per revision."""
    async with core.db.session() as s:
        trust = await s.get(m.Trust, trust_id)
        if trust is None:
            return None, False
        return trust, await core._enabled_user(s, trust.trustor_user_id) is not None
