"""Declared request validation: every route names the schema of its body and its query string,
and the request is checked against them before the handler runs.

Where it sits: between Starlette's router and a service's handler. A service makes one
`Router` (its microversion source, its media-type rule) and declares its routes as data:

    route = Router(version_of=version)
    ROUTES = [
        route("/v2.1/servers", create_server, "POST", body=schemas.create_server),
        route("/v2.1/servers", list_servers, "GET", query=schemas.list_servers),
    ]

The handler then reads the checked data with `body(request)` / `query(request)`. A body or
query that does not match answers 400 naming the field (415, or 400 where upstream says so,
for a body that is not JSON by its Content-Type), in the service's error format, and the
handler never runs, so nothing is created. Schemas are JSON Schema (draft 7) built from
`common.params`; `Versions` picks one per microversion.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import math
import unicodedata
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any

import fastjsonschema
import orjson
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ministack.common import errors
from ministack.common.params import Schema

Version = tuple[int, int]
Handler = Callable[[Request], Awaitable[Response]]
JSON_TYPES = ("application/json",)

# --- formats ---------------------------------------------------------------------------------

Check = Callable[[object], bool]
CHECKS: dict[str, Check] = {}  # format name -> check, shared by both validators below
FORMATS = FormatChecker(formats=())


def _format(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        CHECKS[name] = check
        FORMATS.checks(name)(check)
        return check

    return register


def _printable(char: str) -> bool:
    """Not a control, format, surrogate, private-use or unassigned character (category C*),
    and not a line or paragraph separator."""
    category = unicodedata.category(char)
    return category[0] != "C" and category not in ("Zl", "Zp")


@_format("name")
def _is_name(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return value == value.strip() and all(_printable(c) for c in value)


@_format("text")
def _is_text(value: object) -> bool:
    return not isinstance(value, str) or all(_printable(c) for c in value)


@_format("description")
def _is_description(value: object) -> bool:
    return not isinstance(value, str) or all(_printable(c) or c in "\t\n\r" for c in value)


@_format("uuid")
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return len(value.replace("-", "")) == 32


@_format("ipv4")
def _is_ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


@_format("ipv6")
def _is_ipv6(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


@_format("base64")
def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


@_format("iso8601")
def _is_iso8601(value: object) -> bool:
    return not isinstance(value, str) or parse_time(value) is not None


TIME_OPERATORS = ("gt", "gte", "lt", "lte", "eq", "neq")


@_format("time-filter")
def _is_time_filter(value: object) -> bool:
    return not isinstance(value, str) or parse_time_filter(value) is not None


def parse_time_filter(value: str) -> tuple[str, dt.datetime] | None:
    """`[op:]timestamp` as Glance and Cinder read time filters (op defaults to eq), or None."""
    op, sep, rest = value.partition(":")
    if sep and op in TIME_OPERATORS:
        when = parse_time(rest)
        return (op, when) if when is not None else None
    when = parse_time(value)
    return ("eq", when) if when is not None else None


def parse_time(value: str) -> dt.datetime | None:
    """An ISO 8601 timestamp as naive UTC, or None when it is not one."""
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def _int_range(name: str) -> Check:
    """The check of format `int:<min>:<max>`: a digit string whose value is in range."""
    low, high = (int(x) for x in name.split(":")[1:])

    def check(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            return low <= int(value) <= high
        except ValueError:
            return False

    return check


@_format("positive-number")
def _is_positive_number(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        number = float(value)
    except ValueError:
        return False
    return number > 0 and math.isfinite(number) and number <= 3.40282e38


def _formats_in(schema: object) -> set[str]:
    """Every format name a schema uses (nested anywhere)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            found.add(schema["format"])
        for value in schema.values():
            found |= _formats_in(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _formats_in(value)
    return found


# --- compiled schemas ------------------------------------------------------------------------


class Compiled:
    """One schema, compiled twice: to Python code by fastjsonschema for the common case (a
    valid request costs tens of microseconds), and for jsonschema, which explains a refusal
    (the most relevant error, its path). `check` raises BadRequest naming the bad field."""

    def __init__(self, schema: Schema) -> None:
        Draft7Validator.check_schema(schema)
        self.schema = schema
        for name in _formats_in(schema):
            if name.startswith("int:") and name not in CHECKS:
                _format(name)(_int_range(name))
        self._validator = Draft7Validator(schema, format_checker=FORMATS)
        self._fast = fastjsonschema.compile(
            {"$schema": "http://json-schema.org/draft-07/schema#", **schema},
            formats=dict(CHECKS),
            use_default=False,
        )
        props = schema.get("properties", {})
        # query parameters declared with params.many arrive as lists
        self.multi = frozenset(
            k for k, v in props.items() if isinstance(v, dict) and v.get("x-multi")
        )

    def fast_accepts(self, instance: object) -> bool:
        try:
            self._fast(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def first_error(self, instance: object) -> ValidationError | None:
        found: ValidationError | None = best_match(self._validator.iter_errors(instance))
        return found

    def check(self, instance: object, wording: str) -> None:
        if self.fast_accepts(instance):
            return
        # explain the refusal with jsonschema (tests/common/test_validation.py holds the two
        # validators to the same verdicts)
        error = self.first_error(instance)
        if error is not None:
            raise errors.BadRequest(describe(error, wording))


class Versions:
    """Schemas by the first microversion each applies to: `Versions({"2.1": a, "2.19": b})`.
    A version below every key (or a key mapped to None) means: no check at that version."""

    def __init__(self, by_version: Mapping[str, Schema | None]) -> None:
        items = []
        for text, schema in by_version.items():
            major, _, minor = text.partition(".")
            items.append(((int(major), int(minor)), compile_schema(schema) if schema else None))
        self.items: list[tuple[Version, Compiled | None]] = sorted(items, key=lambda i: i[0])

    def pick(self, version: Version) -> Compiled | None:
        chosen: Compiled | None = None
        for first, compiled in self.items:
            if version >= first:
                chosen = compiled
        return chosen


Declared = Schema | Versions


def compile_schema(schema: Schema) -> Compiled:
    return _compiled(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


@cache
def _compiled(key: bytes) -> Compiled:
    return Compiled(orjson.loads(key))


def _field(error: ValidationError, separator: str) -> str:
    path = [str(p) for p in error.absolute_path]
    instance = error.instance
    wanted: Any = error.validator_value
    schema: Any = error.schema
    if error.validator == "required" and isinstance(instance, dict):
        missing = [k for k in wanted if k not in instance]
        path += missing[:1]
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in known)
        path += extra[:1]
    return separator.join(path) or "body"


_FORMAT_WORDS = {
    "name": "a name of printable characters without leading or trailing whitespace",
    "text": "text of printable characters (no control or format characters)",
    "description": "text of printable characters, tabs and newlines",
    "uuid": "a UUID",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "iso8601": "an ISO 8601 timestamp",
    "base64": "valid base 64 text",
    "time-filter": "a time filter: [gt|gte|lt|lte|eq|neq:]<ISO 8601 timestamp>",
}


SECRET_WORDS = ("password", "secret", "adminpass", "token")


def _is_secret(error: ValidationError) -> bool:
    """Whether the refused value sits under a key that holds a secret (never echoed back)."""
    return any(w in str(part).lower() for part in error.absolute_path for w in SECRET_WORDS)


def _message(error: ValidationError) -> str:
    """What was wrong with the value, in words a person can act on."""
    if _is_secret(error):
        if error.validator == "maxLength":
            return f"the value is longer than {error.validator_value} characters."
        if error.validator == "minLength":
            return f"the value is shorter than {error.validator_value} characters."
        return f"the value does not match the schema ({error.validator})."
    shown, wanted = _short(error.instance), error.validator_value
    if error.validator == "format":
        return f"{shown} is not {_FORMAT_WORDS.get(str(wanted), str(wanted))}."
    if error.validator == "maxLength":
        return f"{shown} is too long (more than {wanted} characters)."
    if error.validator == "minLength":
        return f"{shown} is too short (fewer than {wanted} characters)."
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _message(best_match(error.context))
    return error.message if len(error.message) <= 300 else error.message[:300] + "..."


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(error: ValidationError, wording: str) -> str:
    """The 400 message: Nova's 'Invalid input for field/attribute server/name ...' or
    Keystone's 'Invalid input for field 'user.name': ...'."""
    nova = wording == "nova"
    field, message = _field(error, "/" if nova else "."), _message(error)
    if nova:
        shown = "***" if _is_secret(error) else _short(error.instance)
        return f"Invalid input for field/attribute {field}. Value: {shown}. {message}"
    return f"Invalid input for field '{field}': {message}"


# --- the route wrapper -----------------------------------------------------------------------


def _query_instance(request: Request, multi: frozenset[str]) -> dict[str, Any]:
    params = request.query_params
    return {k: params.getlist(k) if k in multi else params.getlist(k)[-1] for k in params}


class Router:
    """Declares one service's routes with their schemas.

    `version_of` gives the request's microversion (compute); `wrong_media` is the error for
    a body whose Content-Type is not JSON (415 by default; Keystone answers 400);
    `wording` picks the message style ("nova" or "openstack"); `authenticate`, when given,
    runs first, so a request without a valid token gets 401 before any 400 (as behind
    keystonemiddleware).
    """

    def __init__(
        self,
        *,
        version_of: Callable[[Request], Version] | None = None,
        wrong_media: type[errors.ApiError] = errors.UnsupportedMediaType,
        wording: str = "openstack",
        authenticate: Callable[[Request], Awaitable[object]] | None = None,
    ) -> None:
        self.version_of = version_of
        self.wrong_media = wrong_media
        self.wording = wording
        self.authenticate = authenticate

    def __call__(
        self,
        path: str,
        endpoint: Handler,
        method: str,
        *,
        body: Declared | None = None,
        query: Declared | None = None,
        media_types: tuple[str, ...] = JSON_TYPES,
    ) -> Route:
        """A Starlette route whose handler runs only after body and query validate."""
        if body is None and query is None:
            return Route(path, endpoint, methods=[method])
        checked = _Checked(self, endpoint, _prepare(body), _prepare(query), media_types)

        async def validated(request: Request) -> Response:
            # a plain function, so Starlette treats it as a request -> response endpoint
            return await checked(request)

        return Route(path, validated, methods=[method], name=endpoint.__name__)

    def pick(self, declared: Compiled | Versions | None, request: Request) -> Compiled | None:
        if isinstance(declared, Versions):
            version = self.version_of(request) if self.version_of else (0, 0)
            return declared.pick(version)
        return declared


def _prepare(declared: Declared | None) -> Compiled | Versions | None:
    """Compile at import time, so a broken schema fails the service's start, not a request."""
    if declared is None or isinstance(declared, Versions):
        return declared
    return compile_schema(declared)


class _Checked:
    """One route's handler behind its validation step."""

    def __init__(
        self,
        router: Router,
        endpoint: Handler,
        body: Compiled | Versions | None,
        query: Compiled | Versions | None,
        media_types: tuple[str, ...],
    ) -> None:
        self.router = router
        self.endpoint = endpoint
        self.body = body
        self.query = query
        self.media_types = media_types

    async def __call__(self, request: Request) -> Response:
        await self._validate(request)
        return await self.endpoint(request)

    async def _validate(self, request: Request) -> None:
        router = self.router
        if router.authenticate is not None:
            await router.authenticate(request)
        query_schema = router.pick(self.query, request)
        if query_schema is not None:
            instance = _query_instance(request, query_schema.multi)
            query_schema.check(instance, router.wording)
            request.state.query = instance
        body_schema = router.pick(self.body, request)
        if body_schema is not None:
            data = await self._json(request)
            body_schema.check(data, router.wording)
            request.state.body = data

    async def _json(self, request: Request) -> Any:
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media and media not in self.media_types:
            nova = self.router.wording == "nova"
            raise self.router.wrong_media(
                "Unsupported Content-Type"
                if nova
                else f"The media type {media} is not supported, use {self.media_types[0]}."
            )
        raw = await request.body()
        if not raw:
            raise errors.BadRequest("The request body is empty; a JSON object was expected.")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise errors.BadRequest(f"The request body is not valid JSON: {exc}") from None


def body(request: Request) -> dict[str, Any]:
    """The request body the route's schema accepted (its top level is whatever the schema
    declared; every schema in this tree declares an object)."""
    data: dict[str, Any] = request.state.body
    return data


def query(request: Request) -> dict[str, Any]:
    """The query string the route's schema accepted: one value per key (the last, as
    Starlette's query_params reads it), a list for keys declared with `params.many`."""
    data: dict[str, Any] = request.state.query
    return data
