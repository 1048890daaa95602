"""Promise 28 on a libvirt host: a guest boots from a private (0700) state directory, and
nothing there — disk, config drive with user data, cached base, console log — is readable by
other local users; the hypervisor's group may only traverse."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ministack.compute.virt.driver import GuestSpec
from ministack.compute.virt.libvirt import LibvirtDriver, LibvirtOptions
from ministack.compute.virt.libvirt.access import hypervisor_gid
from ministack.compute.virt.libvirt.host import PROBE_MARKER, _boot_sector
from tests.e2e.test_libvirt_driver import URI, FileImages, libvirtd  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture
def private_state() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ministack-e2e-private-", dir="/var/tmp"))  # 0700
    old = os.umask(0o077)  # as every `ministack` command runs
    yield path
    os.umask(old)
    shutil.rmtree(path, ignore_errors=True)


async def test_guest_boots_from_private_files(libvirtd: None, private_state: Path) -> None:  # noqa: F811
    base = private_state / "source.raw"
    base.write_bytes(_boot_sector().ljust(1 << 20, b"\0"))
    options = LibvirtOptions(
        instances_path=private_state / "instances",
        image_cache_path=private_state / "imagecache",
        uri=URI,
        virt_type="qemu",
    )
    driver = LibvirtDriver(options, FileImages({"boot": base}))
    await driver.init_host("e2e-perm")
    uuid = "0e2e0000-0000-4000-8000-00000000b28a"
    spec = GuestSpec(
        uuid=uuid,
        name="perm",
        hostname="perm",
        vcpus=1,
        memory_mb=32,
        root_gb=0,
        image_id="boot",
        image_format="raw",
        user_data=b"#!/bin/sh\necho tenant-secret\n",
        admin_password="tenant-admin-pass",
    )
    try:
        await driver.spawn(spec)
        deadline = time.monotonic() + 60
        console = ""
        while time.monotonic() < deadline and PROBE_MARKER.decode() not in console:
            console = await driver.console_log(uuid)
            await asyncio.sleep(0.2)
        assert PROBE_MARKER.decode() in console  # QEMU read the overlay and its cached base
        gid = hypervisor_gid()
        loose = []
        for path in [private_state, *private_state.rglob("*")]:
            st = path.lstat()
            if path == base or stat.S_ISLNK(st.st_mode):
                continue
            other = st.st_mode & 0o007
            group = st.st_mode & 0o070
            if (
                other
                or (group and st.st_gid != gid)
                or (stat.S_ISDIR(st.st_mode) and group & 0o060)
            ):
                loose.append(f"{path.relative_to(private_state)} {stat.filemode(st.st_mode)}")
        assert loose == []
        instance = private_state / "instances" / uuid
        for name in ("disk", "disk.config", "console.log"):
            assert (instance / name).stat().st_mode & 0o007 == 0, name
    finally:
        await driver.destroy(uuid)
