"""A server's NICs on its host, during a build: make a port on each requested network (device
owner `compute:<az>`, device id the instance), bind every port to this host (the network agent
then makes the bridge and waits for the tap), describe them for the driver (`Vif`s,
network_data.json) and wait for `network-vif-plugged` of each port once the guest is spawned.

Failure contract: `allocate` leaves the ports it made or bound for `network_info.release` (the
build's undo), which deletes the made ones and unbinds the user's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

from ministack.common import errors
from ministack.compute import instances
from ministack.compute import models as m
from ministack.compute import network_info as ni
from ministack.compute.agent.base import AgentBase, vifs_of
from ministack.compute.instances import Change
from ministack.compute.virt.driver import DriverError, GuestSpec

log = logging.getLogger("ministack.compute.agent")

VIF_PLUGGED = "network-vif-plugged"


class VifPlugTimeout(DriverError):
    """A port's tap was not reported plugged in time (Nova's VirtualInterfaceCreateException)."""


async def allocate(agent: AgentBase, inst: m.Instance) -> list[dict[str, Any]]:
    """Make and bind the requested ports; their info-cache entries, in the requested order."""
    network = agent.deps.network
    requested = ni.requested_of(inst)
    if network is None or not requested:
        return []
    zone = inst.availability_zone or agent.deps.settings.compute.default_availability_zone
    info = []
    for want in requested:
        preserve = "port_id" in want
        if preserve:
            port = await network.get_port(want["port_id"])
            if port.get("device_id") not in ("", inst.uuid):
                raise errors.Conflict(f"Port {port['id']} is still in use.")
        else:
            groups = await network.security_group_ids(
                inst.project_id, list(inst.security_groups or ["default"])
            )
            port = await network.create_port(
                inst.project_id,
                want["network_id"],
                want.get("fixed_ip"),
                device_id=inst.uuid,
                device_owner=f"compute:{zone}",
                security_groups=groups,
            )
        bound = await network.bind_port(port["id"], agent.host, inst.uuid, zone)
        info.append(await ni.describe(network, bound, inst.project_id, preserve=preserve))
    return info


def with_network(spec: GuestSpec, info: list[dict[str, Any]]) -> GuestSpec:
    """`spec` with the ports' vifs and network_data.json."""
    if not info:
        return spec
    return dataclasses.replace(spec, vifs=vifs_of(info), network_data=ni.network_data(info))


async def remember(agent: AgentBase, uuid: str, info: list[dict[str, Any]]) -> None:
    """Write the info cache onto the instance (the API's `addresses` read it)."""
    inst = await instances.get(agent.db, uuid)
    if inst is None:
        return
    sysmeta = {**(inst.system_metadata or {}), ni.INFO_KEY: info}
    await instances.cas(agent.db, uuid, change=Change(system_metadata=sysmeta))


@contextlib.asynccontextmanager
async def plugged(agent: AgentBase, uuid: str, info: list[dict[str, Any]]) -> AsyncIterator[None]:
    """Around the spawn: expect network-vif-plugged for each port (registered first, so an
    early event counts) and, after the block, wait up to `vif_plugging_timeout`. A port still
    unplugged then raises VifPlugTimeout when `vif_plugging_is_fatal`, else is logged.
    Drivers whose guests plug no real taps (Capabilities.plugs_vifs false) wait for nothing."""
    settings = agent.deps.settings.compute
    if not info or not agent.driver.capabilities.plugs_vifs or settings.vif_plugging_timeout <= 0:
        yield
        return
    with agent.events.expect(uuid, VIF_PLUGGED, [e["port_id"] for e in info]) as expected:
        yield
        missing = await expected.wait(settings.vif_plugging_timeout)
    if not missing:
        return
    message = (
        f"Virtual interface creation failed: port {', '.join(missing)} of instance {uuid} "
        f"was not plugged within {settings.vif_plugging_timeout} s (no network-vif-plugged "
        "from the network service; is its agent running on this host?)"
    )
    if settings.vif_plugging_is_fatal:
        raise VifPlugTimeout(message)
    log.warning("%s; booting on", message)


async def rebind(agent: AgentBase, inst: m.Instance) -> None:
    """Bind the instance's ports to this host (a resize or revert moved it here); the info
    cache follows (bridge names do not depend on the host)."""
    network = agent.deps.network
    info = ni.info_of(inst)
    if network is None or not info:
        return
    zone = inst.availability_zone or agent.deps.settings.compute.default_availability_zone
    for entry in info:
        await network.bind_port(entry["port_id"], agent.host, inst.uuid, zone)


async def clear_bindings(agent: AgentBase, inst: m.Instance) -> None:
    """The guest left this host without a new one (shelve offload): clear each port's host
    binding, keeping its device (the server still owns it), as Nova does. Idempotent."""
    network = agent.deps.network
    if network is None:
        return
    for entry in ni.info_of(inst):
        await network.clear_binding(entry["port_id"])


async def refresh(agent: AgentBase, uuid: str) -> None:
    """Re-read the instance's ports from the network service into its info cache
    (network-changed). Entries keep whether the user passed the port in."""
    network = agent.deps.network
    inst = await instances.get(agent.db, uuid)
    if network is None or inst is None:
        return
    preserve = {e["port_id"] for e in ni.info_of(inst) if e.get("preserve")}
    preserve |= {w["port_id"] for w in ni.requested_of(inst) if "port_id" in w}
    info = [
        await ni.describe(network, port, inst.project_id, preserve=port["id"] in preserve)
        for port in await network.list_ports(uuid)
    ]
    await remember(agent, uuid, info)
