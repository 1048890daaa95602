"""Form uploads from a browser (Swift's formpost middleware): POST multipart/form-data to a
container (or an object-name prefix), no token.

The app routes a POST whose body is multipart/form-data here before any token check. Fields
before a file part (``redirect``, ``max_file_size``, ``max_file_count``, ``expires``,
``signature``, ``x_delete_at``/``x_delete_after``) govern it; each file part is checked
against the HMAC signature under the account's or container's temp URL keys (401 when it does
not match or the form expired), then streamed into the backend and committed as an object
named ``<prefix><filename>``, as a PUT would be (versioning included). The answer is the last
upload's status, or a 303 to ``redirect`` with ``status`` and ``message`` in its query. A
refused or cut-off file stores nothing.
"""

from __future__ import annotations

import html
import http
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.responses import Response

from ministack.common import errors
from ministack.objectstore import mime, tempurl
from ministack.objectstore.api import objects
from ministack.objectstore.api.app import Call, temp_url_keys
from ministack.objectstore.backend import TooLarge
from ministack.objectstore.store import MAX_OBJECT_NAME, NewObject

MAX_VALUE_LENGTH = 4096


class FormInvalid(Exception):
    """A malformed form (400)."""


class FormUnauthorized(Exception):
    """A bad or expired signature (401)."""


def _status(code: int) -> str:
    return f"{code} {http.HTTPStatus(code).phrase}"


async def post_form(call: Call) -> Response:
    try:
        boundary = mime.boundary_of(call.request.headers.get("content-type", ""))
        return await _translate(call, boundary)
    except mime.Invalid as exc:
        return _plain(400, f"FormPost: {exc}")
    except FormInvalid as exc:
        return _plain(400, f"FormPost: {exc}")
    except FormUnauthorized as exc:
        raise errors.Unauthorized(f"FormPost: {str(exc).title()}") from None


def _plain(code: int, body: str) -> Response:
    return Response(body, status_code=code, media_type="text/plain")


async def _translate(call: Call, boundary: str) -> Response:
    keys = await temp_url_keys(call)
    fields: dict[str, str] = {}
    status, message, count = "", "", 0
    events = mime.parts(objects.body_chunks(call), boundary)
    async for event in events:
        if not isinstance(event, mime.Headers):
            continue
        filename = event.params.get("filename")
        if not filename:
            value = await _field(events)
            if "name" in event.params:
                fields[event.params["name"].lower()] = value.rstrip("\r\n-")  # what Swift strips
            continue
        count += 1
        if count > _integer(fields, "max_file_count"):
            status, message = _status(400), "max file count exceeded"
            break
        attributes = dict(fields, filename=filename)
        for header in ("content-type", "content-encoding"):
            if header not in fields and header in event.headers:
                attributes[header] = event.headers[header] or "application/octet-stream"
        status, message = await _upload(call, attributes, events, keys)
        if not status.startswith("2"):
            break
    if not status:
        status, message = _status(400), "no files to process"
    redirect = fields.get("redirect")
    if not redirect:
        body = status + (f"\r\nFormPost: {message.title()}" if message else "")
        return _plain(int(status[:3]), body)
    redirect += "&" if "?" in redirect else "?"
    redirect += f"status={quote(status[:3])}&message={quote(message)}"
    link = html.escape(redirect)
    body = f'<html><body><p><a href="{link}">Click to continue...</a></p></body></html>'
    return Response(body, status_code=303, headers={"Location": redirect})


async def _field(events: AsyncIterator[mime.Event]) -> str:
    """A form field's value: its first MAX_VALUE_LENGTH bytes (the rest is read and dropped)."""
    data = b""
    async for event in events:
        if event is mime.END:
            break
        if isinstance(event, bytes) and len(data) < MAX_VALUE_LENGTH:
            data += event[: MAX_VALUE_LENGTH - len(data)]
    return data.decode("utf-8", "replace")


async def _file(events: AsyncIterator[mime.Event]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is mime.END:
            return
        if isinstance(event, bytes):
            yield event


def _integer(fields: dict[str, str], name: str) -> int:
    try:
        return int(fields.get(name) or 0)
    except ValueError:
        raise FormInvalid(f"{name} not an integer") from None


def _check_signature(call: Call, fields: dict[str, str], keys: list[str]) -> None:
    if not keys:
        raise FormUnauthorized("invalid signature")
    try:
        expires = int(fields.get("expires") or 0)
    except ValueError:
        raise FormInvalid("expired not an integer") from None
    if expires < time.time():
        raise FormUnauthorized("form expired")
    path = call.path()  # decoded, as Swift signs PATH_INFO
    if not call.obj and call.request.url.path.endswith("/"):
        path += "/"
    try:
        tempurl.check_form(path, fields, keys)
    except tempurl.Invalid:
        raise FormUnauthorized("invalid signature") from None


def _delete_at(fields: dict[str, str]) -> int | None:
    for name, offset in (("x_delete_at", 0), ("x_delete_after", int(time.time()))):
        if name in fields:
            try:
                return offset + int(fields[name])
            except ValueError:
                raise FormInvalid(f"{name} not an integer: {fields[name]}") from None
    return None


async def _upload(
    call: Call, fields: dict[str, str], events: AsyncIterator[mime.Event], keys: list[str]
) -> tuple[str, str]:
    """(status, message) of storing one file part; the signature is checked before a byte."""
    max_size = _integer(fields, "max_file_size")
    delete_at = _delete_at(fields)
    _check_signature(call, fields, keys)
    name = call.obj + fields["filename"]
    if len(name.encode()) > MAX_OBJECT_NAME:
        return _status(400), "object name too long"
    container = await call.deps.records.container_cached(call.account, call.container)
    if container is None:
        return _status(404), ""
    limit = min(max_size, call.deps.settings.max_file_size)
    try:
        stored = await call.deps.backend.write(_file(events), limit)
    except TooLarge:
        raise FormInvalid("max_file_size exceeded") from None
    content_type = fields.get("content-type") or "application/octet-stream"
    meta = {"content-encoding": fields["content-encoding"]} if "content-encoding" in fields else {}
    new = NewObject(
        stored.size,
        stored.md5,
        content_type,
        meta,
        stored.location,
        stored.size,
        stored.sha256,
        delete_at,
    )
    try:
        response = await objects.commit(call, container, new, name)
    except errors.ApiError as exc:
        return _status(exc.status), exc.message
    return _status(response.status_code), ""
