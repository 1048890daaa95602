"""The config drive: ISO 9660 labelled config-2 in cloud-init's ConfigDrive layout."""

from __future__ import annotations

import json
from pathlib import Path

from ministack.compute.virt.driver import GuestSpec
from ministack.compute.virt.libvirt.configdrive import (
    read_config_drive,
    volume_label,
    write_config_drive,
)

SPEC = GuestSpec(
    uuid="6f1c3a0e-1111-4222-8333-944455556666",
    name="vm one",
    hostname="vm1",
    vcpus=1,
    memory_mb=128,
    root_gb=1,
    image_id="img",
    user_data=b"#!/bin/sh\necho USERDATA-RAN\n",
    metadata={"role": "web"},
    public_keys={"mykey": "ssh-ed25519 AAAAC3Nza test@host"},
    admin_password="s3cret",
    project_id="proj",
    network_data={"links": [{"id": "tap1", "type": "phy"}], "networks": [], "services": []},
)


def test_config_drive_contents(tmp_path: Path) -> None:
    iso = tmp_path / "disk.config"
    write_config_drive(SPEC, iso)
    assert volume_label(iso) == "config-2"
    files = read_config_drive(iso)
    assert set(files) == {
        "openstack/latest/meta_data.json",
        "openstack/latest/user_data",
        "openstack/latest/network_data.json",
        "openstack/latest/vendor_data.json",
        "openstack/latest/vendor_data2.json",
    }
    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta["uuid"] == SPEC.uuid
    assert meta["hostname"] == "vm1"
    assert meta["name"] == "vm one"
    assert meta["public_keys"] == {"mykey": "ssh-ed25519 AAAAC3Nza test@host"}
    assert meta["keys"] == [
        {"name": "mykey", "type": "ssh", "data": "ssh-ed25519 AAAAC3Nza test@host"}
    ]
    assert meta["meta"] == {"role": "web"}
    assert meta["admin_pass"] == "s3cret"
    assert meta["project_id"] == "proj"
    assert len(meta["random_seed"]) > 600
    assert files["openstack/latest/user_data"] == SPEC.user_data
    network = json.loads(files["openstack/latest/network_data.json"])
    assert network["links"][0]["id"] == "tap1"
    assert json.loads(files["openstack/latest/vendor_data2.json"]) == {}
    assert not list(tmp_path.glob(".*partial"))


def test_no_user_data_no_file(tmp_path: Path) -> None:
    spec = GuestSpec(
        uuid="u", name="n", hostname="n", vcpus=1, memory_mb=64, root_gb=0, image_id=None
    )
    iso = tmp_path / "cd.iso"
    write_config_drive(spec, iso)
    files = read_config_drive(iso)
    assert "openstack/latest/user_data" not in files
    assert json.loads(files["openstack/latest/network_data.json"])["links"] == []
