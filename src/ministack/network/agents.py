"""Network agents: the rows the hosts' agents (DHCP, metadata, Linux bridge) report into, and
whether each is alive.

Where it sits: `report_agent` is what an agent calls at start and on every heartbeat (the
network service registers no agent itself); `/v2.0/agents` (`api/agents.py`) reads the rows.
An agent is alive when its last heartbeat is younger than [network] agent_down_time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy import select

from ministack.common.db import Database, utcnow
from ministack.network import models as m

DHCP = "DHCP agent"
METADATA = "Metadata agent"
LINUX_BRIDGE = "Linux bridge agent"
TYPES = (DHCP, METADATA, LINUX_BRIDGE)
TOPICS = {DHCP: "dhcp_agent", METADATA: "N/A", LINUX_BRIDGE: "N/A"}


async def report_agent(
    db: Database,
    host: str,
    agent_type: str,
    binary: str,
    configurations: dict[str, Any] | None = None,
    availability_zone: str | None = None,
    start: bool = False,
) -> str:
    """Create or refresh the agent row of (`agent_type`, `host`) with a heartbeat now; with
    `start`, also its started_at. Returns the agent id. Idempotent."""
    now = utcnow()
    async with db.writer() as s:
        query = select(m.Agent).where(m.Agent.agent_type == agent_type, m.Agent.host == host)
        row = (await s.execute(query)).scalar_one_or_none()
        if row is None:
            row = m.Agent(
                id=str(uuid.uuid4()),
                agent_type=agent_type,
                host=host,
                binary=binary,
                topic=TOPICS.get(agent_type, "N/A"),
                availability_zone=availability_zone,
                created_at=now,
                started_at=now,
            )
            s.add(row)
        row.binary = binary
        row.heartbeat_timestamp = now
        if start:
            row.started_at = now
        if configurations is not None:
            row.configurations = orjson.dumps(configurations).decode()
        if availability_zone is not None:
            row.availability_zone = availability_zone
        return row.id


def alive(row: m.Agent, down_after: int, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return (now - row.heartbeat_timestamp).total_seconds() < down_after
