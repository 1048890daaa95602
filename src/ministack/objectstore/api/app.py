"""The Object Storage v1 app: request ids, path split, access decision, then one handler.

A request's path is split on its raw bytes (so ``%2F`` inside a container name stays part of
the name and is refused), each part URL-decoded: ``/v1/<account>[/<container>[/<object>]]``.
Access is decided before a handler runs, as keystoneauth and the tempurl middleware do:
a temp URL signature; else a token that operates or reads the account (`policies.py`);
else the container's ACL (`acl.py`); else 401 without a token and 403 with one.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ministack.common import context, errors
from ministack.common.auth import Auth, TokenValidator
from ministack.config import ObjectSection
from ministack.objectstore import cors, policies, tempurl
from ministack.objectstore.acl import Acl
from ministack.objectstore.api import wire
from ministack.objectstore.backend import Backend
from ministack.objectstore.store import MAX_CONTAINER_NAME, MAX_OBJECT_NAME, Records

logger = logging.getLogger("ministack.object")
access_log = logging.getLogger("ministack.object.access")

READS = ("GET", "HEAD")
ACCOUNT_PREFIX = "AUTH_"


@dataclass
class Deps:
    """What handlers work with: records, data, limits, token validation."""

    records: Records
    backend: Backend
    settings: ObjectSection
    validator: TokenValidator


@dataclass
class Call:
    """One request, split and authorized."""

    request: Request
    deps: Deps
    account: str  # the project id
    container: str
    obj: str
    auth: Auth | None
    owner: bool  # may do anything in this account
    temp_url: bool = False

    @property
    def method(self) -> str:
        return self.request.method

    def path(self) -> str:
        parts = [f"/v1/{ACCOUNT_PREFIX}{self.account}", self.container, self.obj]
        return "/".join(p for p in parts if p)


Handler = Callable[[Call], Awaitable[Response]]


def trans_id() -> str:
    return f"tx{secrets.token_hex(11)[:21]}-{int(time.time()):010x}"


def split_path(raw_path: bytes) -> tuple[str, str, str, str]:
    """(version, account, container, object) of a raw request path; 404 when it is not one."""
    parts = raw_path.split(b"/", 4)
    if len(parts) < 2 or parts[0] != b"":
        raise errors.NotFound("The resource could not be found.")
    try:
        decoded = [unquote(p.decode("ascii"), errors="strict") for p in parts[1:]]
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise errors.BadRequest("Invalid UTF8 or contains NULL") from None
    decoded += [""] * (4 - len(decoded))
    version, account, container, obj = decoded
    if any("\x00" in p for p in decoded):
        raise errors.BadRequest("Invalid UTF8 or contains NULL")
    return version, account, container, obj


def formpost_body(request: Request) -> bool:
    """A browser form upload (Swift's formpost): multipart/form-data with a boundary."""
    kind, _, params = request.headers.get("content-type", "").partition(";")
    return kind.strip().lower() == "multipart/form-data" and "boundary=" in params.lower()


def bulk_operation(request: Request) -> str:
    """'bulk-delete' or 'extract-archive' when the query asks for one (Swift's bulk)."""
    raw: bytes = request.scope.get("query_string", b"")
    if b"bulk-delete" not in raw and b"extract-archive" not in raw:
        return ""  # the common case, without parsing the query
    query = request.query_params
    if "bulk-delete" in query and request.method in ("POST", "DELETE"):
        return "bulk-delete"
    if "extract-archive" in query and request.method == "PUT":
        return "extract-archive"
    return ""


class SwiftApp:
    """The ASGI app; `routes` maps (level, method) to a handler."""

    def __init__(
        self,
        deps: Deps,
        routes: dict[tuple[str, str], Handler],
        info: Handler,
        extra: Callable[[Scope], Callable[[Scope, Receive, Send], Awaitable[None]] | None]
        | None = None,
    ) -> None:
        self.deps = deps
        self.routes = routes
        self.info = info
        self.extra = extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.extra is not None and (other := self.extra(scope)) is not None:
            await other(scope, receive, send)
            return
        txid = trans_id()
        token = context.request_id.set(txid)
        started = time.monotonic()
        status = [500]

        async def send_with_ids(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])  # type: ignore[call-overload]
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers += [
                    (b"x-trans-id", txid.encode()),
                    (b"x-openstack-request-id", txid.encode()),
                ]
                message["headers"] = headers
            await send(message)

        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except errors.ApiError as err:
            response = wire.error_response(err)
        except Exception:
            logger.exception("unexpected error serving %s %s", scope["method"], scope["path"])
            response = wire.error_response(
                errors.InternalError(f"An unexpected error prevented the request ({txid}).")
            )
        try:
            await response(scope, receive, send_with_ids)  # type: ignore[arg-type]
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status[0],
                (time.monotonic() - started) * 1000,
            )
            context.request_id.reset(token)

    async def handle(self, request: Request) -> Response:
        version, account, container, obj = split_path(
            request.scope.get("raw_path") or request.scope["path"].encode()
        )
        if version == "info" and not account:
            if request.method not in READS:
                raise errors.MethodNotAllowed("Use GET or HEAD on /info.")
            return await self.info(Call(request, self.deps, "", "", "", None, False))
        if version != "v1" or not account:
            raise errors.NotFound("The resource could not be found.")
        if not account.startswith(ACCOUNT_PREFIX):
            raise errors.NotFound("Accounts are named AUTH_<project id>.")
        project = account[len(ACCOUNT_PREFIX) :]
        if obj and not container:
            raise errors.NotFound("The resource could not be found.")
        if len(container.encode()) > MAX_CONTAINER_NAME:
            raise errors.BadRequest(f"Container name length exceeds {MAX_CONTAINER_NAME} bytes.")
        if "/" in container:
            raise errors.BadRequest("Container names cannot contain a slash.")
        if len(obj.encode()) > MAX_OBJECT_NAME:
            raise errors.BadRequest(f"Object name length exceeds {MAX_OBJECT_NAME} bytes.")
        level = "object" if obj else "container" if container else "account"
        if request.method == "OPTIONS":
            return await self.options(request, project, container)
        if request.method == "POST" and container and formpost_body(request):
            return await self.routes[("formpost", "POST")](
                Call(request, self.deps, project, container, obj, None, False)
            )
        handler = self.routes.get((bulk_operation(request) or level, request.method))
        if handler is None:
            raise errors.MethodNotAllowed(f"{request.method} is not allowed on an {level}.")
        call = await self.authorize(request, project, container, obj)
        origin = request.headers.get("origin")
        try:
            response = await handler(call)
        except errors.ApiError as err:  # a script reads a 404 or 412 too, as with Swift
            if origin and container:
                err.headers.update(await self.cors_headers(project, container, origin, []))
            raise
        if origin and container:
            added = await self.cors_headers(project, container, origin, list(response.headers))
            response.headers.update(added)
        return response

    async def cors_headers(
        self, project: str, container: str, origin: str, names: list[str]
    ) -> dict[str, str]:
        info = await self.deps.records.container_cached(project, container)
        return {} if info is None else cors.actual(info.meta, origin, names)

    async def options(self, request: Request, project: str, container: str) -> Response:
        """A CORS preflight (no token needed): 200 with the container's Access-Control-*
        headers, or 401; without an Origin, 200 naming the allowed methods."""
        origin = request.headers.get("origin")
        if not origin:
            allow = ", ".join(cors.ALLOWED_METHODS)
            return Response(status_code=200, headers={"Allow": allow, "Content-Length": "0"})
        info = await self.deps.records.container_cached(project, container) if container else None
        headers = cors.preflight(
            None if info is None else info.meta,
            origin,
            request.headers.get("access-control-request-method", ""),
            request.headers.get("access-control-request-headers", ""),
        )
        if headers is None:
            raise errors.Unauthorized("CORS preflight denied.")
        headers["Content-Length"] = "0"
        return Response(status_code=200, headers=headers)

    async def authorize(self, request: Request, project: str, container: str, obj: str) -> Call:
        deps = self.deps
        method = request.method
        if obj and "temp_url_sig" in request.query_params:
            call = Call(request, deps, project, container, obj, None, False, temp_url=True)
            await check_temp_url(call)
            return call
        token = request.headers.get("x-auth-token") or request.headers.get("x-storage-token")
        auth = await deps.validator.validate(token) if token else None
        if auth is not None and policies.allows(auth, "operate_account", project):
            return Call(request, deps, project, container, obj, auth, True)
        if auth is not None and method in READS and policies.allows(auth, "read_account", project):
            return Call(request, deps, project, container, obj, auth, False)
        call = Call(request, deps, project, container, obj, auth, False)
        if container and await acl_allows(call):
            return call
        if auth is None:
            raise errors.Unauthorized("This server could not verify that you are authorized.")
        raise errors.Forbidden("Access was denied to this resource.")


