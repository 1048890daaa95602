"""The agent's half of a volume-backed rebuild waits for the volume service's volume-reimaged
event (Nova's reimage_timeout_per_gb): an event that never comes, a failed one and a refused
re-image each raise ReimageFailed with a message that names the volume and the cause."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

import pytest

from ministack import config
from ministack.common import errors
from ministack.compute import models as m
from ministack.compute.agent import root_volume
from ministack.compute.agent.base import AgentBase, AgentDeps
from ministack.compute.virt.fake import FakeDriver
from ministack.volume.client import VolumeApi


def agent(timeout_per_gb: int) -> AgentBase:
    settings = config.load(env={})
    compute = dataclasses.replace(settings.compute, reimage_timeout_per_gb=timeout_per_gb)
    deps = cast(
        AgentDeps,
        dataclasses.make_dataclass("Deps", ["settings"])(
            dataclasses.replace(settings, compute=compute)
        ),
    )
    return AgentBase("h1", FakeDriver("h1"), deps)


class Volumes:
    """The two calls the wait makes: the volume (its size, its fault) and the re-image."""

    def __init__(self, a: AgentBase, answer: str | None, refuse: bool = False) -> None:
        self.agent, self.answer, self.refuse = a, answer, refuse

    async def get(self, project_id: str, volume_id: str) -> dict[str, Any]:
        return {"id": volume_id, "size": 2, "status": "reserved", "fault": "disk full"}

    async def reimage(self, project_id: str, volume_id: str, image_id: str) -> None:
        if self.refuse:
            raise errors.BadRequest("Invalid volume: status must be available")
        if self.answer is not None:
            deliver = self.agent.events.deliver
            asyncio.get_running_loop().call_soon(
                deliver, "u1", root_volume.EVENT, volume_id, self.answer
            )


def _bdm() -> m.BlockDeviceMapping:
    return m.BlockDeviceMapping(volume_id="v1", project_id="p1", device_name="/dev/vda")


async def _run(a: AgentBase, volumes: Volumes) -> None:
    await root_volume._reimage_held(a, cast(VolumeApi, volumes), "u1", _bdm(), "img")


async def test_completed_event_ends_the_wait() -> None:
    a = agent(3600)
    await _run(a, Volumes(a, "completed"))
    assert a.events.waiting == {}


async def test_no_event_in_time_fails_naming_the_volume() -> None:
    a = agent(0)
    with pytest.raises(root_volume.ReimageFailed, match="Volume v1 was not re-imaged within 0 s"):
        await _run(a, Volumes(a, None))
    assert a.events.waiting == {}


async def test_failed_event_fails_with_the_volume_fault() -> None:
    a = agent(3600)
    with pytest.raises(root_volume.ReimageFailed, match="Re-image of volume v1 failed: disk full"):
        await _run(a, Volumes(a, "failed"))


async def test_refused_reimage_fails_with_the_reason() -> None:
    a = agent(3600)
    with pytest.raises(root_volume.ReimageFailed, match="refused to re-image volume v1: Invalid"):
        await _run(a, Volumes(a, None, refuse=True))
