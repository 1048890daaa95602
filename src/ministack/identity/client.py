"""How other services learn who is calling: token validation, in-process or over HTTP.

In the all-in-one process services validate through `LocalValidator` (no HTTP hop, always
fresh). A service on another host uses `HttpValidator`, which asks the identity API and caches
each answer for ``identity.token_cache_seconds``, as keystonemiddleware does.
"""

from __future__ import annotations

import datetime as dt
import time

import httpx

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.identity.core import IdentityCore


class LocalValidator:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    async def validate(self, token: str) -> Auth:
        return (await self.core.validate(token)).to_auth()


class HttpValidator:
    def __init__(self, auth_url: str, cache_seconds: int = 30) -> None:
        self.auth_url = auth_url.rstrip("/")
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Auth]] = {}
        self._client = httpx.AsyncClient(timeout=10.0)

    async def validate(self, token: str) -> Auth:
        hit = self._cache.get(token)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        try:
            resp = await self._client.get(
                f"{self.auth_url}/auth/tokens?nocatalog",
                headers={"X-Auth-Token": token, "X-Subject-Token": token},
            )
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(f"The identity service is unreachable: {exc}") from None
        if resp.status_code != 200:
            raise errors.Unauthorized("The request you have made requires authentication.")
        auth = auth_from_body(resp.json()["token"])
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[token] = (now + self.cache_seconds, auth)
        return auth

    async def close(self) -> None:
        await self._client.aclose()


def auth_from_body(body: dict[str, object]) -> Auth:
    """Build an Auth from a Keystone token body."""
    user = body["user"]
    assert isinstance(user, dict)
    project = body.get("project")
    domain = body.get("domain")
    system = body.get("system")
    roles = body.get("roles") or []
    assert isinstance(roles, list)
    expires = str(body["expires_at"]).rstrip("Z")
    return Auth(
        user_id=user["id"],
        user_name=user["name"],
        user_domain_id=user["domain"]["id"],
        roles=tuple(r["name"] for r in roles),
        expires_at=dt.datetime.fromisoformat(expires),
        project_id=project["id"] if isinstance(project, dict) else None,
        project_name=project["name"] if isinstance(project, dict) else None,
        project_domain_id=project["domain"]["id"] if isinstance(project, dict) else None,
        domain_id=domain["id"] if isinstance(domain, dict) else None,
        domain_name=domain["name"] if isinstance(domain, dict) else None,
        system_scope=next((k for k, v in system.items() if v), None)
        if isinstance(system, dict)
        else None,
    )
