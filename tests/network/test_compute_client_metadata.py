"""What the metadata proxy and the DHCP hosts list read from compute: an instance's metadata
(user data decoded from its base64 form) and the hostnames of a set of instances."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

from ministack.common.db import Database, upgrade
from ministack.common.rpc.memory import MemoryBus
from ministack.compute import models as m
from ministack.compute.client import ComputeClient


def instance(hostname: str, **more: object) -> m.Instance:
    return m.Instance(
        uuid=str(uuid.uuid4()),
        display_name=hostname.upper(),
        hostname=hostname,
        project_id="p",
        user_id="u",
        flavor={"name": "m1.tiny"},
        vcpus=1,
        memory_mb=64,
        root_gb=1,
        vm_state="active",
        metadata_={"role": "web"},
        system_metadata={},
        request_spec={},
        security_groups=["default"],
        **more,
    )


async def test_metadata_and_hostnames_of_live_instances(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    web = instance(
        "web",
        user_data=base64.b64encode(b"#!/bin/sh\n").decode(),
        key_name="k",
        key_data="ssh-ed25519 AAAA",
    )
    gone = instance("gone", deleted=True)
    async with db.writer() as s:
        s.add_all([web, gone])
    client = ComputeClient(db, MemoryBus())
    try:
        meta = await client.instance_metadata(web.uuid)
        assert meta is not None
        assert (meta.hostname, meta.name, meta.flavor_name) == ("web", "WEB", "m1.tiny")
        assert meta.user_data == b"#!/bin/sh\n"
        assert meta.metadata == {"role": "web"} and meta.security_groups == ("default",)
        assert await client.instance_metadata(gone.uuid) is None
        assert await client.instance_metadata(str(uuid.uuid4())) is None
        assert await client.hostnames([web.uuid, gone.uuid, "nope"]) == {web.uuid: "web"}
    finally:
        await db.close()
