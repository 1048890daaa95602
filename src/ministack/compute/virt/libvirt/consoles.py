"""Where a running domain's consoles are, read from its live XML (what libvirt chose).

Where it sits: `LibvirtDriver.get_console`, asked by the agent when the compute API makes a
console token. The VNC screen listens on `[console] proxyclient_address` (127.0.0.1 by
default) at a port libvirt picked (autoport); the serial port is a pty (/dev/pts/N) that QEMU
also logs to console.log through virtlogd, so the console log keeps working while a user types
in the web console.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ministack.compute.virt.driver import ConsoleEndpoint, ConsoleUnavailable

LOOPBACK = "127.0.0.1"


def endpoint(xml: str, kind: str) -> ConsoleEndpoint:
    """The `kind` ("vnc" or "serial") console of a live domain XML; ConsoleUnavailable when
    the domain has none (an older domain defined without a screen, or not running)."""
    devices = ET.fromstring(xml).find("devices")
    if devices is None:
        raise ConsoleUnavailable("the guest has no devices")
    if kind == "vnc":
        for graphics in devices.findall("graphics"):
            port = int(graphics.get("port", "-1"))
            if graphics.get("type") == "vnc" and port > 0:
                return ConsoleEndpoint(host=graphics.get("listen", LOOPBACK), port=port)
        raise ConsoleUnavailable("the guest has no VNC screen (started before consoles were on)")
    if kind == "serial":
        for serial in devices.findall("serial"):
            source = serial.find("source")
            path = source.get("path") if source is not None else None
            if serial.get("type") == "pty" and path and path.startswith("/dev/pts/"):
                return ConsoleEndpoint(host=LOOPBACK, port=0, path=path)
        raise ConsoleUnavailable("the guest has no serial pty")
    raise ConsoleUnavailable(f"no {kind} console")
