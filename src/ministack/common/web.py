"""Web glue every API shares: request ids, body limits, OpenStack error bodies, JSON helpers.

Each service builds a Starlette app from its routes with `make_app`; handlers only validate,
authorize, call and render. Errors raised as `ApiError` become the service's error body;
anything else is logged with its traceback and answered with a 500 that leaks nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ministack.common import context, errors

DEFAULT_MAX_BODY = 114688


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, headers=headers)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 when it is not one."""
    raw = await request.body()
    if not raw:
        raise errors.BadRequest("The request body is empty; a JSON object was expected.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    return data


def error_response(err: errors.ApiError, style: errors.Style) -> JSONResponse:
    return JSONResponse(err.body(style), status_code=err.status, headers=err.headers)


_HTTP_ERRORS: dict[int, type[errors.ApiError]] = {
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    400: errors.BadRequest,
}


class ApiMiddleware:
    """Request id, body-size limit, access log and error rendering around one service's app."""

    def __init__(self, app: ASGIApp, *, service: str, style: errors.Style, max_body: int) -> None:
        self.app = app
        self.style = style
        self.max_body = max_body
        self.log = logging.getLogger(f"ministack.{service}.access")
        self.errlog = logging.getLogger(f"ministack.{service}")
        self.extra_id_header = b"x-compute-request-id" if service == "compute" else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req_id = context.new_request_id()
        token = context.request_id.set(req_id)
        started = time.monotonic()
        status_holder = [500]
        response_started = [False]
        rid = req_id.encode()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-openstack-request-id", rid))
                if self.extra_id_header:
                    headers.append((self.extra_id_header, rid))
                message["headers"] = headers
            await send(message)

        try:
            length = _content_length(scope)
            if length is not None and length > self.max_body:
                raise errors.PayloadTooLarge(
                    f"Request body is {length} bytes; the limit is {self.max_body} bytes."
                )
            await self.app(scope, _limited(receive, self.max_body), send_wrapper)
        except errors.ApiError as err:
            await error_response(err, self.style)(scope, receive, send_wrapper)
        except Exception:
            self.errlog.exception("unexpected error serving %s %s", scope["method"], scope["path"])
            if response_started[0]:
                return
            fault = errors.InternalError(
                f"An unexpected error prevented the request; request id {req_id}."
            )
            await error_response(fault, self.style)(scope, receive, send_wrapper)
        finally:
            client = scope.get("client")
            self.log.info(
                "%s %s %s %d %.1fms",
                client[0] if client else "-",
                scope["method"],
                scope["path"],
                status_holder[0],
                (time.monotonic() - started) * 1000,
            )
            context.request_id.reset(token)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise errors.BadRequest("Content-Length is not a number.") from None
    return None


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise errors.PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        return message

    return wrapped


def make_app(
    service: str,
    routes: Sequence[BaseRoute],
    *,
    style: errors.Style,
    max_body: int = DEFAULT_MAX_BODY,
    state: dict[str, Any] | None = None,
) -> tuple[Starlette, ASGIApp]:
    """Build a service's app; returns (starlette app, the ASGI app to serve)."""

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        cls = _HTTP_ERRORS.get(exc.status_code, errors.BadRequest)
        detail = exc.detail if exc.status_code != 404 else "The resource could not be found."
        return error_response(cls(str(detail)), style)

    async def api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.ApiError)
        return error_response(exc, style)

    async def unexpected(_request: Request, _exc: Exception) -> Response:
        req_id = context.current_request_id()
        fault = errors.InternalError(
            f"An unexpected error prevented the request; request id {req_id}."
        )
        return error_response(fault, style)

    app = Starlette(
        routes=list(routes),
        exception_handlers={
            HTTPException: http_error,
            errors.ApiError: api_error,
            Exception: unexpected,
        },
    )
    app.state.service = service  # access rules of app credentials name it (common/auth.py)
    for key, value in (state or {}).items():
        setattr(app.state, key, value)
    served = ApiMiddleware(app, service=service, style=style, max_body=max_body)
    return app, served
