"""The dashboard's front-end libraries come from npm at install time, not from git: without
them the process refuses to start and says how to install them; `ministack doctor` says so too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cloud import ROOT, make_cloud


def test_missing_assets_stop_the_start_with_the_fix(tmp_path: Path) -> None:
    cloud = make_cloud(
        tmp_path,
        services=("identity", "dashboard"),
        extra_env={"MINISTACK_DASHBOARD_ASSETS_DIR": str(tmp_path / "nothing-here")},
    )
    doctor = cloud.ministack("doctor", check=False).stdout
    assert "dashboard assets" in doctor and "install-dashboard-assets.sh" in doctor
    try:
        with pytest.raises(RuntimeError, match=r"install-dashboard-assets\.sh"):
            cloud.start(timeout=60)
    finally:
        cloud.stop()


def test_no_front_end_library_is_in_the_repository() -> None:
    dashboard = ROOT / "src" / "ministack" / "dashboard"
    assert not list(dashboard.rglob("node_modules"))
    own = {"app.js", "serial.js"}  # the dashboard's own small scripts
    assert not [p for p in dashboard.rglob("*.js") if p.name not in own]
