"""The fake hypervisor keeps the driver contract: spawn leaves nothing on failure, destroy is
idempotent, delays and failures are data."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ministack.compute.virt.driver import DriverError, GuestNotFound, GuestSpec, PowerState
from ministack.compute.virt.fake import FakeDriver, parse_settings


def spec(uuid: str = "u1") -> GuestSpec:
    return GuestSpec(
        uuid=uuid,
        name="instance-1",
        hostname="vm",
        vcpus=1,
        memory_mb=64,
        root_gb=1,
        image_id="img",
    )


async def test_life_cycle() -> None:
    driver = FakeDriver("h1")
    await driver.spawn(spec())
    assert (await driver.get_info("u1")).power_state == PowerState.RUNNING
    for op, state in (
        ("power_off", PowerState.SHUTDOWN),
        ("power_on", PowerState.RUNNING),
        ("pause", PowerState.PAUSED),
        ("unpause", PowerState.RUNNING),
        ("suspend", PowerState.SUSPENDED),
        ("resume", PowerState.RUNNING),
    ):
        await getattr(driver, op)("u1")
        assert (await driver.get_info("u1")).power_state == state
    assert "vm login:" in await driver.console_log("u1")
    await driver.destroy("u1")
    await driver.destroy("u1")  # idempotent
    with pytest.raises(GuestNotFound):
        await driver.get_info("u1")


async def test_injected_failures_leave_nothing() -> None:
    driver = FakeDriver("h1", fail={"spawn": "disk full"})
    with pytest.raises(DriverError, match="disk full"):
        await driver.spawn(spec())
    assert await driver.list_guests() == []
    driver.configure(fail_once={"spawn": ""})
    with pytest.raises(DriverError, match="fake spawn failure injected on h1"):
        await driver.spawn(spec())
    await driver.spawn(spec())
    assert [g.uuid for g in await driver.list_guests()] == ["u1"]


def test_parse_settings() -> None:
    assert parse_settings("spawn=2.0, destroy") == {"spawn": "2.0", "destroy": ""}
    assert parse_settings("") == {}


async def test_guests_outlive_the_driver_when_given_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "fake-hosts" / "h1.json"
    first = FakeDriver("h1", state_file=state)
    await first.spawn(spec("u1"))
    await first.spawn(spec("u2"))
    await first.power_off("u2")
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    second = FakeDriver("h1", state_file=state)  # the next process of the same host
    assert {g.uuid: g.power_state for g in await second.list_guests()} == {
        "u1": PowerState.RUNNING,
        "u2": PowerState.SHUTDOWN,
    }
    assert "fake: power_off" in await second.console_log("u2")
    await second.destroy("u1")
    await second.destroy("u2")
    assert await FakeDriver("h1", state_file=state).list_guests() == []
    assert [p.name for p in state.parent.iterdir()] == ["h1.json"]  # no temporary left
