"""The config drive: an ISO 9660 volume labelled config-2, as cloud-init's ConfigDrive reads it.

Where it sits: `LibvirtDriver.spawn` writes one per instance (when `GuestSpec.config_drive`)
into the instance directory and attaches it as a read-only CD-ROM. The guest finds it by its
label and reads openstack/latest/{meta_data.json, user_data, network_data.json,
vendor_data.json, vendor_data2.json}. Built in pure Python with pycdlib (ISO 9660 level 4,
Joliet and Rock Ridge, so names keep their case in every reader); no genisoimage needed.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path

import pycdlib

from ministack.compute.virt.driver import GuestSpec
from ministack.compute.virt.libvirt import access

LABEL = "config-2"
VERSION_DIR = "openstack/latest"
RANDOM_SEED_BYTES = 512


def meta_data(spec: GuestSpec, random_seed: bytes = b"") -> dict[str, object]:
    """The meta_data.json document of the OpenStack metadata format for `spec`."""
    data: dict[str, object] = {
        "uuid": spec.uuid,
        "name": spec.name,
        "hostname": spec.hostname,
        "launch_index": 0,
        "availability_zone": spec.availability_zone,
        "project_id": spec.project_id,
        "meta": dict(spec.metadata),
        "public_keys": dict(spec.public_keys),
        "keys": [
            {"name": name, "type": "ssh", "data": key} for name, key in spec.public_keys.items()
        ],
        "devices": [],
    }
    if random_seed:
        data["random_seed"] = base64.b64encode(random_seed).decode()
    if spec.admin_password:
        data["admin_pass"] = spec.admin_password
    return data


def config_drive_files(spec: GuestSpec, random_seed: bytes = b"") -> dict[str, bytes]:
    """Every file of the config drive, by path inside the volume. Pure."""
    network: Mapping[str, object] = spec.network_data or {
        "links": [],
        "networks": [],
        "services": [],
    }
    files = {
        f"{VERSION_DIR}/meta_data.json": _json(meta_data(spec, random_seed)),
        f"{VERSION_DIR}/network_data.json": _json(dict(network)),
        f"{VERSION_DIR}/vendor_data.json": _json({}),
        f"{VERSION_DIR}/vendor_data2.json": _json({}),
    }
    if spec.user_data:
        files[f"{VERSION_DIR}/user_data"] = spec.user_data
    return files


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True).encode()


def write_config_drive(spec: GuestSpec, dest: Path) -> None:
    """Write the config drive of `spec` to `dest` (an ISO image file).

    Atomic: the image is written to a temporary file beside `dest` and renamed, so on error
    nothing is left at `dest` (the exception propagates).
    """
    files = config_drive_files(spec, os.urandom(RANDOM_SEED_BYTES))
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    made: set[str] = set()
    for path in sorted(files):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            directory = "/" + "/".join(parts[:depth])
            if directory not in made:
                iso.add_directory(directory, rr_name=parts[depth - 1], joliet_path=directory)
                made.add(directory)
        content = files[path]
        iso.add_fp(
            io.BytesIO(content),
            len(content),
            "/" + path,
            rr_name=parts[-1],
            joliet_path="/" + path,
        )
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        # 0640 before a byte is written: it holds user data and admin_pass
        access.create_shared_file(partial)
        with partial.open("r+b") as out:
            iso.write_fp(out)
        os.replace(partial, dest)
    finally:
        iso.close()
        partial.unlink(missing_ok=True)


def read_config_drive(path: Path) -> dict[str, bytes]:
    """The files of a config drive by path (for tests and diagnostics), read with pycdlib."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        found: dict[str, bytes] = {}
        for root, _dirs, names in iso.walk(rr_path="/"):
            for name in names:
                full = f"{root.rstrip('/')}/{name}"
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=full)
                found[full.lstrip("/")] = out.getvalue()
        return found
    finally:
        iso.close()


def volume_label(path: Path) -> str:
    """The ISO 9660 volume identifier of an image (config-2 for a config drive)."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        label: bytes = iso.pvd.volume_identifier
        return label.decode().strip()
    finally:
        iso.close()
