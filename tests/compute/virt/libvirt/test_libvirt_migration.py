"""The pure parts of a libvirt live migration (virt/libvirt/migration.py): the destination's
domain XML and the disks the migration copies."""

from __future__ import annotations

from pathlib import Path

from ministack.compute.virt.libvirt.migration import dest_xml, incoming_data, local_disks

SOURCE = Path("/srv/a/instances/u1")
XML = f"""<domain type='kvm'>
  <uuid>u1</uuid>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os><kernel>/srv/a/cache/kernel1</kernel></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='{SOURCE}/disk'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='{SOURCE}/disk.eph0'/><target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='{SOURCE}/disk.config'/><target dev='hda' bus='ide'/><readonly/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/srv/volumes/v1'/><target dev='vdc' bus='virtio'/>
    </disk>
    <serial type='pty'><log file='{SOURCE}/console.log' append='on'/></serial>
  </devices>
</domain>"""


def test_dest_xml_moves_the_instance_and_cache_paths_and_drops_the_partition() -> None:
    moves = {str(SOURCE): "/srv/b/instances/u1", "/srv/a/cache": "/srv/b/cache/"}
    out = dest_xml(XML, moves)
    assert "/srv/a/" not in out
    assert "<source file='/srv/b/instances/u1/disk'/>" in out
    assert "<log file='/srv/b/instances/u1/console.log' append='on'/>" in out
    assert "<kernel>/srv/b/cache/kernel1</kernel>" in out
    assert "/srv/volumes/v1" in out  # not the instance's: left alone
    assert "<resource>" not in out and "partition" not in out
    assert "<uuid>u1</uuid>" in out


def test_only_the_writable_disks_of_the_instance_directory_are_copied() -> None:
    assert local_disks(XML, SOURCE) == ["vda", "vdb"]
    assert local_disks(XML, Path("/srv/a/instances/u")) == []  # a prefix, not its directory


def test_incoming_data_names_the_uri_and_paths() -> None:
    data = incoming_data("qemu:///system", Path("/srv/b/instances/u1"), Path("/srv/b/cache"))
    assert data == {
        "uri": "qemu:///system",
        "instance_dir": "/srv/b/instances/u1",
        "image_cache": "/srv/b/cache",
    }
