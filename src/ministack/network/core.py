"""What every network resource's logic shares: the service's handles (settings, database,
agent RPC), visibility, revision numbers with If-Match, and standard-attr tags.

Where it sits: below the API handlers (`api/`) and above the tables (`models.py`); the
resource modules (`networks.py`, `subnets.py`, `ports.py`, ...) build on it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, bindparam, delete, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.db import Database, Reads, utcnow
from ministack.common.rpc.base import Bus
from ministack.config import Settings
from ministack.network import models as m
from ministack.network.rpcapi.agent import NetworkAgentAPI

T = TypeVar("T")
MAX_TAG = 255


@dataclass
class Core:
    settings: Settings
    db: Database
    bus: Bus

    @property
    def agents(self) -> NetworkAgentAPI:
        return NetworkAgentAPI(self.bus)

    @property
    def az(self) -> str:
        return self.settings.network.default_availability_zone


class PreconditionFailed(errors.ApiError):
    status, title, nova_key = 412, "Precondition Failed", "preconditionFailed"


def not_found(kind: str, item_id: str) -> errors.NotFound:
    words = {
        "Network": "Network",
        "Subnet": "Subnet",
        "SubnetPool": "Subnet pool",
        "Port": "Port",
        "SecurityGroup": "Security group",
        "SecurityGroupRule": "Security group rule",
        "Router": "Router",
        "FloatingIP": "Floating IP",
    }
    return errors.NotFound(
        f"{words.get(kind, kind)} {item_id} could not be found.", kind=f"{kind}NotFound"
    )


def network_visible(auth: Auth) -> ColumnElement[bool]:
    """Networks the caller may see: its own, shared and external ones (all for admins)."""
    if auth.reads_all:
        return true()
    return or_(
        m.Network.project_id == (auth.project_id or ""),
        m.Network.shared.is_(True),
        m.Network.external.is_(True),
    )


def own(model: Any, auth: Auth) -> ColumnElement[bool]:
    if auth.reads_all:
        return true()
    if auth.project_id is None:
        return false()
    result: ColumnElement[bool] = model.project_id == auth.project_id
    return result


def if_match(header: str | None, row: Any) -> None:
    """412 when `If-Match: revision_number=N` names another revision than the row's."""
    if not header:
        return
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key != "revision_number":
            continue
        try:
            wanted = int(value)
        except ValueError:
            raise errors.BadRequest(f"Invalid If-Match header {header!r}.") from None
        if wanted != row.revision_number:
            raise PreconditionFailed(
                f"Constrained to {wanted}, but current revision is {row.revision_number}",
                kind="RevisionNumberConstraintFailed",
            )


def touch(row: Any) -> None:
    """One more revision: every update bumps revision_number and updated_at."""
    row.revision_number = (row.revision_number or 0) + 1
    row.updated_at = utcnow()


# built once: building a statement costs more CPU than running it on SQLite
_TAGS = select(m.Tag.resource_id, m.Tag.tag).where(
    m.Tag.resource_id.in_(bindparam("ids", expanding=True))
)


async def tags_of(s: Reads, ids: Iterable[str]) -> dict[str, list[str]]:
    wanted = list(ids)
    out: dict[str, list[str]] = defaultdict(list)
    if not wanted:
        return out
    for row in await s.execute(_TAGS, {"ids": wanted}):
        out[row.resource_id].append(row.tag)
    return out


async def set_tags(s: AsyncSession, resource_id: str, tags: list[str]) -> None:
    await s.execute(delete(m.Tag).where(m.Tag.resource_id == resource_id))
    for tag in dict.fromkeys(tags):
        s.add(m.Tag(resource_id=resource_id, tag=tag))


async def drop_tags(s: AsyncSession, ids: list[str]) -> None:
    if ids:
        await s.execute(delete(m.Tag).where(m.Tag.resource_id.in_(ids)))


def unique(items: list[T]) -> list[T]:
    return list(dict.fromkeys(items))


def trusted(project_id: str | None = None) -> Auth:
    """An admin Auth for trusted in-process callers (other services, the agents), acting for
    `project_id` when given."""
    return Auth(
        user_id="ministack-service",
        user_name="ministack-service",
        user_domain_id="default",
        roles=("admin", "member", "reader", "service"),
        expires_at=dt.datetime.max,
        project_id=project_id,
    )
