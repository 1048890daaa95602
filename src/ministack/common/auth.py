"""Who is calling: the validated token every API handler starts from.

Every service validates ``X-Auth-Token`` through one `TokenValidator` (in-process when the
identity service runs here, over HTTP with a short cache otherwise) and gets an `Auth`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from ministack.common import errors


@dataclass(frozen=True)
class Auth:
    """The identity and scope of a validated token. Roles include implied roles."""

    user_id: str
    user_name: str
    user_domain_id: str
    roles: tuple[str, ...]
    expires_at: dt.datetime
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system_scope: str | None = None  # "all" for a token scoped to the whole system
    trust_id: str | None = None  # the trust of a trust-scoped token (OS-TRUST)

    @property
    def is_admin(self) -> bool:
        """The admin role on any scope: may do anything anywhere (as upstream's
        ``context_is_admin``). A system admin is one."""
        return "admin" in self.roles

    @property
    def is_system(self) -> bool:
        """The token is scoped to the system (``"scope": {"system": {"all": true}}``)."""
        return self.system_scope is not None

    @property
    def is_system_reader(self) -> bool:
        """A system-scoped token with the reader role (member and admin imply it): may read
        every project's resources, in every service."""
        return self.is_system and "reader" in self.roles

    @property
    def reads_all(self) -> bool:
        """May see every project's resources: an admin, or a reader on the system."""
        return self.is_admin or self.is_system_reader

    def has_role(self, *names: str) -> bool:
        return any(name in self.roles for name in names)


class TokenValidator(Protocol):
    async def validate(self, token: str) -> Auth:
        """The token's Auth; raises errors.Unauthorized if it is invalid, expired or revoked."""
        ...


async def require_auth(request: Request) -> Auth:
    """Validate the request's X-Auth-Token with the app's validator; 401 when absent or bad.
    The result is kept on the request, so the validation step and the handler share it."""
    cached: Auth | None = getattr(request.state, "auth", None)
    if cached is not None:
        return cached
    token = request.headers.get("x-auth-token")
    if not token:
        raise errors.Unauthorized(
            "The request you have made requires authentication: send X-Auth-Token."
        )
    validator: TokenValidator = request.app.state.validator
    auth = await validator.validate(token)
    request.state.auth = auth
    return auth
