"""Response links come from the configured public endpoint, never from the request.

Where it sits: the process runner wraps each API app in `PublicOrigin` before serving it, so
every link a handler builds from the request (version documents, `links` self and bookmark,
`next` pagination, `Location`) names the endpoint the catalog lists — `[default] public_host`
and the service's port — whatever `Host`, `X-Forwarded-Host` or `X-Forwarded-Proto` a client
sends. Forwarded headers are believed only from `[default] trusted_proxies` (see
`uvicorn_proxy_options`), and then only for the client's address.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send


class PublicOrigin:
    """ASGI middleware: the request's scheme and host are the configured public endpoint's."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        parts = urlsplit(public_url)
        if not parts.scheme or not parts.hostname:
            raise ValueError(f"not an absolute URL: {public_url!r}")
        self.app = app
        self.scheme = parts.scheme
        self.host = parts.netloc.encode("idna")
        default_port = 443 if parts.scheme == "https" else 80
        self.server = (parts.hostname, parts.port or default_port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            scope["scheme"] = self.scheme if scope["type"] == "http" else _ws(self.scheme)
            scope["server"] = self.server
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"host"]
            # the Host the client sent, for protocols that sign it (the object store's S3 API)
            scope["client_host"] = next(
                (v for k, v in scope.get("headers", []) if k == b"host"), self.host
            )
            scope["headers"] = [(b"host", self.host), *headers]
        await self.app(scope, receive, send)


def _ws(scheme: str) -> str:
    return "wss" if scheme == "https" else "ws"


def uvicorn_proxy_options(trusted_proxies: tuple[str, ...]) -> dict[str, Any]:
    """uvicorn settings that believe X-Forwarded-For/-Proto only from `trusted_proxies`.

    Empty (the default): no forwarded header is believed from anyone, loopback included
    (uvicorn alone would trust 127.0.0.1).
    """
    if not trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted_proxies)}
