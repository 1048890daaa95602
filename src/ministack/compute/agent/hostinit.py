"""Starting one host's agent when its hypervisor may not be ready yet (libvirtd down).

Where it sits: `AgentGroup.start` calls `try_start` for each agent. A driver that cannot
initialise (DriverError from `init_host`) does not stop the process: the reason goes into the
host's nova-compute row in the services table (`last_error`), where `ministack status` and
`openstack compute service list` show the host down and why, and the group retries every
`INIT_RETRY` seconds. A later successful start clears `last_error`.
"""

from __future__ import annotations

import logging

from ministack.common.db import Database
from ministack.compute.agent.host import service_row
from ministack.compute.agent.manager import ComputeAgent
from ministack.compute.virt.driver import DriverError

log = logging.getLogger("ministack.compute.agent")
INIT_RETRY = 10.0  # seconds between attempts to start an agent whose driver failed


async def set_last_error(db: Database, host: str, error: str | None) -> None:
    """Record (or clear, with None) why the agent of `host` is not running. Creates the
    service row when the host never registered, so the failure is visible at once."""
    async with db.writer() as s:
        row = await service_row(s, host, create=error is not None)
        if row is not None:
            row.last_error = error


async def try_start(agent: ComputeAgent) -> bool:
    """Start the agent; True when it runs. A DriverError is recorded in the services table
    (and logged) and False returned; other errors propagate (they are bugs, not set-up)."""
    try:
        await agent.start()
    except DriverError as exc:
        message = f"the hypervisor driver could not start: {exc}"
        log.error("compute agent %s: %s (retrying every %.0f s)", agent.host, message, INIT_RETRY)
        await set_last_error(agent.db, agent.host, message)
        return False
    await set_last_error(agent.db, agent.host, None)
    return True
