"""Per-request context: the request id that travels from the API through RPC into the logs."""

from __future__ import annotations

import contextvars
import uuid

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def new_request_id() -> str:
    """Return a request id in OpenStack's form: ``req-<uuid4>``."""
    return f"req-{uuid.uuid4()}"


def current_request_id() -> str | None:
    """The request id of the work in progress, or None outside a request."""
    return request_id.get()
