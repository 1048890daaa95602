"""AWS signature V4 of an S3 request: what was signed, reconstructed from the request.

`signed_request` reads the Authorization header or a presigned URL's query, rebuilds the
canonical request and the string to sign exactly as the client did (AWS's rules for S3: the
path encoded once, query parameters sorted, the signed headers trimmed), and returns it with
the access key and the signature. Identity then checks the signature with the secret it keeps
(`identity.client.S3Signatures`); the secret never reaches the object service. Signature V2
is `sigv2`; both return a `Signed`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
MAX_SKEW = dt.timedelta(minutes=15)
MAX_PRESIGNED = 7 * 24 * 3600


class Refused(Exception):
    """The request's authentication is malformed or stale; `code` is S3's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Signed:
    access: str
    string_to_sign: bytes
    signature: str
    payload_hash: str  # the x-amz-content-sha256 the client declared (V4 header auth)


def _enc(text: str, safe: str = "-_.~") -> str:
    return quote(text, safe=safe)


def canonical_query(pairs: Sequence[tuple[str, str]], skip: str = "") -> str:
    items = sorted((_enc(k), _enc(v)) for k, v in pairs if k != skip)
    return "&".join(f"{k}={v}" for k, v in items)


def _canonical_headers(headers: Mapping[str, str], names: list[str]) -> str:
    lines = []
    for name in names:
        value = headers.get(name)
        if value is None:
            raise Refused("AccessDenied", f"Signed header {name} is missing from the request.")
        lines.append(f"{name}:{re.sub(r' +', ' ', value.strip())}\n")
    return "".join(lines)


def _parse_auth_header(value: str) -> dict[str, str]:
    body = value[len(ALGORITHM) :].strip()
    fields: dict[str, str] = {}
    for part in body.split(","):
        key, _, val = part.strip().partition("=")
        fields[key] = val
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise Refused("AuthorizationHeaderMalformed", "The authorization header is malformed.")
    return fields


def _amz_time(value: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise Refused("AccessDenied", "X-Amz-Date is not a valid date.") from None


def signed_request(
    method: str,
    raw_path: bytes,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    now: dt.datetime,
) -> Signed:
    """What the client signed; `Refused` when there is no or a broken signature, or it is
    stale (header: over 15 minutes off; presigned: past X-Amz-Expires)."""
    params = dict(query)
    auth = headers.get("authorization", "")
    canonical_uri = _enc(unquote(raw_path.decode("latin-1")), safe="/-_.~")
    if auth.startswith(ALGORITHM):
        fields = _parse_auth_header(auth)
        credential, names = fields["Credential"], fields["SignedHeaders"].split(";")
        amz_date = headers.get("x-amz-date") or ""
        stamp = _amz_time(amz_date) if amz_date else None
        if stamp is None or abs(now - stamp) > MAX_SKEW:
            raise Refused("RequestTimeTooSkewed", "The difference between the request time "
                          "and the current time is too large.")  # fmt: skip
        payload = headers.get("x-amz-content-sha256", UNSIGNED)
        signature = fields["Signature"]
        query_text = canonical_query(query)
    elif params.get("X-Amz-Algorithm") == ALGORITHM:
        credential = params.get("X-Amz-Credential", "")
        names = params.get("X-Amz-SignedHeaders", "host").split(";")
        amz_date = params.get("X-Amz-Date", "")
        stamp = _amz_time(amz_date)
        expires = params.get("X-Amz-Expires", "")
        if not expires.isdigit() or int(expires) > MAX_PRESIGNED:
            raise Refused("AuthorizationQueryParametersError", "X-Amz-Expires is invalid.")
        if now > stamp + dt.timedelta(seconds=int(expires)):
            raise Refused("AccessDenied", "Request has expired")
        payload = UNSIGNED
        signature = params.get("X-Amz-Signature", "")
        query_text = canonical_query(query, skip="X-Amz-Signature")
    else:
        raise Refused("AccessDenied", "Anonymous access is not allowed; sign the request.")
    access, _, scope = credential.partition("/")
    if scope.count("/") != 3 or not scope.endswith("/aws4_request"):
        raise Refused("AuthorizationHeaderMalformed", "The credential scope is malformed.")
    canonical = "\n".join(
        [
            method,
            canonical_uri,
            query_text,
            _canonical_headers(headers, names),
            ";".join(names),
            payload,
        ]
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    text = f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
    return Signed(access, text.encode(), signature, payload)
