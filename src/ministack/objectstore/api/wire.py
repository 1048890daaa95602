"""Swift's wire conventions shared by every handler: errors, timestamps, metadata headers.

Swift answers errors with a short HTML body (clients read only the status), stamps every
response with ``X-Trans-Id`` (``tx<21 hex>-<hex time>``, also sent as
``X-Openstack-Request-Id``), and carries user metadata in ``X-<Kind>-Meta-<Name>`` headers
within fixed limits (``/info`` advertises them).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import math
from collections.abc import Mapping

from starlette.responses import Response

from ministack.common import errors

MAX_META_NAME = 128
MAX_META_VALUE = 256
MAX_META_COUNT = 90
MAX_META_OVERALL = 4096


class LengthRequired(errors.ApiError):
    status, title = 411, "Length Required"


class PreconditionFailed(errors.ApiError):
    status, title = 412, "Precondition Failed"


class RangeNotSatisfiable(errors.ApiError):
    status, title = 416, "Requested Range Not Satisfiable"


class Unprocessable(errors.ApiError):
    status, title = 422, "Unprocessable Entity"


class ClientClosed(errors.ApiError):
    status, title = 499, "Client Disconnect"


class NotModified(errors.ApiError):
    status, title = 304, "Not Modified"


def error_response(err: errors.ApiError) -> Response:
    """Swift's error body: a few lines of HTML naming the status and why."""
    headers = dict(err.headers)
    if err.status == 304:
        return Response(status_code=304, headers=headers)
    title = err.title
    body = f"<html><h1>{html.escape(title)}</h1><p>{html.escape(err.message)}</p></html>"
    if err.status == 401:
        headers.setdefault("WWW-Authenticate", 'Swift realm="unknown"')
    return Response(body, status_code=err.status, headers=headers, media_type="text/html")


def x_timestamp(at: float) -> str:
    return f"{at:016.5f}"


def http_date(at: float) -> str:
    return email.utils.formatdate(math.ceil(at), usegmt=True)


def listing_time(at: float) -> str:
    """The last_modified of a listing entry: ISO 8601 in UTC with microseconds, no zone."""
    stamp = dt.datetime.fromtimestamp(at, dt.UTC).replace(tzinfo=None)
    return stamp.isoformat(timespec="microseconds")


def parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def meta_changes(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """The user metadata a request sets (``X-<kind>-Meta-<name>``) or removes
    (``X-Remove-<kind>-Meta-<name>``, or an empty value): lower-cased name -> value ('' to
    remove). 400 beyond Swift's limits."""
    prefix, remove = f"x-{kind}-meta-", f"x-remove-{kind}-meta-"
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key.startswith(prefix):
            out[key[len(prefix) :]] = value.strip()
        elif key.startswith(remove):
            out[key[len(remove) :]] = ""
    check_meta(out)
    return out


def check_meta(meta: Mapping[str, str]) -> None:
    total = 0
    for name, value in meta.items():
        if not name:
            raise errors.BadRequest("Metadata name cannot be empty.")
        if len(name.encode()) > MAX_META_NAME:
            raise errors.BadRequest(f"Metadata name too long; max {MAX_META_NAME}.")
        if len(value.encode()) > MAX_META_VALUE:
            raise errors.BadRequest(f"Metadata value longer than {MAX_META_VALUE}.")
        total += len(name.encode()) + len(value.encode())
    if len([v for v in meta.values() if v]) > MAX_META_COUNT:
        raise errors.BadRequest(f"Too many metadata items; max {MAX_META_COUNT}.")
    if total > MAX_META_OVERALL:
        raise errors.BadRequest(f"Total metadata too large; max {MAX_META_OVERALL}.")


def meta_headers(meta: Mapping[str, str], kind: str) -> dict[str, str]:
    """Stored user metadata back as response headers, title-cased as Swift sends them."""
    # keys with a colon (no header name has one) are the service's own: versioning's
    return {f"X-{kind.title()}-Meta-{_title(k)}": v for k, v in meta.items() if ":" not in k}


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "on", "t", "y")
