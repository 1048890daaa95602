from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.network.dataplane import Lab


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("the data-plane tests make namespaces and bridges: run them as root")
    lab = Lab(tmp_path)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()
