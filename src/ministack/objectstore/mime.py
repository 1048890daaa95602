"""A streaming multipart/form-data reader for form uploads (Swift's formpost).

`parts` turns a request body's chunks into a flat stream of events: a `Headers` when a part
begins, its bytes as they arrive, and `END` when it ends. Nothing is buffered beyond one
chunk and the boundary's length, so a file part can be streamed straight into the backend.
`Invalid` means the body is not the multipart document it claims to be (400).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

MAX_HEADERS = 8192


class Invalid(Exception):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class Headers:
    """A part's headers (lower-cased names) and its Content-Disposition parameters."""

    headers: dict[str, str]
    params: dict[str, str]


class _End:
    pass


END = _End()
Event = Headers | bytes | _End


def boundary_of(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"')
    raise Invalid("no boundary")


def disposition(value: str) -> tuple[str, dict[str, str]]:
    """('form-data', {'name': ..., 'filename': ...}) of a Content-Disposition value."""
    kind, *rest = _split_params(value)
    params: dict[str, str] = {}
    for item in rest:
        name, _, raw = item.partition("=")
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1].replace('\\"', '"')
        params[name.strip().lower()] = raw
    return kind.strip().lower(), params


def _split_params(value: str) -> list[str]:
    """Split on ';' outside double quotes."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return out


def _headers(raw: bytes) -> Headers:
    headers: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise Invalid("a part header has no colon")
        headers[name.strip().lower()] = value.strip()
    _, params = disposition(headers.get("content-disposition", ""))
    return Headers(headers, params)


async def parts(chunks: AsyncIterator[bytes], boundary: str) -> AsyncIterator[Event]:
    """The events of the multipart body; raises `Invalid` on a malformed one."""
    if not boundary or len(boundary) > 200:
        raise Invalid("bad boundary")
    delimiter = b"\r\n--" + boundary.encode()
    buf = b"\r\n"  # the first delimiter has no CRLF before it
    state = "preamble"
    finished = False
    async for chunk in chunks:
        if finished:
            continue  # the epilogue is ignored
        buf += chunk
        while True:
            if state == "preamble":  # the body must open with the boundary, as Swift's
                if len(buf) < len(delimiter):
                    break
                if not buf.startswith(delimiter):
                    raise Invalid("invalid starting boundary")
                buf = buf[len(delimiter) :]
                state = "after-delimiter"
            if state == "after-delimiter":
                if len(buf) < 2:
                    break
                if buf.startswith(b"--"):
                    finished = True
                    break
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEADERS:
                        raise Invalid("part headers too long")
                    break
                line_end = buf.find(b"\r\n")
                if buf[:line_end].strip(b" \t"):
                    raise Invalid("junk after a boundary")
                yield _headers(buf[line_end + 2 : end + 2])
                buf = buf[end + 4 :]
                state = "data"
            if state == "data":
                at = buf.find(delimiter)
                if at < 0:
                    keep = len(delimiter) - 1
                    if len(buf) > keep:
                        yield buf[:-keep]
                        buf = buf[-keep:]
                    break
                if at:
                    yield buf[:at]
                yield END
                buf = buf[at + len(delimiter) :]
                state = "after-delimiter"
    if not finished:
        raise Invalid("the body ended before the closing boundary")
