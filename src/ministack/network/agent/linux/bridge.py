"""Linux bridges, veth pairs and taps on one host namespace, over netlink.

One bridge per network (`brq` + the network id's first 11 characters, as Neutron's Linux bridge
agent names them); it carries no address, so the host itself is not on any tenant network.
Functions take an open `IPRoute` on the host's namespace and are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

BRIDGE_PREFIX = "brq"
TAP_PREFIX = "tap"
NS_DEV_PREFIX = "ns-"
ENODEV = 19
EEXIST = 17


def bridge_name(network_id: str) -> str:
    return BRIDGE_PREFIX + network_id[:11]


def tap_name(port_id: str) -> str:
    return TAP_PREFIX + port_id[:11]


def ns_dev_name(port_id: str) -> str:
    """The DHCP port's end inside its namespace (Neutron: `ns-` + port id[:11])."""
    return NS_DEV_PREFIX + port_id[:11]


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str
    master: int
    mtu: int
    up: bool
    mac: str
    vxlan_local: str | None = None
    nf_call: bool = False
    """A bridge whose IPv4/IPv6 frames pass the inet hooks (br_netfilter), where security
    groups are enforced."""


def _parse(msg: Any) -> Link:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = (info.get_attr("IFLA_INFO_KIND") if info is not None else "") or ""
    local = None
    nf_call = False
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    if kind == "vxlan":
        local = data.get_attr("IFLA_VXLAN_LOCAL") if data is not None else None
    if kind == "bridge" and data is not None:
        nf_call = bool(data.get_attr("IFLA_BR_NF_CALL_IPTABLES")) and bool(
            data.get_attr("IFLA_BR_NF_CALL_IP6TABLES")
        )
    return Link(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        master=msg.get_attr("IFLA_MASTER") or 0,
        mtu=msg.get_attr("IFLA_MTU") or 0,
        up=bool(msg["flags"] & 1),
        mac=msg.get_attr("IFLA_ADDRESS") or "",
        vxlan_local=local,
        nf_call=nf_call,
    )


def links(ipr: IPRoute) -> dict[str, Link]:
    """Every link of the namespace by name."""
    return {link.name: link for link in map(_parse, ipr.get_links())}


class Links:
    """One pass's view of a namespace's links: a single dump, then kept current by the changes
    made through it (a lookup per link would cost a request each; pyroute2's link_lookup even
    dumps every link per call)."""

    def __init__(self, ipr: IPRoute, *, dump: bool = True) -> None:
        """`dump=False`: start empty and ask the kernel per name on first use (cheaper when a
        pass touches a few links of a host that has many)."""
        self.ipr = ipr
        self.complete = dump
        self.by_name = links(ipr) if dump else {}

    def load(self) -> None:
        """Dump every link now (kept current from here on like a dumping start)."""
        self.by_name = links(self.ipr)
        self.complete = True

    def get(self, name: str) -> Link | None:
        if name in self.by_name or self.complete:
            return self.by_name.get(name)
        return self.reload(name)

    def reload(self, name: str) -> Link | None:
        """Ask the kernel for `name` again (it may have appeared or changed since the dump)."""
        try:
            found = self.ipr.link("get", ifname=name)
        except NetlinkError as exc:
            if exc.code != ENODEV:
                raise
            found = []
        if not found:
            self.by_name.pop(name, None)
            return None
        link = _parse(found[0])
        self.by_name[name] = link
        return link


def lookup(ipr: IPRoute, name: str) -> int | None:
    """The index of link `name`, or None (one request the kernel answers by name)."""
    try:
        found = ipr.link("get", ifname=name)
    except NetlinkError as exc:
        if exc.code == ENODEV:
            return None
        raise
    return int(found[0]["index"]) if found else None


def ensure_bridge(lk: Links, name: str, mtu: int) -> int:
    """A bridge `name`, up, with `mtu`, no STP and no forwarding delay, its IP frames passed
    to the inet hooks of its namespace only (per bridge: the host's other bridges are left as
    they are); returns its index."""
    link = lk.get(name)
    if link is None:
        try:
            lk.ipr.link(
                "add",
                ifname=name,
                kind="bridge",
                br_stp_state=0,
                br_forward_delay=0,
                br_nf_call_iptables=1,
                br_nf_call_ip6tables=1,
            )
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise
        link = lk.reload(name)
        assert link is not None
    if not link.nf_call:
        lk.ipr.link(
            "set", index=link.index, kind="bridge", br_nf_call_iptables=1, br_nf_call_ip6tables=1
        )
        link = lk.reload(name) or link
    if link.mtu != mtu or not link.up:
        lk.ipr.link("set", index=link.index, mtu=mtu, state="up")
        lk.reload(name)
    return link.index


def mapped_bridge(lk: Links, name: str) -> int:
    """The index of the existing bridge `name` a physical network is mapped to. It is never
    made, re-sized or removed here; only its IP frames are passed to its namespace's inet
    hooks (where security groups are enforced) when they are not yet."""
    link = lk.get(name)
    if link is None or link.kind != "bridge":
        raise RuntimeError(f"bridge {name} (bridge_mappings) is missing or not a bridge")
    if not link.nf_call:
        lk.ipr.link(
            "set", index=link.index, kind="bridge", br_nf_call_iptables=1, br_nf_call_ip6tables=1
        )
        lk.reload(name)
    return link.index


def enslave(lk: Links, device: str, bridge: int, mtu: int) -> bool:
    """Put `device` into bridge index `bridge`, up, with `mtu`; False when it does not exist."""
    link = lk.get(device) or lk.reload(device)
    if link is None:
        return False
    if link.master == bridge and link.up and link.mtu == mtu:
        return True
    try:
        lk.ipr.link("set", index=link.index, master=bridge, mtu=mtu, state="up")
    except NetlinkError as exc:
        if exc.code == ENODEV:
            lk.by_name.pop(device, None)
            return False
        raise
    lk.reload(device)
    return True


def remove_link(lk: Links, name: str) -> None:
    """Delete link `name` (a veth takes its peer along). Succeeds when it is absent."""
    link = lk.get(name)
    if link is None:
        return
    try:
        lk.ipr.link("del", index=link.index)
    except NetlinkError as exc:
        if exc.code != ENODEV:
            raise
    lk.by_name.pop(name, None)


def ensure_veth(lk: Links, name: str, peer: str, peer_netns: str, mac: str) -> None:
    """A veth pair: `name` here, `peer` in namespace `peer_netns` with address `mac`."""
    if lk.get(name) is not None:
        return
    lk.ipr.link(
        "add",
        ifname=name,
        kind="veth",
        peer={"ifname": peer, "net_ns_fd": peer_netns, "address": mac},
    )
    lk.reload(name)
