"""qemu-img runs capped (PROMISES 20): 30 s of CPU and 2 GiB of address space.

Every qemu-img call of the libvirt driver goes through `disks.run`; these run a small Python
child through it instead of qemu-img, to read the limits it got and to hit one of them.
"""

from __future__ import annotations

import sys

import pytest

from ministack.compute.virt.driver import DriverError
from ministack.compute.virt.libvirt import disks

GiB = 1024**3
READ_LIMITS = (
    "import resource; "
    "print(*resource.getrlimit(resource.RLIMIT_CPU), *resource.getrlimit(resource.RLIMIT_AS))"
)


async def test_children_get_30_s_of_cpu_and_2_gib_of_address_space() -> None:
    out = await disks.run(sys.executable, "-c", READ_LIMITS)
    assert [int(n) for n in out.split()] == [30, 30, 2 * GiB, 2 * GiB]


async def test_a_child_that_wants_more_memory_fails() -> None:
    with pytest.raises(DriverError, match="MemoryError"):
        await disks.run(sys.executable, "-c", f"bytearray({3 * GiB})")
