"""How other services learn who is calling, and how a service calls another as itself.

In the all-in-one process services validate through `LocalValidator` (no HTTP hop, always
fresh). A service on another host uses `HttpValidator`, which asks the identity API and caches
each answer for ``identity.token_cache_seconds``, as keystonemiddleware does.

`ServiceSession` is a service user's own login (keystoneauth's password plugin in small): the
HTTP clients of other services (e.g. `ministack.image.client.HttpImageClient`) send its token
and find their endpoints in its catalog.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from typing import Any, Protocol

import httpx

from ministack.common import errors
from ministack.common.auth import AccessRule, Auth
from ministack.config import Settings
from ministack.identity.core import IdentityCore

# A cached service token is renewed this long before it expires.
TOKEN_RENEW_MARGIN = 120.0


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
    trust = body.get("OS-TRUST:trust")
    app_cred = body.get("application_credential")
    rules = app_cred.get("access_rules") if isinstance(app_cred, dict) else None
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
        trust_id=trust["id"] if isinstance(trust, dict) else None,
        access_rules=tuple(AccessRule(r["service"], r["method"], r["path"]) for r in rules)
        if rules
        else None,
    )


class S3Signatures(Protocol):
    """Checks an S3 request's signature against the EC2 credentials identity keeps."""

    async def check(self, access: str, string_to_sign: bytes, signature: str) -> Auth:
        """The Auth of a token for the credential's project; errors.Unauthorized when the
        access key is unknown or the signature does not match."""
        ...


class LocalS3Signatures:
    """In-process: asks identity's core directly (no HTTP hop)."""

    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    async def check(self, access: str, string_to_sign: bytes, signature: str) -> Auth:
        from ministack.identity.s3tokens import s3_token

        return (await s3_token(self.core, access, string_to_sign, signature)).to_auth()


class HttpS3Signatures:
    """Over HTTP: Keystone's ``POST /v3/s3tokens``, as Swift's s3token middleware asks it."""

    def __init__(self, auth_url: str) -> None:
        self.auth_url = auth_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=10.0)

    async def check(self, access: str, string_to_sign: bytes, signature: str) -> Auth:
        body = {
            "credentials": {
                "access": access,
                "token": base64.b64encode(string_to_sign).decode(),
                "signature": signature,
            }
        }
        try:
            resp = await self._client.post(f"{self.auth_url}/s3tokens", json=body)
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(f"The identity service is unreachable: {exc}") from None
        if resp.status_code != 200:
            raise errors.Unauthorized("The request signature we calculated does not match.")
        return auth_from_body(resp.json()["token"])

    async def close(self) -> None:
        await self._client.aclose()


def s3_signatures(validator: object, settings: Settings) -> S3Signatures:
    """In-process when identity runs here (its validator is local), else over HTTP."""
    if isinstance(validator, LocalValidator):
        return LocalS3Signatures(validator.core)
    return HttpS3Signatures(settings.identity_url)


class ServiceSession:
    """One service user's Keystone session: password login (project-scoped to the service
    project), the token kept until shortly before it expires, endpoints from its catalog.

    Errors: errors.ServiceUnavailable when identity is unreachable or the catalog has no such
    service; errors.Unauthorized (with what to fix) when the login is refused.
    """

    def __init__(
        self,
        auth_url: str,
        username: str,
        password: str,
        *,
        project_name: str = "service",
        region: str = "RegionOne",
        interface: str = "internal",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.auth_url = auth_url.rstrip("/")
        self.username, self.password = username, password
        self.project_name, self.region, self.interface = project_name, region, interface
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0))
        self._token: tuple[str, float, list[dict[str, Any]]] | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_service(cls, settings: Settings, user: str) -> ServiceSession:
        """The session of service user `user` (nova, glance, ...) from [service_auth]."""
        auth = settings.service_auth
        return cls(
            settings.identity_url,
            user,
            auth.password(user),
            project_name=auth.project_name,
            region=settings.default.region,
            interface=auth.interface,
        )

    async def token(self) -> str:
        """A valid token for the service user (cached; renewed shortly before expiry)."""
        return (await self._login())[0]

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after a 401: it was revoked)."""
        self._token = None

    async def endpoint(self, service_type: str) -> str:
        """The URL of `service_type` in this region at the configured interface (falls back to
        public), without a trailing slash."""
        catalog = (await self._login())[2]
        for entry in catalog:
            if entry.get("type") != service_type:
                continue
            found = {
                e["interface"]: str(e["url"]).rstrip("/")
                for e in entry.get("endpoints", [])
                if e.get("region_id", e.get("region")) in (self.region, None)
            }
            url = found.get(self.interface) or found.get("public")
            if url:
                return url
        raise errors.ServiceUnavailable(
            f"The identity catalog at {self.auth_url} lists no {service_type} endpoint in "
            f"region {self.region}: start that service on the controller."
        )

    async def request(
        self, service_type: str, method: str, path: str, *, retry: bool = True, **kw: Any
    ) -> httpx.Response:
        """Send a request to `service_type` as the service user (response read whole); with
        `retry`, once more with a fresh token after a 401 (not for a one-shot streamed body)."""
        for attempt in (0, 1) if retry else (1,):
            url = await self.endpoint(service_type) + path
            headers = {**kw.pop("headers", {}), "X-Auth-Token": await self.token()}
            try:
                resp = await self.http.request(method, url, headers=headers, **kw)
            except httpx.HTTPError as exc:
                raise errors.ServiceUnavailable(
                    f"The {service_type} service at {url} is unreachable: {exc}"
                ) from None
            if resp.status_code != 401 or attempt:
                return resp
            self.invalidate()
            kw["headers"] = {k: v for k, v in headers.items() if k != "X-Auth-Token"}
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.http.aclose()

    async def _login(self) -> tuple[str, float, list[dict[str, Any]]]:
        async with self._lock:
            if self._token is not None and self._token[1] > time.monotonic():
                return self._token
            if not self.password:
                raise errors.ServiceUnavailable(
                    f"No password for the service user {self.username}: set [service_auth] "
                    f"{self.username}_password (as `ministack init` writes it on the controller)."
                )
            body = {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": self.username,
                                "domain": {"id": "default"},
                                "password": self.password,
                            }
                        },
                    },
                    "scope": {"project": {"name": self.project_name, "domain": {"id": "default"}}},
                }
            }
            try:
                resp = await self.http.post(f"{self.auth_url}/auth/tokens", json=body)
            except httpx.HTTPError as exc:
                raise errors.ServiceUnavailable(
                    f"The identity service at {self.auth_url} is unreachable: {exc}"
                ) from None
            if resp.status_code != 201:
                raise errors.Unauthorized(
                    f"The service user {self.username} could not log in at {self.auth_url} "
                    f"({resp.status_code}): check [service_auth] {self.username}_password."
                )
            token = resp.json()["token"]
            expires = dt.datetime.fromisoformat(str(token["expires_at"]).replace("Z", "+00:00"))
            expires = expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)
            left = (expires - dt.datetime.now(dt.UTC)).total_seconds()
            renew_at = time.monotonic() + max(left - min(TOKEN_RENEW_MARGIN, left / 2), 0.0)
            self._token = (resp.headers["X-Subject-Token"], renew_at, token.get("catalog", []))
            return self._token
