"""Diagnostics read from a real libvirt connection: libvirt's built-in test driver
(test:///default) holds a running domain with one disk (vda) and one interface (testnet0)
whose counters it reports like a hypervisor would."""

from __future__ import annotations

import libvirt

from ministack.compute.virt.driver import PowerState
from ministack.compute.virt.libvirt import diagnostics
from ministack.compute.virt.libvirt.driver import _STATES


def test_counters_of_the_test_driver_domain() -> None:
    conn = libvirt.open("test:///default")
    try:
        domain = conn.lookupByName("test")
        found = diagnostics.read(domain, "qemu", True, _STATES)
        assert (found.state, found.driver, found.hypervisor) == ("running", "libvirt", "qemu")
        assert found.config_drive is True
        _state, max_kib, current_kib, vcpus, _cpu = domain.info()
        assert (found.memory_kib, found.memory_used_kib) == (max_kib, current_kib)
        assert [c.id for c in found.cpus] == list(range(vcpus))
        assert all(c.time_ns is not None and c.time_ns > 0 for c in found.cpus)
        (disk,) = found.disks
        assert disk.device == "vda" and disk.read_bytes is not None
        (nic,) = found.nics
        assert (nic.device, nic.mac_address) == ("testnet0", "aa:bb:cc:dd:ee:ff")
        assert nic.rx_octets is not None and nic.tx_packets is not None
        domain.suspend()
        assert diagnostics.read(domain, "qemu", False, _STATES).state == "paused"
        assert _STATES[libvirt.VIR_DOMAIN_PAUSED] is PowerState.PAUSED
    finally:
        conn.close()
