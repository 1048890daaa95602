"""One tree of API errors, rendered in the body format of the service that raised them.

Handlers raise these; the web layer turns them into OpenStack's error bodies:
Keystone and Glance ``{"error": {"code", "title", "message"}}``, Nova and Cinder
``{"itemNotFound": {"code", "message"}}``, Neutron ``{"NeutronError": {"type", "message",
"detail"}}``, Placement ``{"errors": [{"status", "title", "detail", "request_id"}]}``.
Every message says what was wrong and, where it helps, what to do.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ministack.common.context import current_request_id

Style = Literal["keystone", "nova", "neutron", "glance", "placement"]


class ApiError(Exception):
    """An error the user caused or can act on; never carries a traceback to the client."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    nova_key: ClassVar[str] = "computeFault"

    def __init__(
        self, message: str, *, kind: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.kind = kind or type(self).__name__
        self.headers = headers or {}

    def body(self, style: Style) -> dict[str, Any]:
        if style == "nova":
            return {self.nova_key: {"code": self.status, "message": self.message}}
        if style == "neutron":
            return {"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}}
        if style == "placement":
            error = {"status": self.status, "title": self.title, "detail": self.message}
            return {"errors": [{**error, "request_id": current_request_id() or ""}]}
        return {"error": {"code": self.status, "title": self.title, "message": self.message}}


class BadRequest(ApiError):
    status, title, nova_key = 400, "Bad Request", "badRequest"


class Unauthorized(ApiError):
    status, title, nova_key = 401, "Unauthorized", "unauthorized"


class Forbidden(ApiError):
    status, title, nova_key = 403, "Forbidden", "forbidden"


class OverLimit(ApiError):
    """A quota would be exceeded (Nova answers 403 with the overLimit key)."""

    status, title, nova_key = 403, "Forbidden", "overLimit"


class NotFound(ApiError):
    status, title, nova_key = 404, "Not Found", "itemNotFound"


class MethodNotAllowed(ApiError):
    status, title, nova_key = 405, "Method Not Allowed", "badMethod"


class NotAcceptable(ApiError):
    status, title, nova_key = 406, "Not Acceptable", "notAcceptable"


class Conflict(ApiError):
    status, title, nova_key = 409, "Conflict", "conflictingRequest"  # Nova's fault name


class PayloadTooLarge(ApiError):
    status, title, nova_key = 413, "Request Entity Too Large", "overLimit"


class UnsupportedMediaType(ApiError):
    status, title, nova_key = 415, "Unsupported Media Type", "badMediaType"


class ServiceUnavailable(ApiError):
    status, title, nova_key = 503, "Service Unavailable", "serviceUnavailable"


class InternalError(ApiError):
    status, title, nova_key = 500, "Internal Server Error", "computeFault"
