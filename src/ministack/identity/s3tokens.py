"""Keystone's ``/v3/s3tokens``: the object store's S3 API sends the string it computed from an
S3 request (signature V4 or V2), the access key and the signature; identity signs the string
with the EC2 secret it keeps and, when the signatures match, issues a token for the
credential's project. The secret never leaves identity. Used by the API route and by the
in-process client (`identity.client.LocalS3Signatures`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ministack.common import errors
from ministack.identity import models as m
from ministack.identity.core import LOGIN_FAILED, IdentityCore, TokenInfo
from ministack.identity.credentials import EC2, ec2_blob, ec2_id
from ministack.identity.tokens import SCOPE_PROJECT

SERVICES = (b"s3", b"iam", b"sts")


def signature_of(secret: str, string_to_sign: bytes) -> str:
    """The signature an S3 client makes over `string_to_sign` with `secret` (as Keystone's
    s3tokens computes it): V4 when the string starts with AWS4-HMAC-SHA256, else V2."""
    if string_to_sign.startswith(b"AWS4-HMAC-SHA256"):
        parts = string_to_sign.split(b"\n")
        scope = parts[2].split(b"/") if len(parts) == 4 else []
        if len(scope) != 4 or scope[3] != b"aws4_request" or scope[2] not in SERVICES:
            raise errors.Unauthorized("Invalid EC2 signature.")
        key = ("AWS4" + secret).encode()
        for part in scope:
            key = hmac.new(key, part, hashlib.sha256).digest()
        return hmac.new(key, string_to_sign, hashlib.sha256).hexdigest()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def s3_token(
    core: IdentityCore, access: str, string_to_sign: bytes, signature: str
) -> TokenInfo:
    """A token for the project of EC2 credential `access` when `signature` is its secret's
    signature of `string_to_sign`; 401 otherwise (unknown key, mismatch, disabled user)."""
    async with core.db.session() as s:
        cred = await s.get(m.Credential, ec2_id(access))
        if cred is None or cred.type != EC2 or not cred.project_id:
            raise errors.Unauthorized(LOGIN_FAILED)
        secret = str(ec2_blob(core.credentials.decrypt(cred.encrypted_blob)).get("secret", ""))
        expected = signature_of(secret, string_to_sign)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise errors.Unauthorized("The request signature we calculated does not match.")
        user = await core._enabled_user(s, cred.user_id)
    if user is None:
        raise errors.Unauthorized(LOGIN_FAILED)
    return await core.issue(user, ("ec2credential",), (SCOPE_PROJECT, cred.project_id))
