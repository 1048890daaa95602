"""What a port create reads, in one statement: the network, its subnets, the project's port
quota (own limit and count), its default security group and whether the drawn MAC is taken.

Where it sits: `ports.create` calls `read` first in its write transaction (after the project's
quota lock on PostgreSQL); it replaced five statements (network, quota, MAC check, subnets,
default group) that each cost a round trip to the database's thread or server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.network import models as m
from ministack.network import quotas


@dataclass
class PortContext:
    network: m.Network | None
    subnets: list[m.Subnet]
    own_limit: int | None
    ports_in_use: int
    default_group: str | None
    """The project's default security group; None when it has none yet."""
    mac_taken: bool


def _query() -> Select[Any]:
    """The statement, built once per process (building it cost more CPU than running it);
    the network id, project and MAC are bound per call."""
    project = bindparam("project_id", type_=String)
    network_id = bindparam("network_id", type_=String)
    own_limit, count = quotas.usage_columns(project, "port")
    default = (
        select(m.DefaultSecurityGroup.security_group_id)
        .where(m.DefaultSecurityGroup.project_id == project)
        .scalar_subquery()
    )
    taken = exists().where(
        m.Port.network_id == network_id, m.Port.mac_address == bindparam("mac", type_=String)
    )
    return (
        select(m.Network, m.Subnet, own_limit, count, default, taken)
        .outerjoin(m.Subnet, m.Subnet.network_id == m.Network.id)
        .where(m.Network.id == network_id)
        .order_by(m.Subnet.created_at, m.Subnet.id)
    )


_QUERY = _query()


async def read(s: AsyncSession, network_id: str, project_id: str, mac: str) -> PortContext:
    """One row per subnet of the network (one with no subnet when it has none; none when the
    network does not exist), each carrying the same scalar columns."""
    params = {"network_id": network_id, "project_id": project_id, "mac": mac}
    rows = (await s.execute(_QUERY, params)).all()
    if not rows:
        return PortContext(None, [], None, 0, None, False)
    first = rows[0]
    return PortContext(
        network=first[0],
        subnets=[r[1] for r in rows if r[1] is not None],
        own_limit=first[2],
        ports_in_use=int(first[3]),
        default_group=first[4],
        mac_taken=bool(first[5]),
    )
