"""Container ACLs (X-Container-Read / X-Container-Write) as Swift's keystoneauth reads them.

An ACL is a comma-separated list of: ``.r:*`` (any referrer, even without a token: public
read), ``.r:<host>`` and ``.r:-<host>`` (referrer allow/deny), ``.rlistings`` (the public may
also list), ``<project>:<user>`` (ids, or names in the default domain; ``*`` for any), and a
role name (any token with that role on any project).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from ministack.common.auth import Auth

MAX_ACL_LENGTH = 4096


@dataclass(frozen=True)
class Acl:
    referrers: tuple[str, ...] = ()
    listings: bool = False
    grants: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Acl:
        referrers: list[str] = []
        grants: list[str] = []
        listings = False
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            if item.startswith((".r:", ".ref:", ".referer:", ".referrer:")):
                referrers.append(item.split(":", 1)[1].strip())
            elif item in (".rlistings", ".rlisting"):
                listings = True
            elif not item.startswith("."):
                grants.append(item)
        return cls(tuple(referrers), listings, tuple(grants))

    def referrer_allowed(self, referer: str | None) -> bool:
        """Swift's referrer_allowed: the last matching entry wins; `*` matches every request."""
        host = urlparse(referer).hostname or "" if referer else ""
        allowed = False
        for entry in self.referrers:
            deny = entry.startswith("-")
            pattern = entry[1:] if deny else entry
            if (
                pattern == "*"
                or (host and pattern == host)
                or (host and pattern.startswith(".") and host.endswith(pattern))
            ):
                allowed = not deny
        return allowed

    def grants_user(self, auth: Auth) -> bool:
        for grant in self.grants:
            if ":" not in grant:
                if grant in auth.roles:
                    return True
                continue
            project, user = (part.strip() for part in grant.split(":", 1))
            project_ok = project == "*" or project in (auth.project_id, auth.project_name)
            user_ok = user == "*" or user in (auth.user_id, auth.user_name)
            if project_ok and user_ok and auth.project_id is not None:
                return True
        return False


def valid(text: str) -> str | None:
    """Why the ACL text is refused, or None when it is acceptable."""
    if len(text) > MAX_ACL_LENGTH:
        return f"ACL is longer than {MAX_ACL_LENGTH} characters."
    for raw in text.split(","):
        item = raw.strip()
        if item.startswith(".") and not (
            item.split(":", 1)[0] in (".r", ".ref", ".referer", ".referrer")
            or item in (".rlistings", ".rlisting")
        ):
            return f"Unknown ACL element {item!r}."
        if item.startswith(".r") and ":" in item and not item.split(":", 1)[1].strip():
            return f"Referrer element {item!r} names no host."
    return None
