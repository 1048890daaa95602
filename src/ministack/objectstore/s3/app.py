"""The S3 API's front: find the bucket and key (path- or virtual-host-style), check the
signature through identity, authorize on the credential's project, then one handler.

Signature V4 (`sigv4`) and V2 (`sigv2`), in the Authorization header or a presigned URL's
query. Every refusal is S3's XML error: no or a broken signature → 403 AccessDenied, a
signature identity does not accept → 403 SignatureDoesNotMatch, a stale one → 403
RequestTimeTooSkewed or (presigned) AccessDenied "Request has expired".
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ministack.common import context, errors
from ministack.common.auth import Auth
from ministack.identity.client import S3Signatures
from ministack.objectstore import policies
from ministack.objectstore.api.app import Deps, trans_id
from ministack.objectstore.s3 import sigv2, sigv4
from ministack.objectstore.s3.wire import S3Error, error_response

logger = logging.getLogger("ministack.object")
access_log = logging.getLogger("ministack.object.access")


@dataclass
class S3Call:
    request: Request
    deps: Deps
    auth: Auth
    project: str
    bucket: str
    key: str
    payload_hash: str

    @property
    def resource(self) -> str:
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"

    def param(self, name: str) -> str | None:
        return self.request.query_params.get(name)


S3Handler = Callable[[S3Call], Awaitable[Response]]
Dispatch = Callable[[S3Call], S3Handler]


def virtual_bucket(scope: Scope, domain: str) -> str | None:
    """The bucket a virtual-host-style request names in its Host (<bucket>.<domain>)."""
    host = bytes(scope.get("client_host") or b"").decode("latin-1").split(":", 1)[0].lower()
    if domain and host.endswith("." + domain):
        return host[: -len(domain) - 1]
    return None


def split(scope: Scope, domain: str) -> tuple[str, str]:
    """(bucket, key) of a request: from the Host when it is <bucket>.<domain>, else the path."""
    raw = scope.get("raw_path") or scope["path"].encode()
    path = unquote(raw.decode("latin-1").split("?", 1)[0], errors="strict")
    virtual = virtual_bucket(scope, domain)
    if virtual is not None:
        return virtual, path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def is_s3(scope: Scope, domain: str) -> bool:
    """Swift's paths are /v1/... and /info; everything else (and any virtual host) is S3."""
    path: str = scope["path"]
    if path.startswith("/v1/") or path == "/v1" or path == "/info":
        host = bytes(scope.get("client_host") or b"").decode("latin-1").split(":", 1)[0]
        return bool(domain) and host.lower().endswith("." + domain)
    return True


class S3App:
    def __init__(self, deps: Deps, signatures: S3Signatures, domain: str, route: Dispatch):
        self.deps, self.signatures, self.domain, self.route = deps, signatures, domain, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        txid = trans_id()
        token = context.request_id.set(txid)
        started = time.monotonic()
        request = Request(scope, receive)
        try:
            response = await self.handle(request)
        except S3Error as err:
            response = error_response(err)
        except errors.ApiError as err:
            response = error_response(_from_api_error(err))
        except Exception:
            logger.exception("unexpected error serving S3 %s %s", scope["method"], scope["path"])
            response = error_response(S3Error("InternalError", f"Unexpected error ({txid})."))
        response.headers["x-amz-request-id"] = txid
        response.headers["x-openstack-request-id"] = txid
        try:
            await response(scope, receive, send)
        finally:
            access_log.info(
                "S3 %s %s %d %.1fms",
                scope["method"],
                scope["path"],
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            context.request_id.reset(token)

    async def handle(self, request: Request) -> Response:
        scope = request.scope
        bucket, key = split(scope, self.domain)
        try:
            signed = self.signed(request)
        except sigv4.Refused as exc:
            raise S3Error(exc.code, exc.message, f"/{bucket}") from None
        try:
            auth = await self.signatures.check(
                signed.access, signed.string_to_sign, signed.signature
            )
        except errors.Unauthorized:
            raise S3Error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                f"/{bucket}",
            ) from None
        project = auth.project_id or ""
        write = request.method not in ("GET", "HEAD")
        if not policies.allows(auth, "operate_account" if write else "read_account", project):
            raise S3Error("AccessDenied", "Access Denied.", f"/{bucket}")
        if len(key.encode()) > 1024:
            raise S3Error("KeyTooLongError", "Your key is too long.", f"/{bucket}")
        call = S3Call(request, self.deps, auth, project, bucket, key, signed.payload_hash)
        return await self.route(call)(call)

    def signed(self, request: Request) -> sigv4.Signed:
        """What the client signed (V2 or V4); sigv4.Refused when unsigned, malformed or stale."""
        scope = request.scope
        headers: dict[str, str] = {}
        for name, value in request.headers.items():  # repeated headers sign comma-joined
            headers[name] = f"{headers[name]},{value.strip()}" if name in headers else value
        headers["host"] = bytes(scope.get("client_host") or b"").decode("latin-1")
        raw = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
        now = dt.datetime.now(dt.UTC)
        pairs = sigv2.raw_query(scope.get("query_string") or b"")
        if sigv2.is_v2(headers, pairs):
            path = sigv2.resource_path(raw.decode("latin-1"), virtual_bucket(scope, self.domain))
            return sigv2.signed_request(request.method, path, pairs, headers, now)
        query = [(k, v) for k, v in request.query_params.multi_items()]
        return sigv4.signed_request(request.method, raw, query, headers, now)


def _from_api_error(err: errors.ApiError) -> S3Error:
    codes = {
        400: "InvalidArgument",
        403: "AccessDenied",
        404: "NoSuchKey",
        409: "BucketNotEmpty",
        411: "MissingContentLength",
        412: "PreconditionFailed",
        413: "EntityTooLarge",
        416: "InvalidRange",
        499: "IncompleteBody",
        503: "ServiceUnavailable",
    }
    if err.status == 413 and "quota" in err.message.lower():
        return S3Error("QuotaExceeded", err.message)
    return S3Error(codes.get(err.status, "InternalError"), err.message)
