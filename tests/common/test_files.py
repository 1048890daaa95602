"""common/files.py: private files get their mode before their content, atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ministack.common import files


def test_write_private_is_0600_whatever_the_umask_and_atomic(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    old = os.umask(0o000)
    try:
        files.write_private(target, "one")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        target.chmod(0o644)  # a file an older version left readable is replaced, not reused
        files.write_private(target, b"two")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_write_private_failure_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    files.write_private(target, "kept")
    with pytest.raises(TypeError):
        files.write_private(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_private_dir_tightens_only_when_asked_and_never_a_shared_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    files.private_dir(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o755
    files.private_dir(state, tighten=True)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    files.private_dir(shared, tighten=True)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    fresh = files.private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(fresh.stat().st_mode) & 0o077 == 0
