"""The scheduler (RPC topic "scheduler"): pick a host for each instance and claim its
resources in placement, or explain, filter by filter, why no host fits.

Filters run in order over the hosts a request may use; Nova's `max_placement_results` caps
how many fitting candidates are weighed (taken from a rotating start so load spreads).
The claim in placement is the authority: if the in-memory view was stale and the claim
fails, the next best host is tried.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ministack.common.db import Database
from ministack.common.rpc.payload import receives
from ministack.compute import models as m
from ministack.compute.rpcapi.scheduler import Destination, Refresh, SelectDestinations, Selection
from ministack.compute.scheduler import weighers
from ministack.compute.scheduler.filters import HostFilter, Request, load_filters
from ministack.compute.scheduler.hosts import HostCache, HostState
from ministack.config import Settings
from ministack.placement.client import PlacementClient

log = logging.getLogger("ministack.compute.scheduler")
TOPIC = "scheduler"
NO_VALID_HOST = "No valid host was found."


class NoValidHost(Exception):
    """No host can take the instance; the message says why, per filter."""


@dataclass
class Placed:
    host: str
    node: str


class Scheduler:
    """The scheduler's RPC endpoint and its in-memory host view."""

    def __init__(self, settings: Settings, db: Database, placement: PlacementClient) -> None:
        self.settings = settings
        self.db = db
        self.placement = placement
        self.cache = HostCache(db, placement, settings.compute.default_availability_zone)
        self.filters: list[HostFilter] = load_filters()
        self._start = 0

    @receives(Refresh)
    async def refresh(self, _req: Refresh) -> None:
        """Drop the host view; the next request reloads it (fanout from agents and admins)."""
        self.cache.invalidate()

    @receives(SelectDestinations)
    async def select_destinations(self, ask: SelectDestinations) -> dict[str, Any]:
        """The wire form of `select`."""
        return (await self.select(ask.instance_uuids, ask.spec, ask.ignore_hosts)).to_wire()

    async def select(
        self, instance_uuids: list[str], spec: dict[str, Any], ignore_hosts: list[str]
    ) -> Selection:
        """Claim a host for each instance, in order; or, with nothing claimed, the error
        "No valid host was found. <why>"."""
        req = await self._request(spec, ignore_hosts)
        placed: list[tuple[str, HostState]] = []
        try:
            for uuid in instance_uuids:
                host = await self._place_one(uuid, spec, req)
                placed.append((uuid, host))
                req.group_hosts.add(host.host)
        except NoValidHost as exc:
            for uuid, host in placed:
                await self.placement.release(uuid, host.provider_uuid)
                self._unuse(host, req)
            return Selection(error=str(exc))
        return Selection(
            hosts=[Destination(h.host, h.node, h.availability_zone) for _, h in placed]
        )

    async def _request(self, spec: dict[str, Any], ignore_hosts: list[str]) -> Request:
        flavor = spec["flavor"]
        req = Request(
            vcpus=int(flavor["vcpus"]),
            memory_mb=int(flavor["ram"]),
            # a volume-backed root disk takes no local disk (Nova: root_gb not claimed)
            disk_gb=(0 if spec.get("volume_backed") else int(flavor["disk"]))
            + int(flavor.get("ephemeral", 0) or 0),
            now=HostCache.now(),
            down_after=float(self.settings.compute.service_down_time),
            availability_zone=spec.get("availability_zone"),
            force_host=spec.get("force_host"),
            image_properties=dict(spec.get("image_properties") or {}),
            extra_specs=dict(flavor.get("extra_specs") or {}),
            ignore_hosts=set(ignore_hosts),
        )
        group = spec.get("group")
        if group:
            req.group_policy, req.group_hosts = await self._group(group)
        return req

    async def _group(self, group_uuid: str) -> tuple[str | None, set[str]]:
        async with self.db.session() as s:
            group = (
                await s.execute(select(m.ServerGroup).where(m.ServerGroup.uuid == group_uuid))
            ).scalar_one_or_none()
            if group is None:
                return None, set()
            hosts = (
                await s.execute(
                    select(m.Instance.host).where(
                        m.Instance.uuid.in_(group.members),
                        m.Instance.deleted.is_(False),
                        m.Instance.host.is_not(None),
                    )
                )
            ).scalars()
            return group.policy, {h for h in hosts if h}

    async def _place_one(self, uuid: str, spec: dict[str, Any], req: Request) -> HostState:
        for fresh in (False, True):
            if fresh:
                await self.cache.load()
            hosts = await self.cache.current()
            candidates = self._candidates(list(hosts.values()), req)
            for host in weighers.best(candidates, req, self.settings.compute.weigher):
                problem = await self.placement.claim(
                    uuid,
                    host.provider_uuid,
                    req.resources(),
                    project_id=str(spec.get("project_id", "")),
                    user_id=str(spec.get("user_id", "")),
                )
                if problem is None:
                    self._use(host, req)
                    return host
                log.info("claim on %s failed (%s); trying the next host", host.host, problem)
                self.cache.invalidate()
        raise NoValidHost(self._explain(list((await self.cache.current()).values()), req))

    def _candidates(self, hosts: list[HostState], req: Request) -> list[HostState]:
        """Up to max_placement_results hosts passing every filter, from a rotating start."""
        limit = max(1, self.settings.compute.max_placement_results)
        n = len(hosts)
        if n == 0:
            return []
        start = self._start % n
        self._start += 1
        checks = [f.passes for f in self.filters]
        out: list[HostState] = []
        for host in itertools.chain(hosts[start:], hosts[:start]):
            for check in checks:
                if not check(host, req):
                    break
            else:
                out.append(host)
                if len(out) >= limit:
                    break
        return out

    def _explain(self, hosts: list[HostState], req: Request) -> str:
        if not hosts:
            return f"{NO_VALID_HOST} There are no compute hosts."
        reasons = []
        remaining = hosts
        for f in self.filters:
            kept = [h for h in remaining if f.passes(h, req)]
            if len(kept) < len(remaining):
                reasons.append(f.explain(len(remaining) - len(kept), len(remaining), req))
            remaining = kept
            if not remaining:
                break
        if remaining:
            reasons.append("the hosts that fit could not be claimed in placement; try again")
        return f"{NO_VALID_HOST} " + "; ".join(reasons)

    @staticmethod
    def _use(host: HostState, req: Request) -> None:
        for rc, amount in req.resources().items():
            host.used[rc] = host.used.get(rc, 0) + amount

    @staticmethod
    def _unuse(host: HostState, req: Request) -> None:
        for rc, amount in req.resources().items():
            host.used[rc] = host.used.get(rc, 0) - amount
