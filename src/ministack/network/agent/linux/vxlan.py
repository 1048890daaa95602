"""Unicast VXLAN devices with L2 population: no multicast group, no learning.

One device per VXLAN network (`vxlan-<VNI>`, as Neutron names them), enslaved to the network's
bridge. Its forwarding database holds, for every other host with ports on the network, an
all-zero entry (broadcast, unknown unicast and multicast are copied to that host) and one entry
per remote port's MAC address (sent straight to the host that has it).
"""

from __future__ import annotations

from collections.abc import Iterable

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ministack.network.agent.linux.bridge import EEXIST, lookup

VXLAN_PREFIX = "vxlan-"
VXLAN_PORT = 4789
FLOOD = "00:00:00:00:00:00"
NUD_PERMANENT = 0x80
NTF_SELF = 0x02
ENOENT = 2


def vxlan_name(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni}"


def ensure_vxlan(
    ipr: IPRoute, vni: int, local_ip: str | None, underlay: str | None, mtu: int
) -> int:
    """A VXLAN device for `vni` from `local_ip` over device `underlay`, learning off; returns its
    index. An existing device with another local address is re-made."""
    name = vxlan_name(vni)
    index = lookup(ipr, name)
    if index is not None and local_ip and _local(ipr, index) != local_ip:
        ipr.link("del", index=index)
        index = None
    if index is None:
        spec: dict[str, object] = {
            "ifname": name,
            "kind": "vxlan",
            "vxlan_id": vni,
            "vxlan_port": VXLAN_PORT,
            "vxlan_learning": 0,
        }
        if local_ip:
            spec["vxlan_local"] = local_ip
        if underlay and (dev := lookup(ipr, underlay)) is not None:
            spec["vxlan_link"] = dev
        try:
            ipr.link("add", **spec)
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise
        index = lookup(ipr, name)
        assert index is not None
    ipr.link("set", index=index, mtu=mtu, state="up")
    return index


def _local(ipr: IPRoute, index: int) -> str | None:
    info = ipr.get_links(index)[0].get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    return data.get_attr("IFLA_VXLAN_LOCAL") if data is not None else None


def fdb_entries(ipr: IPRoute, index: int) -> set[tuple[str, str]]:
    """The (MAC, remote VTEP) entries of device `index` that point at a remote host."""
    out: set[tuple[str, str]] = set()
    for msg in ipr.fdb("dump", ifindex=index):
        if msg["ifindex"] != index:
            continue
        dst = msg.get_attr("NDA_DST")
        mac = msg.get_attr("NDA_LLADDR")
        if dst and mac:
            out.add((mac.lower(), dst))
    return out


def sync_fdb(ipr: IPRoute, index: int, wanted: Iterable[tuple[str, str]]) -> tuple[int, int]:
    """Make the remote entries of device `index` exactly `wanted` ((MAC, VTEP) pairs; MAC
    00:00:00:00:00:00 floods to that VTEP). Returns (added, removed)."""
    want = {(mac.lower(), ip) for mac, ip in wanted}
    have = fdb_entries(ipr, index)
    for mac, ip in have - want:
        try:
            ipr.fdb("del", ifindex=index, lladdr=mac, dst=ip)
        except NetlinkError as exc:
            if exc.code != ENOENT:
                raise
    for mac, ip in want - have:
        ipr.fdb("append", ifindex=index, lladdr=mac, dst=ip, state=NUD_PERMANENT)
    return len(want - have), len(have - want)
