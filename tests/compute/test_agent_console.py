"""The agent's get_console (compute/agent/manager.py): a driver without the console, or a
guest that has none, is an answer the API turns into a 400 — never an exception (a 500)."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from ministack.compute.agent.base import AgentDeps
from ministack.compute.agent.manager import ComputeAgent
from ministack.compute.rpcapi.agent import ConsoleAnswer, ConsoleRequest
from ministack.compute.virt.driver import GuestSpec
from ministack.compute.virt.fake import FakeDriver

UUID = "6f1c3a0e-1111-4222-8333-944455556666"


async def _agent(**capabilities: bool) -> tuple[ComputeAgent, FakeDriver]:
    driver = FakeDriver("h1")
    driver.capabilities = dataclasses.replace(driver.capabilities, **capabilities)
    spec = GuestSpec(
        uuid=UUID, name="vm", hostname="vm", vcpus=1, memory_mb=64, root_gb=1, image_id=None
    )
    await driver.spawn(spec)
    return ComputeAgent(host="h1", driver=driver, deps=cast(AgentDeps, None)), driver


async def _ask(agent: ComputeAgent, kind: str) -> ConsoleAnswer:
    wire: Any = await agent.get_console(ConsoleRequest(UUID, kind).to_wire())  # type: ignore[arg-type]
    return ConsoleAnswer.from_wire(wire)


async def test_a_driver_without_the_capability_answers_unavailable() -> None:
    agent, driver = await _agent(console_url=False)
    try:
        answer = await _ask(agent, "vnc")
        assert answer.unavailable == "this host's driver has no vnc console"
        serial = await _ask(agent, "serial")
        assert serial.unavailable is None and serial.host == "127.0.0.1" and serial.port > 0
    finally:
        await driver.destroy(UUID)


async def test_a_stopped_guest_answers_unavailable() -> None:
    agent, driver = await _agent()
    try:
        await driver.power_off(UUID)
        answer = await _ask(agent, "vnc")
        assert answer.unavailable is not None and "not running" in answer.unavailable
        assert (await _ask(agent, "spice")).unavailable == "this host's driver has no spice console"
    finally:
        await driver.destroy(UUID)
