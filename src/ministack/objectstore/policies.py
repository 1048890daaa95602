"""The object service's access defaults, as Swift's keystoneauth middleware decides them.

keystoneauth has no policy file: a token with an operator role (``admin``, ``member``) on the
account's project owns the account; a reader there (or a system reader) may read it; the
reseller admin (here: the ``admin`` role) may act on every account and set account quotas.
Everyone else gets only what a container ACL or a temp URL grants (`acl.py`, `tempurl.py`).
"""

from __future__ import annotations

from typing import Final

from ministack.common import policy
from ministack.common.auth import Auth
from ministack.common.policy import ADMIN, PROJECT_MEMBER_OR_ADMIN, PROJECT_READER_OR_ADMIN

RULES: Final[dict[str, str]] = {
    "operate_account": PROJECT_MEMBER_OR_ADMIN,
    "read_account": PROJECT_READER_OR_ADMIN,
    "reseller_admin": ADMIN,
}


def allows(auth: Auth, action: str, project_id: str) -> bool:
    """True when the rule's default admits the caller on the account of `project_id`."""
    return policy.check(auth, RULES[action], {"project_id": project_id})