async def acl_allows(call: Call, method: str = "", container: str = "") -> bool:
    """The container's ACL grants this request (reads: X-Container-Read; writes to objects:
    X-Container-Write; container writes are for the account's operators only). `method` and
    `container` ask about another request of the same caller (a copy's source)."""
    info = await call.deps.records.container_cached(call.account, container or call.container)
    if info is None:
        return False
    if (method or call.method) in READS:
        acl = Acl.parse(info.read_acl)
        if call.auth is not None and acl.grants_user(call.auth):
            return True
        if acl.referrer_allowed(call.request.headers.get("referer", "*")):
            return bool(call.obj) or acl.listings
        return False
    if not call.obj or call.auth is None:
        return False
    return Acl.parse(info.write_acl).grants_user(call.auth)


async def check_temp_url(call: Call) -> None:
    """401 unless the temp URL's signature grants this method on this path now."""
    if call.method not in tempurl.METHODS:
        raise errors.Unauthorized("Temp URLs allow GET, HEAD, PUT, POST and DELETE only.")
    params = dict(call.request.query_params)
    keys = await temp_url_keys(call)
    try:
        tempurl.TempUrl.from_query(params).check(call.method, call.path(), keys)
    except tempurl.Invalid as exc:
        raise errors.Unauthorized(f"Temp URL invalid: {exc}.") from None


async def temp_url_keys(call: Call) -> list[str]:
    """The account's and the container's Temp-URL-Key and Temp-URL-Key-2."""
    names = ("temp-url-key", "temp-url-key-2")
    account = await call.deps.records.account(call.account)
    keys = [account.meta[k] for k in names if k in account.meta]
    container = await call.deps.records.container_cached(call.account, call.container)
    if container is not None:
        keys += [container.meta[k] for k in names if k in container.meta]
    return keys
