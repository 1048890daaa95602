"""Linux bridges, veth pairs and taps on one host namespace, over netlink.

One bridge per network (`brq` + the network id's first 11 characters, as Neutron's Linux bridge
agent names them); it carries no address, so the host itself is not on any tenant network.
Functions take an open `IPRoute` on the host's namespace and are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def links(ipr: IPRoute) -> dict[str, Link]:
    """Every link of the namespace by name."""
    out: dict[str, Link] = {}
    for msg in ipr.get_links():
        info = msg.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else ""
        name = msg.get_attr("IFLA_IFNAME")
        out[name] = Link(
            index=msg["index"],
            name=name,
            kind=kind or "",
            master=msg.get_attr("IFLA_MASTER") or 0,
            mtu=msg.get_attr("IFLA_MTU") or 0,
            up=bool(msg["flags"] & 1),
            mac=msg.get_attr("IFLA_ADDRESS") or "",
        )
    return out


def lookup(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(ipr: IPRoute, name: str, mtu: int) -> int:
    """A bridge `name`, up, with `mtu`, no STP and no forwarding delay; returns its index."""
    index = lookup(ipr, name)
    if index is None:
        try:
            ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise
        index = lookup(ipr, name)
        assert index is not None
    ipr.link("set", index=index, mtu=mtu, state="up")
    return index


def enslave(ipr: IPRoute, device: str, bridge: int, mtu: int) -> bool:
    """Put `device` into bridge index `bridge`, up, with `mtu`; False when it does not exist."""
    index = lookup(ipr, device)
    if index is None:
        return False
    try:
        ipr.link("set", index=index, master=bridge, mtu=mtu, state="up")
    except NetlinkError as exc:
        if exc.code == ENODEV:
            return False
        raise
    return True


def remove_link(ipr: IPRoute, name: str) -> None:
    """Delete link `name` (a veth takes its peer along). Succeeds when it is absent."""
    index = lookup(ipr, name)
    if index is None:
        return
    try:
        ipr.link("del", index=index)
    except NetlinkError as exc:
        if exc.code != ENODEV:
            raise


def ensure_veth(ipr: IPRoute, name: str, peer: str, peer_netns: str, mac: str) -> None:
    """A veth pair: `name` here, `peer` in namespace `peer_netns` with address `mac`.
    When `name` exists with no peer in place it is re-made."""
    if lookup(ipr, name) is not None:
        return
    ipr.link(
        "add",
        ifname=name,
        kind="veth",
        peer={"ifname": peer, "net_ns_fd": peer_netns, "address": mac},
    )
