"""Temporary URLs (Swift's tempurl middleware): an HMAC over method, expiry and path.

A URL carries ``temp_url_sig`` and ``temp_url_expires`` (and ``temp_url_prefix`` for a
prefix-based one). The signed text is ``METHOD\\nEXPIRES\\nPATH`` where PATH is the object's
path, or ``prefix:/v1/AUTH_x/container/<prefix>``. The key is any of the account's or the
container's ``Temp-URL-Key`` / ``Temp-URL-Key-2``. A signature is hex (sha1, sha256, sha512 by
its length) or ``<digest>:<base64url>``. It grants exactly the method it names (HEAD also with
a GET, PUT or HEAD signature) on exactly the path or prefix it names, until it expires.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import time
from dataclasses import dataclass

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")


class Invalid(Exception):
    """The temp URL's parameters are malformed, expired or do not match (answer 401)."""


@dataclass(frozen=True)
class TempUrl:
    sig: str
    expires: int
    prefix: str | None

    @classmethod
    def from_query(cls, params: dict[str, str]) -> TempUrl:
        sig = params.get("temp_url_sig", "")
        raw_expires = params.get("temp_url_expires", "")
        if not sig or not raw_expires:
            raise Invalid("temp_url_sig and temp_url_expires are both needed")
        return cls(sig, _expires(raw_expires), params.get("temp_url_prefix"))

    def check(self, method: str, path: str, keys: list[str], at: float | None = None) -> None:
        """Raise `Invalid` unless the signature grants `method` on `path` now under a key."""
        if self.expires < (at or time.time()):
            raise Invalid("the temp URL has expired")
        digest, given = _signature(self.sig)
        if self.prefix is not None:
            account_container, _, obj = _split(path)
            if not obj.startswith(self.prefix):
                raise Invalid("the object is outside the signed prefix")
            signed_path = f"prefix:{account_container}/{self.prefix}"
        else:
            signed_path = path
        methods = (method, "GET", "PUT") if method == "HEAD" else (method,)
        for key in keys:
            for m in methods:
                text = f"{m}\n{self.expires}\n{signed_path}".encode()
                mac = hmac.new(key.encode(), text, DIGESTS[digest]).digest()
                if hmac.compare_digest(mac, given):
                    return
        raise Invalid("the signature does not match")


def check_form(path: str, fields: dict[str, str], keys: list[str], at: float | None = None) -> None:
    """Raise `Invalid` unless a form upload's `signature` field is the HMAC, under one of the
    keys, of ``PATH\nREDIRECT\nMAX_FILE_SIZE\nMAX_FILE_COUNT\nEXPIRES`` (Swift's formpost)."""
    text = "\n".join(
        [
            path,
            fields.get("redirect") or "",
            fields.get("max_file_size") or "0",
            fields.get("max_file_count") or "0",
            fields.get("expires") or "0",
        ]
    ).encode()
    digest, given = _signature(fields.get("signature", ""))
    for key in keys:
        mac = hmac.new(key.encode(), text, DIGESTS[digest]).digest()
        if hmac.compare_digest(mac, given):
            return
    raise Invalid("invalid signature")


def _split(path: str) -> tuple[str, str, str]:
    """('/v1/AUTH_x/container', '/', object) of an object path."""
    parts = path.split("/", 4)
    if len(parts) < 5:
        raise Invalid("a temp URL names an object")
    return "/".join(parts[:4]), "/", parts[4]


def _expires(raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    try:
        return calendar.timegm(time.strptime(raw, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise Invalid("temp_url_expires is neither a Unix time nor an ISO 8601 UTC time") from None


def _signature(sig: str) -> tuple[str, bytes]:
    if ":" in sig:
        digest, _, encoded = sig.partition(":")
        if digest not in DIGESTS:
            raise Invalid(f"unsupported digest {digest}")
        try:
            padded = encoded + "=" * (-len(encoded) % 4)
            return digest, base64.urlsafe_b64decode(padded)
        except (binascii.Error, ValueError):
            raise Invalid("the signature is not base64") from None
    digest = HEX_LENGTHS.get(len(sig), "")
    if not digest:
        raise Invalid("the signature has an unknown length")
    try:
        return digest, bytes.fromhex(sig)
    except ValueError:
        raise Invalid("the signature is not hexadecimal") from None
