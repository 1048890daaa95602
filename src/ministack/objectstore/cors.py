"""Cross-origin requests (Swift's proxy CORS handling), from a container's metadata.

A container opts in with ``X-Container-Meta-Access-Control-Allow-Origin`` (space-separated
origins, or ``*``), ``-Max-Age`` and ``-Expose-Headers``. A preflight ``OPTIONS`` with an
``Origin`` is answered 200 with the ``Access-Control-*`` headers when the origin is allowed and
the requested method is one Swift serves, else 401; one without an ``Origin`` gets 200 and an
``Allow`` header. An actual request from an allowed origin gets ``Access-Control-Allow-Origin``
and ``-Expose-Headers`` (strict mode, as Swift's default: nothing for a disallowed origin).
The API app calls these after the handler; they never change what a request may do.
"""

from __future__ import annotations

from collections.abc import Mapping

ALLOWED_METHODS = ("HEAD", "GET", "PUT", "POST", "OPTIONS", "DELETE", "COPY")
# what Swift always exposes to scripts, beside the user metadata a response carries
EXPOSED = (
    "cache-control",
    "content-language",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "etag",
    "x-timestamp",
    "x-trans-id",
    "x-openstack-request-id",
)


def allow_origin(meta: Mapping[str, str]) -> str:
    return meta.get("access-control-allow-origin", "").strip()


def origin_allowed(meta: Mapping[str, str], origin: str) -> bool:
    allowed = allow_origin(meta)
    return allowed == "*" or origin in allowed.split()


def preflight(
    meta: Mapping[str, str] | None, origin: str, method: str, request_headers: str
) -> dict[str, str] | None:
    """The headers of a 200 preflight answer; None when it is refused (401)."""
    if meta is None or method not in ALLOWED_METHODS or not origin_allowed(meta, origin):
        return None
    headers = {
        "Access-Control-Allow-Origin": "*" if allow_origin(meta) == "*" else origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
    }
    max_age = meta.get("access-control-max-age")
    if max_age is not None:
        headers["Access-Control-Max-Age"] = max_age
    asked = [h.strip() for h in request_headers.split(",") if h.strip()]
    if asked:
        headers["Access-Control-Allow-Headers"] = ", ".join(asked)
    return headers


def actual(meta: Mapping[str, str], origin: str, response_headers: list[str]) -> dict[str, str]:
    """The CORS headers an actual request's response gains ({} for a disallowed origin)."""
    if not origin_allowed(meta, origin):
        return {}
    exposed = list(EXPOSED)
    for name in response_headers:
        lower = name.lower()
        if lower.startswith(("x-container-meta-", "x-object-meta-")) and lower not in exposed:
            exposed.append(lower)
    for name in meta.get("access-control-expose-headers", "").split():
        if name.lower() not in exposed:
            exposed.append(name.lower())
    headers = {"Access-Control-Expose-Headers": ", ".join(exposed)}
    if allow_origin(meta) == "*":
        headers["Access-Control-Allow-Origin"] = "*"
    else:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    return headers
