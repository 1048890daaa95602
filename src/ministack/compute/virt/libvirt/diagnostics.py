"""Server diagnostics from libvirt: one running domain's vCPU times, memory, and the
counters of each disk and interface its XML names (libvirt's vcpus, info, blockStats and
interfaceStats). Runs in the driver's libvirt thread; a counter libvirt cannot read is None
rather than a failure, so one detached device does not hide the rest."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import libvirt

from ministack.compute.virt.driver import (
    POWER_STATE_NAMES,
    CpuStats,
    Diagnostics,
    DiskStats,
    NicStats,
    PowerState,
)


def _devices(domain: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """The disk targets (vda, ...) and (tap, mac) of each interface, from the live XML."""
    root = ElementTree.fromstring(domain.XMLDesc(0))
    disks = [
        target.get("dev", "")
        for target in root.findall("./devices/disk/target")
        if target.get("dev")
    ]
    nics = []
    for iface in root.findall("./devices/interface"):
        target, mac = iface.find("target"), iface.find("mac")
        if target is not None and target.get("dev"):
            nics.append((target.get("dev", ""), mac.get("address", "") if mac is not None else ""))
    return disks, nics


def _cpus(domain: Any, count: int) -> tuple[CpuStats, ...]:
    try:
        infos = domain.vcpus()[0]
    except libvirt.libvirtError:
        return tuple(CpuStats(id=i) for i in range(count))
    return tuple(CpuStats(id=int(n), time_ns=int(t)) for n, _state, t, _cpu in infos)


def _disk(domain: Any, device: str) -> DiskStats:
    try:
        rd_req, rd_bytes, wr_req, wr_bytes, errors = domain.blockStats(device)
    except libvirt.libvirtError:
        return DiskStats(device=device)
    return DiskStats(device, rd_bytes, rd_req, wr_bytes, wr_req, errors)


def _nic(domain: Any, device: str, mac: str) -> NicStats:
    try:
        rx, rx_pkts, rx_errs, rx_drop, tx, tx_pkts, tx_errs, tx_drop = domain.interfaceStats(device)
    except libvirt.libvirtError:
        return NicStats(device=device, mac_address=mac)
    return NicStats(device, mac, rx, rx_errs, rx_drop, rx_pkts, tx, tx_errs, tx_drop, tx_pkts)


def read(
    domain: Any, virt_type: str, config_drive: bool, states: dict[int, PowerState]
) -> Diagnostics:
    """The diagnostics of `domain` (a libvirt virDomain); `states` maps libvirt's domain
    states to Nova's power states. Raises libvirt.libvirtError when the domain is gone."""
    state, max_kib, current_kib, vcpus, _cpu_time = domain.info()
    disks, nics = _devices(domain)
    return Diagnostics(
        state=POWER_STATE_NAMES[states.get(state, PowerState.NOSTATE)],
        driver="libvirt",
        hypervisor=virt_type,
        hypervisor_os="linux",
        uptime=None,
        config_drive=config_drive,
        memory_kib=int(max_kib),
        memory_used_kib=int(current_kib),
        cpus=_cpus(domain, int(vcpus)),
        disks=tuple(_disk(domain, d) for d in disks),
        nics=tuple(_nic(domain, d, mac) for d, mac in nics),
    )
