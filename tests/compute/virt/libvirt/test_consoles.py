"""Where a live domain's consoles are (compute/virt/libvirt/consoles.py): pure, no libvirt."""

from __future__ import annotations

import pytest

from ministack.compute.virt.driver import ConsoleEndpoint, ConsoleUnavailable
from ministack.compute.virt.libvirt.consoles import endpoint

LIVE = """<domain type='qemu'><devices>
  <serial type='pty'><source path='/dev/pts/7'/><log file='/x/console.log' append='on'/>
    <target type='isa-serial' port='0'/></serial>
  <console type='pty' tty='/dev/pts/7'><source path='/dev/pts/7'/>
    <target type='serial' port='0'/></console>
  <graphics type='vnc' port='5903' autoport='yes' listen='127.0.0.1'>
    <listen type='address' address='127.0.0.1'/></graphics>
</devices></domain>"""


def test_vnc_and_serial_of_a_live_domain() -> None:
    assert endpoint(LIVE, "vnc") == ConsoleEndpoint(host="127.0.0.1", port=5903)
    assert endpoint(LIVE, "serial") == ConsoleEndpoint(host="127.0.0.1", port=0, path="/dev/pts/7")


@pytest.mark.parametrize(
    ("xml", "kind"),
    [
        ("<domain><devices/></domain>", "vnc"),  # defined before consoles were on
        ("<domain><devices/></domain>", "serial"),
        # not started: libvirt has not chosen the port (-1) nor made the pty
        ("<domain><devices><graphics type='vnc' port='-1'/></devices></domain>", "vnc"),
        ("<domain><devices><serial type='pty'/></devices></domain>", "serial"),
        # a serial device that is not a pty is never handed to the proxy
        (
            "<domain><devices><serial type='file'><source path='/etc/shadow'/></serial>"
            "</devices></domain>",
            "serial",
        ),
        (LIVE, "spice"),
    ],
)
def test_no_console_is_unavailable(xml: str, kind: str) -> None:
    with pytest.raises(ConsoleUnavailable):
        endpoint(xml, kind)
