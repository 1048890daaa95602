"""Credentials at rest and EC2 signatures: the part of ``/v3/credentials``, ``OS-EC2`` and
``/v3/ec2tokens`` that is neither HTTP nor SQL.

A credential's blob is encrypted with Fernet under a key kept in
``<state>/identity/credential.key`` (0600 from its first byte, made once), as Keystone's
credential provider does; the database never holds a blob in the clear. An EC2 credential's
id is the SHA-256 of its access key, so a signed request finds its credential by id.
`check_signature` recomputes an AWS signature (version 4, or version 2 as the EC2 API used)
over the request the client describes and compares it in constant time.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken

from ministack.common import errors, files, validation

EC2 = "ec2"
SIGNATURE_TTL = dt.timedelta(minutes=15)  # Keystone's [credential] auth_ttl
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
V4 = "AWS4-HMAC-SHA256"
_AUTH_PART = re.compile(r"(\w+)=([^,\s]+)")


class CredentialCipher:
    """Encrypts and decrypts credential blobs with the key under the state directory."""

    def __init__(self, key_file: Path) -> None:
        files.private_dir(key_file.parent)
        key = files.create_private_once(key_file, Fernet.generate_key())
        self._fernet = Fernet(key.strip())

    def encrypt(self, blob: str) -> str:
        return self._fernet.encrypt(blob.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The blob; 500-class error when the key no longer matches (a replaced key file)."""
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise errors.ApiError(
                "A credential cannot be decrypted: the credential key under the state "
                "directory was replaced. Restore identity/credential.key."
            ) from None


def ec2_id(access: str) -> str:
    """The credential id Keystone gives an EC2 credential: SHA-256 of its access key."""
    return hashlib.sha256(access.encode()).hexdigest()


def ec2_blob(blob: str) -> dict[str, Any]:
    """An EC2 blob's fields; 400 unless it is a JSON object with an access key."""
    try:
        data = json.loads(blob)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("access"), str) or not data["access"]:
        raise errors.BadRequest(
            "Invalid input for field 'credential.blob': an ec2 credential's blob is a JSON "
            'object with "access" and "secret".'
        )
    return data


# -- signatures --------------------------------------------------------------------------------


def _lower(headers: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _canonical_query(params: Mapping[str, Any], skip: str) -> str:
    pairs = sorted(
        (quote(str(k), safe="-_.~"), quote(str(v), safe="-_.~"))
        for k, v in params.items()
        if k != skip
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _v4_parts(params: Mapping[str, Any], headers: dict[str, str]) -> dict[str, str]:
    """Credential scope, signed headers and date, from the Authorization header or the query
    string of a presigned URL."""
    if params.get("X-Amz-Algorithm") == V4:
        return {
            "Credential": str(params.get("X-Amz-Credential", "")),
            "SignedHeaders": str(params.get("X-Amz-SignedHeaders", "")),
            "date": str(params.get("X-Amz-Date", "")),
            "presigned": "1",
        }
    parts = dict(_AUTH_PART.findall(headers.get("authorization", "")))
    parts["date"] = headers.get("x-amz-date", "")
    return parts


def _v4_signature(secret: str, cred: Mapping[str, Any]) -> tuple[str, str]:
    """(expected signature, request date) of an AWS signature v4 request."""
    params: Mapping[str, Any] = cred.get("params") or {}
    headers = _lower(cred.get("headers") or {})
    parts = _v4_parts(params, headers)
    scope = parts.get("Credential", "").split("/", 1)[-1]
    date = parts.get("date", "")
    signed = parts.get("SignedHeaders", "")
    if not scope or not date or not signed or len(scope.split("/")) != 4:
        raise errors.Unauthorized("The request you have made requires authentication.")
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed.split(";")
    )
    if parts.get("presigned"):
        payload = "UNSIGNED-PAYLOAD"
    else:
        payload = (
            cred.get("body_hash")
            or headers.get("x-amz-content-sha256")
            or hashlib.sha256(b"").hexdigest()
        )
    request = "\n".join(
        (
            str(cred.get("verb", "")).upper(),
            str(cred.get("path", "")) or "/",
            _canonical_query(params, "X-Amz-Signature"),
            canonical_headers,
            signed,
            str(payload),
        )
    )
    day, region, service, terminal = scope.split("/")
    to_sign = "\n".join((V4, date, scope, hashlib.sha256(request.encode()).hexdigest()))
    key = _hmac(f"AWS4{secret}".encode(), day)
    for part in (region, service, terminal):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), date


def _v2_signature(secret: str, cred: Mapping[str, Any]) -> str:
    params: Mapping[str, Any] = cred.get("params") or {}
    digest = hashlib.sha1 if params.get("SignatureMethod") == "HmacSHA1" else hashlib.sha256
    to_sign = "\n".join(
        (
            str(cred.get("verb", "")).upper(),
            str(cred.get("host", "")).lower(),
            str(cred.get("path", "")) or "/",
            _canonical_query(params, "Signature"),
        )
    )
    return base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), digest).digest()).decode()


def _presigned_life(params: Mapping[str, Any]) -> dt.timedelta | None:
    """How long a presigned URL stays valid (X-Amz-Expires, at most 7 days as AWS allows);
    None for a request signed in its Authorization header."""
    if params.get("X-Amz-Algorithm") != V4:
        return None
    try:
        seconds = int(str(params.get("X-Amz-Expires", "0")))
    except ValueError:
        seconds = 0
    return dt.timedelta(seconds=max(0, min(seconds, MAX_PRESIGNED_SECONDS)))


def _fresh(date: str, now: dt.datetime, life: dt.timedelta | None = None) -> bool:
    """Signed within 15 minutes of `now`; a presigned URL until its date plus its life."""
    try:
        when = dt.datetime.strptime(date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    if life is not None:
        return when - SIGNATURE_TTL <= now <= when + life
    return abs(now - when) <= SIGNATURE_TTL


def _v2_fresh(params: Mapping[str, Any], now: dt.datetime) -> bool:
    """A version 2 request carries a Timestamp (within 15 minutes) or an Expires (not past)."""
    for key in ("Timestamp", "Expires"):
        if key in params:
            when = validation.parse_time(str(params[key]))
            if when is None:
                return False
            return abs(now - when) <= SIGNATURE_TTL if key == "Timestamp" else now < when
    return True


def check_signature(secret: str, cred: Mapping[str, Any], now: dt.datetime) -> None:
    """Raise Unauthorized unless `cred` (Keystone's ec2tokens ``credentials``) carries the
    signature `secret` makes for the request it describes, made within 15 minutes of `now`
    (naive UTC). Version 4 when the request says AWS4-HMAC-SHA256 (header or presigned
    query), version 2 when ``SignatureVersion`` is 2; other versions are refused."""
    given = str(cred.get("signature") or "")
    params: Mapping[str, Any] = cred.get("params") or {}
    headers = _lower(cred.get("headers") or {})
    denied = errors.Unauthorized("The request you have made requires authentication.")
    if params.get("X-Amz-Algorithm") == V4 or headers.get("authorization", "").startswith(V4):
        expected, date = _v4_signature(secret, cred)
        if not _fresh(date, now, _presigned_life(params)):
            raise errors.Unauthorized("The signed request has expired or is not yet valid.")
    elif str(params.get("SignatureVersion")) == "2":
        expected = _v2_signature(secret, cred)
        if not _v2_fresh(params, now):
            raise errors.Unauthorized("The signed request has expired or is not yet valid.")
    else:
        raise denied
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise denied
