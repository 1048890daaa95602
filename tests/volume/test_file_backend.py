"""The file backend on its own: private files, copy-on-write snapshots and clones whose data
outlives the names that made them, deletes that leave nothing, and the states table."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ministack import doctor
from ministack.config import Settings, VolumeSection
from ministack.volume import states as st
from ministack.volume.backends import qemuimg
from ministack.volume.backends.base import BackendError
from ministack.volume.backends.file import FileBackend

MiB = 1 << 20


def _write(path: Path, pattern: int) -> None:
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} 0 1M", str(path)],
        check=True,
        capture_output=True,
    )


def _read(path: Path, tmp: Path) -> bytes:
    out = tmp / "out.raw"
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(out)], check=True
    )
    with out.open("rb") as fh:
        data = fh.read(MiB)
    out.unlink()
    return data


def _blocks(root: Path) -> int:
    """Blocks in use under `root`, each inode once (a snapshot is a hard link)."""
    return sum({p.stat().st_ino: p.stat().st_blocks for p in root.iterdir()}.values())


async def test_files_are_private_and_snapshots_copy_nothing(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "volumes")
    assert (tmp_path / "volumes").stat().st_mode & 0o777 == 0o700
    await backend.create_blank("v1", 10)
    path = backend.volume_path("v1")
    assert path.stat().st_mode & 0o777 == 0o600
    _write(path, 0x11)
    before = _blocks(backend.root)
    await backend.create_snapshot("v1", "s1")
    after = _blocks(backend.root)
    assert after - before < 2048  # 1 MiB of 512-byte blocks: the data was not copied
    _write(path, 0x22)
    await backend.create_from_snapshot("v2", "s1", 10)
    await backend.clone("v3", "v1", 10)
    assert _read(backend.volume_path("v2"), tmp_path) == b"\x11" * MiB
    assert _read(backend.volume_path("v3"), tmp_path) == b"\x22" * MiB
    for p in backend.root.iterdir():
        assert p.stat().st_mode & 0o077 == 0, p
    # names go; data stays while a volume reaches it, then goes with the last one
    await backend.delete_snapshot("s1")
    await backend.delete_volume("v1")
    assert _read(backend.volume_path("v2"), tmp_path) == b"\x11" * MiB
    assert _read(backend.volume_path("v3"), tmp_path) == b"\x22" * MiB
    await backend.delete_volume("v2")
    await backend.delete_volume("v3")
    await backend.delete_volume("v3")  # idempotent
    assert list(backend.root.iterdir()) == []


async def test_extend_in_place_and_failures_leave_nothing(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "volumes")
    await backend.create_blank("v1", 1)
    await backend.extend("v1", 3)
    info = await qemuimg.info(backend.volume_path("v1"), "qcow2")
    assert info["virtual-size"] == 3 << 30
    bogus = tmp_path / "bogus"
    bogus.write_bytes(b"not an image")
    with pytest.raises(BackendError):
        await backend.create_from_file("v2", 1, bogus, "qcow2")
    assert not bogus.exists() and not backend.exists("v2")
    with pytest.raises(BackendError):
        await backend.create_snapshot("missing", "s9")
    assert {p.name for p in backend.root.iterdir()} == {"volume-v1"}


async def test_a_crash_between_the_steps_of_a_snapshot_keeps_the_data(tmp_path: Path) -> None:
    """The volume's file is linked as a base before the overlay replaces it: a leftover link
    (as a kill between the two steps leaves it) is collected without touching the data."""
    backend = FileBackend(tmp_path / "volumes")
    await backend.create_blank("v1", 1)
    _write(backend.volume_path("v1"), 0x33)
    (backend.root / "base-leftover").hardlink_to(backend.volume_path("v1"))
    backend.collect()
    assert _read(backend.volume_path("v1"), tmp_path) == b"\x33" * MiB
    await backend.delete_volume("v1")
    assert list(backend.root.iterdir()) == []


def test_every_transitional_state_has_owner_timeout_and_rule() -> None:
    """PROMISES 4: one table; every volume status that is not at rest is in it."""
    at_rest = {
        st.AVAILABLE,
        st.IN_USE,
        st.ERROR,
        st.ERROR_DELETING,
        st.ERROR_EXTENDING,
        st.AWAITING_TRANSFER,
    }
    rows = st.rows("volume")
    for status in (
        st.CREATING,
        st.DOWNLOADING,
        st.DELETING,
        st.EXTENDING,
        st.UPLOADING,
        st.RESERVED,
        st.ATTACHING,
        st.DETACHING,
    ):
        assert status in rows and status not in at_rest
    for row in st.TRANSITIONAL:
        assert row.owner in ("volume manager", "compute host")
        assert row.timeout > 0
        assert row.restart in ("error", "resume_delete", "restore", "error_extending", "keep")
    assert set(st.rows("snapshot")) == {st.CREATING, st.DELETING}


def test_doctor_reports_volume_storage(tmp_path: Path) -> None:
    settings = Settings(volume=VolumeSection(volumes_dir=str(tmp_path / "not" / "yet")))
    check = doctor.volume_storage(settings)
    assert check.name == "volume storage" and "GiB free under" in check.detail
    names = [c.name for c in doctor.run_checks(settings) if c.name.startswith(("qemu-img", "vol"))]
    assert names == ["qemu-img", "volume storage"]


async def test_live_snapshot_copies_and_keeps_the_volume_file(tmp_path: Path) -> None:
    """A forced snapshot of an in-use volume: the file a hypervisor holds is not renamed
    (same inode), the snapshot holds the data of that moment and is private."""
    backend = FileBackend(tmp_path / "volumes")
    await backend.create_blank("v1", 1)
    path = backend.volume_path("v1")
    _write(path, 0x33)
    inode = path.stat().st_ino
    await backend.create_snapshot("v1", "s1", live=True)
    assert path.stat().st_ino == inode
    assert backend.snapshot_path("s1").stat().st_mode & 0o777 == 0o600
    _write(path, 0x44)
    await backend.create_from_snapshot("v2", "s1", 1)
    assert _read(backend.volume_path("v2"), tmp_path) == b"\x33" * MiB
    assert _read(path, tmp_path) == b"\x44" * MiB
