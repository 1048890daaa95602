"""Who may see and change metadefs (Glance's defaults): admin manages everything; a reader of
any project reads public namespaces and its own project's private ones. A namespace the caller
may not see is 404, never 403, so its existence is not revealed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.image import policies
from ministack.image.metadefs.models import MetadefNamespace


def visible(auth: Auth, ns: MetadefNamespace) -> bool:
    return auth.is_admin or ns.visibility == "public" or ns.owner == auth.project_id


def enforce_read(auth: Auth, action: str) -> None:
    """403 unless `image:<action>` (image/policies.py) lets the caller read metadefs."""
    policies.authorize(auth, action, auth.project_id)


def enforce_write(auth: Auth, action: str) -> None:
    """403 unless `image:<action>` (image/policies.py) lets the caller change metadefs."""
    policies.authorize(auth, action, auth.project_id)


async def find_namespace(s: AsyncSession, auth: Auth, name: str) -> MetadefNamespace:
    """The namespace if the caller may see it; 404 otherwise."""
    ns = (
        await s.execute(select(MetadefNamespace).where(MetadefNamespace.namespace == name))
    ).scalar_one_or_none()
    if ns is None or not visible(auth, ns):
        raise errors.NotFound(f"Metadata definition namespace={name} was not found.")
    return ns


def refuse_if_protected(ns: MetadefNamespace, what: str) -> None:
    """403 for deleting from (or deleting) a protected namespace, as Glance answers."""
    if ns.protected:
        raise errors.Forbidden(
            f"{what} in namespace {ns.namespace} cannot be deleted because the namespace is "
            "protected; set protected to false first."
        )
