"""Interface attach and detach on this host (os-interface): the API calls over RPC and waits
for the answer.

Attach: the user's port (checked free) or a new one on the network, bound to this host, then
hot-plugged by the driver and waited for (network-vif-plugged, as a build waits); the info
cache gains the entry. Each step pushes its undo on an AsyncExitStack, so a failure leaves the
server and the ports as they were. Detach: unplug, then delete the port compute made or unbind
the user's, and drop the entry.
"""

from __future__ import annotations

import contextlib
import logging

from ministack.common import errors
from ministack.compute import instances, states
from ministack.compute import network_info as ni
from ministack.compute.agent import networking
from ministack.compute.agent.base import AgentBase, vifs_of
from ministack.compute.rpcapi.agent import InterfaceAnswer, InterfaceAttach, InterfaceDetach
from ministack.compute.virt.driver import DriverError

log = logging.getLogger("ministack.compute.agent")

ATTACHABLE = (states.ACTIVE, states.PAUSED, states.STOPPED, states.SUSPENDED)


async def attach(agent: AgentBase, req: InterfaceAttach) -> InterfaceAnswer:
    """Attach and plug one NIC; never raises (the answer says what went wrong)."""
    try:
        async with agent.locks[req.instance_uuid]:
            return InterfaceAnswer(port_id=await _attach(agent, req))
    except errors.ApiError as exc:
        return InterfaceAnswer(error=exc.message, status=exc.status)
    except DriverError as exc:
        return InterfaceAnswer(error=f"Failed to attach network adapter device: {exc}", status=500)


async def _attach(agent: AgentBase, req: InterfaceAttach) -> str:
    network, uuid = agent.deps.network, req.instance_uuid
    inst = await instances.get(agent.db, uuid)
    if inst is None or inst.host != agent.host:
        raise errors.NotFound(f"Instance {uuid} could not be found.")
    if network is None:
        raise errors.Conflict("There is no network service in this cloud.")
    if inst.vm_state not in ATTACHABLE or inst.task_state is not None:
        raise errors.Conflict(
            f"Cannot 'attach_interface' instance {uuid} while it is in vm_state "
            f"{inst.vm_state}, task_state {inst.task_state}"
        )
    zone = inst.availability_zone or agent.deps.settings.compute.default_availability_zone
    async with contextlib.AsyncExitStack() as undo:
        if req.port_id:
            port = await network.get_port(req.port_id, inst.project_id)
            if port.get("device_id"):
                raise errors.Conflict(f"Port {req.port_id} is still in use.")
            undo.push_async_callback(network.unbind_port, req.port_id)
        else:
            port = await network.create_port(
                inst.project_id,
                str(req.network_id),
                req.fixed_ip,
                device_id=uuid,
                device_owner=f"compute:{zone}",
            )
            undo.push_async_callback(network.delete_port, port["id"])
        bound = await network.bind_port(port["id"], agent.host, uuid, zone)
        entry = await ni.describe(network, bound, inst.project_id, preserve=bool(req.port_id))
        (vif,) = vifs_of([entry])
        async with networking.plugged(agent, uuid, [entry]):
            await agent.driver.attach_interface(uuid, vif)
            undo.push_async_callback(agent.driver.detach_interface, uuid, vif)
        await networking.remember(agent, uuid, [*ni.info_of(inst), entry])
        undo.pop_all()
    return str(port["id"])


async def detach(agent: AgentBase, req: InterfaceDetach) -> InterfaceAnswer:
    """Unplug one NIC and release its port; never raises."""
    uuid = req.instance_uuid
    try:
        async with agent.locks[uuid]:
            inst = await instances.get(agent.db, uuid)
            entries = ni.info_of(inst) if inst is not None else []
            entry = next((e for e in entries if e["port_id"] == req.port_id), None)
            if inst is None or entry is None:
                raise errors.NotFound(f"Port {req.port_id} is not attached")
            (vif,) = vifs_of([entry])
            await agent.driver.detach_interface(uuid, vif)
            await networking.remember(agent, uuid, [e for e in entries if e is not entry])
            network = agent.deps.network
            if network is not None:
                if entry.get("preserve"):
                    await network.unbind_port(req.port_id)
                else:
                    await network.delete_port(req.port_id)
    except errors.ApiError as exc:
        return InterfaceAnswer(error=exc.message, status=exc.status)
    except DriverError as exc:
        return InterfaceAnswer(error=f"Failed to detach network adapter device: {exc}", status=500)
    return InterfaceAnswer(port_id=req.port_id)
