"""Who is calling: the validated token every API handler starts from.

Every service validates ``X-Auth-Token`` through one `TokenValidator` (in-process when the
identity service runs here, over HTTP with a short cache otherwise) and gets an `Auth`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from ministack.common import errors


@dataclass(frozen=True)
class AccessRule:
    """One call an application credential allows: service type, HTTP method, path template
    (``*`` or ``{name}`` one path segment, ``**`` any number)."""

    service: str
    method: str
    path: str

    def allows(self, service_types: tuple[str, ...], method: str, path: str) -> bool:
        return (
            self.service in service_types
            and self.method == method
            and path_matches(_parts(self.path), path)
        )


ONE, ANY = 1, 2  # a template's wildcards: one path segment (``*``, ``{name}``), anything (``**``)


@functools.lru_cache(maxsize=1024)
def _parts(template: str) -> tuple[str | int, ...]:
    pieces = re.split(r"(\*\*|\*|\{[^}]*\})", template)
    return tuple(
        ANY if piece == "**" else ONE if piece == "*" or piece.startswith("{") else piece
        for piece in pieces
        if piece
    )


def path_matches(parts: tuple[str | int, ...], path: str) -> bool:
    """Whether `path` matches the template's parts, in time linear in their product (a table
    filled from the end: no backtracking, whatever the template)."""
    n = len(path)
    after = [j == n for j in range(n + 1)]  # the empty rest of the template matches the end
    for part in reversed(parts):
        here = [False] * (n + 1)
        for j in range(n, -1, -1):
            if part == ANY:
                here[j] = after[j] or (j < n and here[j + 1])
            elif part == ONE:
                here[j] = j < n and path[j] != "/" and (after[j + 1] or here[j + 1])
            else:
                assert isinstance(part, str)
                end = j + len(part)
                here[j] = end <= n and path.startswith(part, j) and after[end]
        after = here
    return after[0]


# the catalog types each ministack service answers for (identity/catalog.py lists the same)
SERVICE_TYPES: dict[str, tuple[str, ...]] = {
    "identity": ("identity",),
    "compute": ("compute",),
    "placement": ("placement",),
    "image": ("image",),
    "network": ("network",),
    "volume": ("block-storage", "volumev3"),
    "object": ("object-store",),
}


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
    # a token of an application credential with access rules may call only these
    access_rules: tuple[AccessRule, ...] | None = None

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
    if auth.access_rules is not None:
        _check_access_rules(auth.access_rules, request)
    request.state.auth = auth
    return auth


def _check_access_rules(rules: tuple[AccessRule, ...], request: Request) -> None:
    """401 unless one of the application credential's access rules allows this call (as
    keystonemiddleware enforces them for every service)."""
    service = getattr(request.app.state, "service", "")
    types = SERVICE_TYPES.get(service, (service,))
    if not any(r.allows(types, request.method, request.url.path) for r in rules):
        raise errors.Unauthorized(
            "The request you have made requires authentication: the application credential's "
            "access rules do not allow it."
        )
