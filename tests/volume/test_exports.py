"""NbdExports on its own: an export serves the volume's data only to a client holding the
attachment's key, `ensure` is idempotent (same port and key), a dead daemon is served again by
`reconcile` on its port while a stale export is removed, and `remove` leaves nothing. And
`ministack doctor` looks for qemu-storage-daemon."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from ministack import doctor
from ministack.common import storagedaemon as qsd
from ministack.config import Settings
from ministack.volume.exports import NbdExports


def _volume(tmp: Path, name: str = "x") -> Path:
    path = tmp / f"volume-{name}"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1G"], check=True)
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 64k", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _read(info: dict[str, Any], tmp: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    d = info["data"]
    opts = f"driver=nbd,server.type=inet,server.host={d['host']},server.port={d['port']}"
    opts += f",export={d['name']}"
    argv = ["qemu-io", "-r"]
    if key is not None:
        creds = tmp / uuid.uuid4().hex
        creds.mkdir()
        (creds / "keys.psk").write_text(f"{d['auth_username']}:{key}\n")
        argv += [
            "--object",
            f"tls-creds-psk,id=t,endpoint=client,dir={creds},username={d['auth_username']}",
        ]
        opts += ",tls-creds=t"
    argv += ["--image-opts", "-c", "read -P 0x33 0 64k", opts]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


async def test_export_needs_the_key_and_leaves_nothing(tmp_path: Path) -> None:
    exports = NbdExports(tmp_path / "exports", "127.0.0.1")
    path = _volume(tmp_path)
    info = await exports.ensure("att-1", "x", path)
    key = info["data"]["auth_password"]
    try:
        assert info["driver_volume_type"] == "nbd"
        assert _read(info, tmp_path, key).returncode == 0
        assert _read(info, tmp_path, None).returncode != 0
        assert _read(info, tmp_path, qsd.new_key()).returncode != 0
        assert await exports.ensure("att-1", "x", path) == info

        # the daemon died (a reboot): reconcile serves it again on the same port and key,
        # and removes the export of an attachment that is gone
        directory = exports.directory("att-1")
        pid = qsd.running(directory)
        assert pid is not None
        subprocess.run(["kill", "-9", str(pid)], check=True)
        other = await exports.ensure("att-2", "y", _volume(tmp_path, "y"))
        assert other["data"]["port"] != info["data"]["port"]
        await exports.reconcile(["att-1", "att-2"], {"att-1"})
        assert exports.attachment_ids() == ["att-1"]
        assert qsd.running(directory) not in (None, pid)
        assert _read(info, tmp_path, key).returncode == 0
    finally:
        await exports.remove("att-1")
        await exports.remove("att-2")
    assert list((tmp_path / "exports").iterdir()) == []
    assert _read(info, tmp_path, key).returncode != 0


def test_doctor_looks_for_qemu_storage_daemon() -> None:
    (check,) = [c for c in doctor.run_checks(Settings()) if c.name == "qemu-storage-daemon"]
    assert check.ok and check.detail.endswith("qemu-storage-daemon"), check
