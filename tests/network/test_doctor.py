"""`ministack doctor`'s network checks: kernel support tried in a throwaway namespace (left
behind by nothing), and the bridge firewall check with its fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyroute2 import netns

from ministack import doctor
from ministack.config import DatabaseSection, Settings


def test_kernel_support_is_probed_in_a_namespace_that_goes_away() -> None:
    if os.geteuid() != 0:
        pytest.fail("the probe needs root")
    before = set(netns.listnetns())
    check = doctor.network_kernel(Settings())
    assert check.ok, check.detail
    assert "VXLAN" in check.detail
    assert set(netns.listnetns()) == before


def test_every_network_check_is_listed_and_says_how_to_fix_a_failure() -> None:
    assert doctor.network_kernel in doctor.CHECKS and doctor.bridge_firewall in doctor.CHECKS
    check = doctor.bridge_firewall(Settings())
    assert check.ok or "sysctl -w net.bridge.bridge-nf-call-iptables=0" in check.fix


def test_dnsmasq_is_checked_and_its_absence_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = [c(Settings()) for c in doctor.CHECKS if c.__qualname__.startswith("_tool")]
    assert "dnsmasq" in [c.name for c in found]
    (dnsmasq_check,) = [c for c in doctor.CHECKS if c(Settings()).name == "dnsmasq"]
    monkeypatch.setattr(doctor.shutil, "which", lambda _name: None)
    monkeypatch.setattr(doctor.os.path, "exists", lambda _path: False)
    missing = dnsmasq_check(Settings())
    assert not missing.ok
    assert missing.fix == "apt-get install -y dnsmasq-base"


def test_the_database_check_creates_no_database(tmp_path: Path) -> None:
    """A doctor run before `ministack init` reports the missing SQLite file, and leaves none."""
    missing = tmp_path / "state" / "ministack.db"
    settings = Settings(database=DatabaseSection(url=f"sqlite:///{missing}"))
    check = doctor.database(settings)
    assert not check.ok and "ministack init" in check.fix
    assert not missing.exists() and not missing.parent.exists()
