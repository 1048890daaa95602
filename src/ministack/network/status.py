"""The network service's RPC endpoint (topic "network"): what the hosts' agents report.

When an agent has wired a port up on its host it reports ACTIVE; the port's status is
recorded and, for an instance's port, compute hears `network-vif-plugged` (as Neutron's Nova
notifier sends it), so a build waiting for its VIFs goes on.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, or_, update

from ministack.common.db import Database, utcnow
from ministack.common.rpc.base import Bus
from ministack.common.rpc.payload import receives
from ministack.compute.client import ComputeClient
from ministack.network import models as m
from ministack.network.rpcapi.server import FloatingIPStatus, PortStatus

log = logging.getLogger("ministack.network")
STATUSES = ("ACTIVE", "DOWN", "ERROR", "BUILD")
ROUTER_LEGS = ("network:router_interface", "network:router_gateway")
"""Router ports stay unbound (no binding:host_id): the network node that runs the router
reports them."""


class NetworkServerEndpoint:
    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    @receives(PortStatus)
    async def port_status(self, report: PortStatus) -> None:
        """Record the port's status; an ACTIVE instance port sends compute
        network-vif-plugged. A report about a port gone or bound elsewhere is ignored (an
        unbound router port is taken from whichever host runs its router)."""
        if report.status not in STATUSES:
            log.warning("port %s: unknown status %r ignored", report.port_id, report.status)
            return
        async with self.db.writer() as s:
            done = await s.execute(
                update(m.Port)
                .where(
                    m.Port.id == report.port_id,
                    or_(
                        m.Port.host == report.host,
                        and_(m.Port.host == "", m.Port.device_owner.in_(ROUTER_LEGS)),
                    ),
                )
                .values(status=report.status, updated_at=utcnow())
                .returning(m.Port.device_id, m.Port.device_owner)
            )
            row = done.first()
        if row is None:
            log.info(
                "port %s: status from %s ignored (not bound there)", report.port_id, report.host
            )
            return
        device_id, device_owner = row
        if report.status == "ACTIVE" and device_owner.startswith("compute:") and device_id:
            await ComputeClient(self.db, self.bus).external_event(
                device_id, "network-vif-plugged", report.port_id
            )

    @receives(FloatingIPStatus)
    async def floatingip_status(self, report: FloatingIPStatus) -> None:
        """Record a floating IP's status as the router's host applied it (ACTIVE while it is
        associated through that router; DOWN once its NAT is gone)."""
        if report.status not in ("ACTIVE", "DOWN"):
            return
        async with self.db.writer() as s:
            query = update(m.FloatingIP).where(
                m.FloatingIP.floating_ip_address == report.floating_ip_address
            )
            if report.status == "ACTIVE":
                query = query.where(
                    m.FloatingIP.router_id == report.router_id,
                    m.FloatingIP.fixed_ip_address.is_not(None),
                )
            else:
                query = query.where(m.FloatingIP.fixed_ip_address.is_(None))
            await s.execute(query.values(status=report.status, updated_at=utcnow()))
