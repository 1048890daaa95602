"""The dashboard's only way into the cloud: the public OpenStack APIs over HTTP.

A page handler holds a `Login` (the user's token, its roles and its catalog, kept server-side
in the session) and calls `Cloud.call(login, "compute", "GET", "/servers/detail")`: the
endpoint comes from the token's catalog, the token goes in X-Auth-Token, and an error answer
becomes an `ApiError` carrying the service's own message. So the dashboard can do exactly what
the user could do with the CLI, no more (RBAC is the APIs' RBAC).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

# Sent on every compute call: the fields the pages read (task states, faults) exist from 2.1 on.
COMPUTE_VERSION = "2.1"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ApiError(Exception):
    """An API answered with an error; `message` is the service's own words for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Login:
    """A token and what Keystone said about it (user, scope, roles, catalog)."""

    token: str
    expires_at: str
    user_id: str
    user_name: str
    domain_id: str
    project_id: str = ""
    project_name: str = ""
    roles: tuple[str, ...] = ()
    catalog: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def endpoint(self, service_type: str, interface: str = "public") -> str | None:
        """The URL of `service_type` in this token's catalog, or None when it is not there."""
        for entry in self.catalog:
            if entry.get("type") != service_type:
                continue
            for ep in entry.get("endpoints", []):
                if ep.get("interface") == interface:
                    return str(ep["url"]).rstrip("/")
        return None

    def has(self, service_type: str) -> bool:
        return self.endpoint(service_type) is not None


def error_message(resp: httpx.Response) -> str:
    """The human message inside any OpenStack error body (Nova, Keystone, Glance, Placement)."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip()
        return text[:300] or f"{resp.status_code} {resp.reason_phrase}"
    found = _find_message(body)
    return found or f"{resp.status_code} {resp.reason_phrase}"


def _find_message(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("message", "detail", "title"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
        for value in body.values():
            found = _find_message(value)
            if found:
                return found
    if isinstance(body, list):
        for item in body:
            found = _find_message(item)
            if found:
                return found
    return None


def _login_from(token: str, body: dict[str, Any]) -> Login:
    t = body["token"]
    project = t.get("project") or {}
    return Login(
        token=token,
        expires_at=str(t.get("expires_at", "")),
        user_id=t["user"]["id"],
        user_name=t["user"].get("name", ""),
        domain_id=(t["user"].get("domain") or {}).get("id", ""),
        project_id=project.get("id", ""),
        project_name=project.get("name", ""),
        roles=tuple(r["name"] for r in t.get("roles", [])),
        catalog=tuple(t.get("catalog", [])),
    )


class Cloud:
    """One HTTP client for the whole dashboard process; every call carries a user's token."""

    def __init__(self, identity_url: str, transport: httpx.AsyncBaseTransport | None = None):
        self.identity_url = identity_url.rstrip("/")
        self.http = httpx.AsyncClient(timeout=TIMEOUT, transport=transport)

    async def close(self) -> None:
        await self.http.aclose()

    async def _auth(self, body: dict[str, Any]) -> Login:
        try:
            resp = await self.http.post(f"{self.identity_url}/auth/tokens", json=body)
        except httpx.HTTPError as exc:
            raise ApiError(503, f"The identity service is unreachable: {exc}") from None
        if resp.status_code != 201:
            raise ApiError(resp.status_code, error_message(resp))
        return _login_from(resp.headers["X-Subject-Token"], resp.json())

    async def password_login(self, user: str, password: str, domain: str) -> Login:
        """An unscoped token for a user name in a domain (name or id); ApiError 401 if wrong."""
        ident = {"name": user, "password": password, "domain": _domain_ref(domain)}
        return await self._auth(
            {"auth": {"identity": {"methods": ["password"], "password": {"user": ident}}}}
        )

    async def rescope(self, token: str, project_id: str) -> Login:
        """A token scoped to `project_id`, obtained with another token of the same user."""
        return await self._auth(
            {
                "auth": {
                    "identity": {"methods": ["token"], "token": {"id": token}},
                    "scope": {"project": {"id": project_id}},
                }
            }
        )

    async def projects(self, token: str) -> list[dict[str, Any]]:
        """The projects this token's user may scope to, by name."""
        resp = await self.http.get(
            f"{self.identity_url}/auth/projects", headers={"X-Auth-Token": token}
        )
        if resp.status_code != 200:
            raise ApiError(resp.status_code, error_message(resp))
        projects: list[dict[str, Any]] = resp.json().get("projects", [])
        return sorted(projects, key=lambda p: str(p.get("name", "")))

    async def revoke(self, token: str) -> None:
        """Revoke a token (logout); a token that is already invalid is not an error."""
        try:
            await self.http.delete(
                f"{self.identity_url}/auth/tokens",
                headers={"X-Auth-Token": token, "X-Subject-Token": token},
            )
        except httpx.HTTPError:
            pass

    def _url(self, login: Login, service: str, path: str) -> str:
        base = login.endpoint(service)
        if base is None:
            raise ApiError(503, f"The {service} service is not in your catalog.")
        return base + path

    async def send(
        self,
        login: Login,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: AsyncIterator[bytes] | bytes | None = None,
    ) -> httpx.Response:
        """One call to a public API as the logged-in user; ApiError on a 4xx/5xx answer."""
        sent = {"X-Auth-Token": login.token, **(headers or {})}
        if service == "compute":
            sent.setdefault("OpenStack-API-Version", f"compute {COMPUTE_VERSION}")
        try:
            resp = await self.http.request(
                method,
                self._url(login, service, path),
                json=json,
                params=params,
                headers=sent,
                content=content,
            )
        except httpx.HTTPError as exc:
            raise ApiError(503, f"The {service} service is unreachable: {exc}") from None
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, error_message(resp))
        return resp

    async def open(
        self, login: Login, service: str, path: str, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """A GET whose body is not read yet (stream it, then `aclose`); ApiError on 4xx/5xx."""
        request = self.http.build_request(
            "GET",
            self._url(login, service, path),
            params=params,
            headers={"X-Auth-Token": login.token},
        )
        try:
            resp = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ApiError(503, f"The {service} service is unreachable: {exc}") from None
        if resp.status_code >= 400:
            await resp.aread()
            await resp.aclose()
            raise ApiError(resp.status_code, error_message(resp))
        return resp

    async def call(self, login: Login, service: str, method: str, path: str, **kw: Any) -> Any:
        """`send`, returning the decoded JSON body (None for an empty answer)."""
        resp = await self.send(login, service, method, path, **kw)
        if not resp.content:
            return None
        try:
            return orjson.loads(resp.content)  # several times faster than json on big lists
        except orjson.JSONDecodeError:
            return None

    async def get(self, login: Login, service: str, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v not in (None, "")}
        return await self.call(login, service, "GET", path, params=clean)


def _domain_ref(domain: str) -> dict[str, str]:
    """Keystone's default domain is known by id; other domains are given by name."""
    return {"id": "default"} if domain in ("", "default", "Default") else {"name": domain}
