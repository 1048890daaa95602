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

from ministack.network.agent.linux.bridge import EEXIST, Links, remove_link

VXLAN_PREFIX = "vxlan-"
VXLAN_PORT = 4789
FLOOD = "00:00:00:00:00:00"
NUD_PERMANENT = 0x80
NTF_SELF = 0x02
ENOENT = 2


def vxlan_name(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni}"


def ensure_vxlan(lk: Links, vni: int, local_ip: str | None, underlay: str | None, mtu: int) -> int:
    """A VXLAN device for `vni` from `local_ip` over device `underlay`, learning off; returns its
    index. An existing device with another local address is re-made."""
    name = vxlan_name(vni)
    link = lk.get(name)
    if link is not None and local_ip and link.vxlan_local != local_ip:
        remove_link(lk, name)
        link = None
    if link is None:
        spec: dict[str, object] = {
            "ifname": name,
            "kind": "vxlan",
            "vxlan_id": vni,
            "vxlan_port": VXLAN_PORT,
            "vxlan_learning": 0,
        }
        if local_ip:
            spec["vxlan_local"] = local_ip
        if underlay and (dev := lk.get(underlay)) is not None:
            spec["vxlan_link"] = dev.index
        try:
            lk.ipr.link("add", **spec)
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise
        link = lk.reload(name)
        assert link is not None
    if link.mtu != mtu or not link.up:
        lk.ipr.link("set", index=link.index, mtu=mtu, state="up")
        lk.reload(name)
    return link.index


def fdb_table(ipr: IPRoute) -> dict[int, set[tuple[str, str]]]:
    """Device index → its (MAC, remote VTEP) entries, from one dump of the namespace."""
    out: dict[int, set[tuple[str, str]]] = {}
    for msg in ipr.fdb("dump"):
        dst = msg.get_attr("NDA_DST")
        mac = msg.get_attr("NDA_LLADDR")
        if dst and mac:
            out.setdefault(msg["ifindex"], set()).add((mac.lower(), dst))
    return out


def sync_fdb(
    ipr: IPRoute, index: int, wanted: Iterable[tuple[str, str]], have: set[tuple[str, str]]
) -> tuple[int, int]:
    """Make the remote entries of device `index` exactly `wanted` ((MAC, VTEP) pairs; MAC
    00:00:00:00:00:00 floods to that VTEP), given the entries it `have`s. Returns (added,
    removed)."""
    want = {(mac.lower(), ip) for mac, ip in wanted}
    for mac, ip in have - want:
        try:
            ipr.fdb("del", ifindex=index, lladdr=mac, dst=ip)
        except NetlinkError as exc:
            if exc.code != ENOENT:
                raise
    for mac, ip in want - have:
        ipr.fdb("append", ifindex=index, lladdr=mac, dst=ip, state=NUD_PERMANENT)
    return len(want - have), len(have - want)
