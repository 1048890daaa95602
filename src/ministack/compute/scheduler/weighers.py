"""Scheduler weighers: rank the hosts that passed the filters. Spread (the default) prefers
the most free RAM and VCPUs; pack the least. Soft (anti-)affinity server groups weigh hosts
by how many members they already run. Weights are normalised to 0..1 per weigher, as in Nova."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ministack.compute.scheduler.filters import Request
from ministack.compute.scheduler.hosts import HostState

Weigher = tuple[float, Callable[[HostState, Request], float]]


def _group_members(host: HostState, req: Request) -> float:
    return 1.0 if host.host in req.group_hosts else 0.0


def weighers(strategy: str, req: Request) -> list[Weigher]:
    """The weighers for a strategy ("spread" or "pack") and this request's server group."""
    sign = -1.0 if strategy == "pack" else 1.0
    out: list[Weigher] = [
        (sign * 1.0, lambda h, r: float(h.free("MEMORY_MB"))),
        (sign * 1.0, lambda h, r: float(h.free("VCPU"))),
    ]
    if req.group_policy == "soft-anti-affinity":
        out.append((-10.0, _group_members))
    elif req.group_policy == "soft-affinity":
        out.append((10.0, _group_members))
    return out


def best(hosts: Sequence[HostState], req: Request, strategy: str) -> list[HostState]:
    """Hosts ordered best first by the normalised, multiplied sum of the weighers."""
    if len(hosts) <= 1:
        return list(hosts)
    totals = [0.0] * len(hosts)
    for multiplier, func in weighers(strategy, req):
        values = [func(h, req) for h in hosts]
        low, high = min(values), max(values)
        if high == low:
            continue
        span = high - low
        for i, value in enumerate(values):
            totals[i] += multiplier * (value - low) / span
    order = sorted(range(len(hosts)), key=lambda i: totals[i], reverse=True)
    return [hosts[i] for i in order]
