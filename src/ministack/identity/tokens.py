"""Token format: Fernet-encrypted, msgpack-packed payloads (as Keystone's fernet tokens).

A token carries who (user), how (methods), what scope (project, domain, the system or none), when it
expires and an audit id, and the application credential, trust or OAuth1 access token it came
from; nothing else is stored per token. Revocation is by events.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import msgpack
from cryptography.fernet import Fernet, InvalidToken

from ministack.common import files

# appended only: a method's bit in a token is its index here
METHODS = ("password", "token", "application_credential", "ec2credential", "oauth1")
SCOPE_NONE, SCOPE_PROJECT, SCOPE_DOMAIN, SCOPE_SYSTEM = 0, 1, 2, 3
SYSTEM_ALL = "all"  # the one system scope Keystone knows: {"system": {"all": true}}


@dataclass(frozen=True)
class TokenPayload:
    user_id: str
    methods: tuple[str, ...]
    scope_type: int
    scope_id: str | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    audit_id: str
    app_cred_id: str | None = None
    trust_id: str | None = None  # OS-TRUST: user_id is then the trustee
    access_token_id: str | None = None  # OS-OAUTH1: the access token it was issued for


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class TokenCodec:
    """Encodes and decodes tokens with the key in ``<state>/identity/fernet.key``."""

    def __init__(self, key_file: Path) -> None:
        files.private_dir(key_file.parent)
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        self._fernet = Fernet(key_file.read_bytes().strip())

    def encode(self, p: TokenPayload) -> str:
        mask = sum(1 << METHODS.index(m) for m in p.methods)
        packed = msgpack.packb(
            [
                1,
                p.user_id,
                mask,
                p.scope_type,
                p.scope_id,
                int(p.issued_at.timestamp() * 1_000_000),
                int(p.expires_at.timestamp() * 1_000_000),
                p.audit_id,
                p.app_cred_id,
                p.trust_id,
                p.access_token_id,
            ]
        )
        return self._fernet.encrypt(packed).decode().rstrip("=")

    def decode(self, token: str) -> TokenPayload | None:
        """The payload, or None when the token is malformed or was not made with our key."""
        if len(token) > 1024:
            return None
        padded = token + "=" * (-len(token) % 4)
        try:
            raw = self._fernet.decrypt(padded.encode())
            fields = msgpack.unpackb(raw)
            _v, user, mask, stype, sid, issued, expires, audit, app, *rest = fields
        except (InvalidToken, ValueError, TypeError, msgpack.UnpackException):
            return None
        methods = tuple(m for i, m in enumerate(METHODS) if mask & (1 << i))
        return TokenPayload(
            user_id=user,
            methods=methods,
            scope_type=stype,
            scope_id=sid,
            issued_at=_from_us(issued),
            expires_at=_from_us(expires),
            audit_id=audit,
            app_cred_id=app,
            trust_id=rest[0] if rest else None,
            access_token_id=rest[1] if len(rest) > 1 else None,
        )


def _from_us(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1_000_000, dt.UTC).replace(tzinfo=None)
