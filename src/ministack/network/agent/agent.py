"""The network agent of one host: it serves RPC topic "network-agent" (fanout) and keeps the
host's data plane equal to what the database says.

Request flow: the network API commits a change and casts `port_changed`/`network_changed`/...
(`rpcapi/agent.py`) → every host's agent re-derives its desired state (`DesiredSource`) and
reconciles the network concerned in a worker thread (`reconcile.py`) → ports whose tap is now
in its bridge are reported ACTIVE to the network service (`rpcapi/server.py`), which tells
compute `network-vif-plugged`. A tap a hypervisor plugs is seen at once through netlink's link
events (`linux/watch.py`). A full pass runs at start (re-sync after a restart or reboot) and
every `resync_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from ministack.common.rpc.base import RpcError
from ministack.common.rpc.payload import receives
from ministack.network.agent.desired import HostNetworks, PortSpec
from ministack.network.agent.linux.bridge import tap_name
from ministack.network.agent.linux.metadata_proxy import MetadataProxy
from ministack.network.agent.linux.watch import LinkWatcher
from ministack.network.agent.metadata import MetadataService, Signer, instance_ports
from ministack.network.agent.reconcile import HostConfig, Outcome, Reconciler
from ministack.network.rpcapi.agent import GroupRef, NetworkRef, PortRef, RouterRef

log = logging.getLogger("ministack.network.agent")

AGENT_TYPES = ("Linux bridge agent", "DHCP agent", "Metadata agent")
BINARIES = {
    "Linux bridge agent": "neutron-linuxbridge-agent",
    "DHCP agent": "neutron-dhcp-agent",
    "Metadata agent": "neutron-metadata-agent",
}


class DesiredSource(Protocol):
    async def host_networks(self, host: str) -> HostNetworks:
        """What `host` must hold now (read from the database)."""


class StatusSink(Protocol):
    async def port_status(self, port_id: str, host: str, status: str, reason: str = "") -> None:
        """Tell the network service a port's data-plane status on `host`."""

    async def floatingip_status(self, address: str, router_id: str, status: str) -> None:
        """Tell the network service a floating IP's NAT is in place (ACTIVE) or gone (DOWN)."""


class Reporter(Protocol):
    async def __call__(self, host: str, agent_type: str, binary: str, alive: bool) -> None:
        """Record one agent's heartbeat (the /v2.0/agents table)."""


@dataclass
class Heartbeat:
    host: str
    agent_type: str
    binary: str
    last_seen: float


