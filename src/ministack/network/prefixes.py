"""Prefix arithmetic of subnet pools, as Neutron's SubnetPoolReader and SubnetAllocator do it:
reading a pool's prefixes and prefix-length bounds (with their defaults), and carving a subnet
from the space its subnets leave free.

Where it sits: pure functions under `subnetpools.py` (the pool resource) and
`subnet_alloc.py` (a subnet taken from a pool); nothing here touches the database.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ministack.common import errors
from ministack.network.ipam import Net

# per IP version: (widest bits, default min_prefixlen, quota unit: /32 or /64)
VERSION_INFO = {4: (32, 8, 32), 6: (128, 64, 64)}


class SubnetAllocationError(errors.Conflict):
    """Neutron's SubnetAllocationError (which Neutron leaves unmapped, a 500): no free block of
    the asked size is left, so 409 as for an exhausted subnet's addresses."""


@dataclass(frozen=True)
class Bounds:
    min_prefixlen: int
    max_prefixlen: int
    default_prefixlen: int


def parse(raw: Sequence[str]) -> list[Net]:
    """The prefixes of a request, compacted; 400 for an empty list, a bad CIDR, host bits set
    or a mix of IPv4 and IPv6."""
    if not raw:
        raise errors.BadRequest("Empty subnet pool prefix list.", kind="EmptySubnetPoolPrefixList")
    nets: list[Net] = []
    for text in raw:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise errors.BadRequest(
                f"Invalid input for prefixes. Reason: '{text}' is not a valid IP subnet."
            ) from None
        if ipaddress.ip_interface(text).ip != net.network_address:
            raise errors.BadRequest(
                f"Invalid input for prefixes. Reason: '{text}' isn't a recommended CIDR, "
                f"use '{net}' instead."
            )
        nets.append(net)
    if len({n.version for n in nets}) > 1:
        raise errors.BadRequest(
            "Cannot mix IPv4 and IPv6 prefixes in a subnet pool.", kind="PrefixVersionMismatch"
        )
    return compact(nets)


def compact(nets: Iterable[Net]) -> list[Net]:
    """Adjacent and nested prefixes merged, in address order."""
    listed = list(nets)
    v4 = [n for n in listed if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in listed if isinstance(n, ipaddress.IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


def bounds(version: int, min_len: int | None, max_len: int | None, default: int | None) -> Bounds:
    """The prefix-length bounds with Neutron's defaults (min 8 or 64, max 32 or 128, default =
    min); 400 IllegalSubnetPoolPrefixBounds when they do not nest."""
    widest, default_min, _ = VERSION_INFO[version]
    low = default_min if min_len is None else min_len
    high = widest if max_len is None else max_len
    dflt = low if default is None else default
    checks = (
        ("min_prefixlen", low, "max_prefixlen", high, low > high),
        ("max_prefixlen", high, "ip_version_max", widest, high > widest),
        ("default_prefixlen", dflt, "min_prefixlen", low, dflt < low),
        ("default_prefixlen", dflt, "max_prefixlen", high, dflt > high),
    )
    for name, value, base, base_value, bad in checks:
        if bad:
            raise errors.BadRequest(
                f"Illegal prefix bounds: {name}={value}, {base}={base_value}.",
                kind="IllegalSubnetPoolPrefixBounds",
            )
    return Bounds(low, high, dflt)


def free_blocks(prefixes: Sequence[Net], allocated: Iterable[Net]) -> list[Net]:
    """The pool's space its subnets leave free, as the largest CIDR blocks, best fit first
    (longest prefix first, then by address), as Neutron's _get_available_prefix_list."""
    free = list(prefixes)
    for used in allocated:
        rest: list[Net] = []
        for block in free:
            if block.version != used.version or not block.overlaps(used):
                rest.append(block)
            elif used.subnet_of(block):  # type: ignore[arg-type]
                rest.extend(block.address_exclude(used))  # type: ignore[arg-type]
            # else the block lies inside `used`: nothing of it is free
        free = rest
    return sorted(compact(free), key=lambda n: (-n.prefixlen, int(n.network_address)))


def check_length(prefixlen: int, limits: Bounds) -> None:
    """400 when a subnet of this length may not be carved from the pool."""
    if prefixlen > limits.max_prefixlen:
        raise errors.BadRequest(
            f"Unable to allocate subnet with prefix length {prefixlen}, maximum allowed prefix "
            f"is {limits.max_prefixlen}.",
            kind="MaxPrefixSubnetAllocationError",
        )
    if prefixlen < limits.min_prefixlen:
        raise errors.BadRequest(
            f"Unable to allocate subnet with prefix length {prefixlen}, minimum allowed prefix "
            f"is {limits.min_prefixlen}.",
            kind="MinPrefixSubnetAllocationError",
        )


def any_block(free: Sequence[Net], prefixlen: int) -> Net:
    """The first block of `prefixlen` in the best-fitting free block; 409 when none is left."""
    for block in free:
        if prefixlen >= block.prefixlen:
            return ipaddress.ip_network((block.network_address, prefixlen))
    raise SubnetAllocationError(
        f"Failed to allocate subnet: Insufficient prefix space to allocate subnet size "
        f"/{prefixlen}.",
        kind="SubnetAllocationError",
    )


def specific_block(free: Sequence[Net], wanted: Net) -> Net:
    """`wanted` when it lies wholly in the free space; 400 otherwise (outside the pool or
    overlapping one of its subnets)."""
    if any(wanted.version == b.version and wanted.subnet_of(b) for b in free):  # type: ignore[arg-type]
        return wanted
    raise errors.BadRequest(
        "Failed to allocate subnet: Cannot allocate requested subnet from the available set "
        "of prefixes.",
        kind="SubnetAllocationError",
    )


def quota_units(version: int, nets: Iterable[Net]) -> int:
    """Prefix space in the pool's quota unit (/32 for IPv4, /64 for IPv6)."""
    unit = VERSION_INFO[version][2]
    return sum(2 ** max(unit - n.prefixlen, 0) for n in nets)