class NetworkAgent:
    """One host's agent: an RPC endpoint plus the re-sync loop."""

    def __init__(
        self,
        config: HostConfig,
        source: DesiredSource,
        status: StatusSink | None,
        metadata: MetadataService,
        signer: Signer,
        reporter: Reporter | None = None,
        resync_interval: float = 30.0,
    ) -> None:
        self.config = config
        self.source = source
        self.status = status
        self.reporter = reporter
        self.resync_interval = resync_interval
        self.reconciler = Reconciler(config)
        self.proxy = MetadataProxy(metadata, signer, self.identify)
        self.desired = HostNetworks(config.host)
        self.reported: dict[str, str] = {}
        self.floating: set[tuple[str, str]] = set()
        """(floating IP, router id) pairs reported ACTIVE."""
        self.heartbeats: dict[str, Heartbeat] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._pending: set[str] = set()
        self._wiring: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.watcher = LinkWatcher(config.host_netns, self._tap_seen)

    @property
    def host(self) -> str:
        return self.config.host

    async def start(self) -> None:
        """Re-sync the whole host, then keep it in step. Serve RPC after this returns."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.watcher.start)
        await self.sync()
        self._task = asyncio.create_task(self._resync(), name=f"network-agent {self.host}")

    async def stop(self, *, clean: bool = False) -> None:
        """Stop the loop and the metadata listeners; `clean` also removes the data plane
        (tests and decommissioning; a normal stop leaves guests connected)."""
        await asyncio.to_thread(self.watcher.stop)
        tasks = [*self._wiring, *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.proxy.stop()
        if clean:
            await asyncio.to_thread(self.reconciler.remove_all)

    def _tap_seen(self, tap: str, master: int) -> None:
        """From the link watcher's thread: a tap appeared or changed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wire_tap, tap, master)

    def _wire_tap(self, tap: str, master: int) -> None:
        """Re-sync the network of a local port whose tap just appeared (or is still not
        reported ACTIVE); taps of ports not bound here yet wait for their port_changed."""
        for net in self.desired.networks:
            for port in self.desired.local_ports(net):
                if tap_name(port.port_id) != tap:
                    continue
                if master and self.reported.get(port.port_id) == "ACTIVE":
                    return
                if net.network_id not in self._pending:
                    self._pending.add(net.network_id)
                    task = asyncio.create_task(self._wire(net.network_id))
                    self._wiring.add(task)
                    task.add_done_callback(self._wiring.discard)
                return

    async def _wire(self, network_id: str) -> None:
        self._pending.discard(network_id)
        try:
            await self.sync_network(network_id)
        except Exception:
            log.exception("network agent %s: wiring network %s failed", self.host, network_id)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_interval)
            try:
                await self.sync()
            except Exception:
                log.exception("network agent %s: re-sync failed", self.host)

    async def heartbeat(self) -> None:
        now = time.time()
        for agent_type in AGENT_TYPES:
            beat = Heartbeat(self.host, agent_type, BINARIES[agent_type], now)
            self.heartbeats[agent_type] = beat
            if self.reporter is not None:
                await self.reporter(self.host, agent_type, beat.binary, True)

    async def sync(self) -> Outcome:
        """A full pass: derive, reconcile the whole host, report. Idempotent."""
        async with self._lock:
            self.desired = await self.source.host_networks(self.host)
            outcome = await asyncio.to_thread(self.reconciler.apply, self.desired)
            await self._after(outcome, full=True)
        await self.heartbeat()
        return outcome

    async def sync_network(self, network_id: str) -> Outcome:
        """Reconcile one network only (after an RPC message about it)."""
        async with self._lock:
            self.desired = await self.source.host_networks(self.host)
            outcome = await asyncio.to_thread(
                self.reconciler.apply_network, self.desired, network_id
            )
            await self._after(outcome, full=False)
        return outcome

    async def sync_firewall(self) -> Outcome:
        """Re-derive and apply only the security groups (a rule or membership changed)."""
        async with self._lock:
            self.desired = await self.source.host_networks(self.host)
            return await asyncio.to_thread(self.reconciler.apply_firewall, self.desired)

    async def _after(self, outcome: Outcome, *, full: bool) -> None:
        dhcp = {
            n.network_id
            for n in self.desired.networks
            if n.dhcp_port is not None and n.served_subnets()
        }
        for network_id in dhcp:
            if outcome.dhcp.get(network_id) == "started":
                # a new dnsmasq may mean a new namespace: the old listener's socket is in the
                # one that was removed
                await self.proxy.remove(network_id)
            if network_id not in outcome.errors and (full or network_id in outcome.dhcp):
                try:
                    ns = self.config.dhcp_namespace(network_id)
                    await self.proxy.ensure(network_id, ns)
                except OSError:
                    log.exception("metadata proxy for network %s did not start", network_id)
        for network_id in list(self.proxy.servers):
            if network_id not in dhcp:
                await self.proxy.remove(network_id)
        await self._report(outcome)
        await self._report_floating(outcome)

    async def _report(self, outcome: Outcome) -> None:
        """Tell the network service each change: ACTIVE once a port's tap is in its bridge,
        DOWN when an ACTIVE port's tap went away. A report the bus refused is retried on the
        next pass."""
        failed = {
            p.port_id: outcome.errors[n.network_id]
            for n in self.desired.networks
            if n.network_id in outcome.errors
            for p in self.desired.local_ports(n)
        }
        for port_id, reason in failed.items():
            if self.reported.get(port_id) != "ERROR" and self.status is not None:
                self.reported[port_id] = "ERROR"
                with contextlib.suppress(RpcError):
                    await self.status.port_status(port_id, self.host, "ERROR", reason[:255])
        for port_id, wired in outcome.wired.items():
            status = "ACTIVE" if wired else "DOWN"
            before = self.reported.get(port_id)
            if before == status:
                continue
            self.reported[port_id] = status
            if self.status is None or (not wired and before != "ACTIVE"):
                continue
            try:
                await self.status.port_status(port_id, self.host, status)
            except RpcError as exc:
                log.warning("port %s status %s not reported: %s", port_id, status, exc)
                self.reported.pop(port_id, None)
        local = self._reported_ports()
        for port_id in set(self.reported) - local:
            del self.reported[port_id]

    def _reported_ports(self) -> set[str]:
        """The ports this host reports on: its guests' ports, its DHCP ports and the legs of
        the routers it runs."""
        out = {p.port_id for n in self.desired.networks for p in self.desired.local_ports(n)}
        out |= {n.dhcp_port.port_id for n in self.desired.networks if n.dhcp_port is not None}
        for r in self.desired.routers:
            out |= {leg.port_id for leg in (*r.interfaces, *([r.gateway] if r.gateway else []))}
        return out

    async def _report_floating(self, outcome: Outcome) -> None:
        """ACTIVE for each floating IP whose router was made; DOWN for those taken out."""
        if self.status is None:
            return
        now = {
            (fip, r.router_id)
            for r in self.desired.routers
            if r.router_id not in outcome.errors
            for fip, _ in r.floating
        }
        for address, router_id in sorted(now - self.floating):
            with contextlib.suppress(RpcError):
                await self.status.floatingip_status(address, router_id, "ACTIVE")
        for address, router_id in sorted(self.floating - now):
            with contextlib.suppress(RpcError):
                await self.status.floatingip_status(address, router_id, "DOWN")
        self.floating = now

    def identify(self, network_id: str, address: str) -> tuple[str, tuple[PortSpec, ...]] | None:
        """(network, source address) → (instance id, its ports); None for an unknown source."""
        net = next((n for n in self.desired.networks if n.network_id == network_id), None)
        port = net.port_by_ip(address) if net is not None else None
        if port is None or not port.device_id or port.device_owner.startswith("network:"):
            return None
        return port.device_id, instance_ports(self.desired.networks, port.device_id)

    # RPC endpoint: topic "network-agent" (fanout), see network/rpcapi/agent.py

    @receives(NetworkRef)
    async def network_changed(self, ref: NetworkRef) -> None:
        await self.sync_network(ref.network_id)

    @receives(NetworkRef)
    async def network_deleted(self, ref: NetworkRef) -> None:
        await self.sync_network(ref.network_id)

    @receives(PortRef)
    async def port_changed(self, ref: PortRef) -> None:
        await self.sync_network(ref.network_id)

    @receives(PortRef)
    async def port_deleted(self, ref: PortRef) -> None:
        await self.sync_network(ref.network_id)

    @receives(GroupRef)
    async def security_group_changed(self, ref: GroupRef) -> None:
        await self.sync_firewall()

    @receives(RouterRef)
    async def router_changed(self, ref: RouterRef) -> None:
        await self.sync()
