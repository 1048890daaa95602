"""POST /servers: the body has passed compute.schemas.create_server before this runs; check
what a schema cannot (flavor, image, key, group, zone exist and fit: nothing is created on a
4xx, PROMISES 13), claim quota and create the instance rows in one transaction, then hand them
to the conductor.
Answers 202 with the server's id and adminPass; the build continues asynchronously."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors, validation
from ministack.common.auth import Auth
from ministack.common.db import utcnow
from ministack.common.params import to_bool
from ministack.common.web import json_response
from ministack.compute import instances, quotas, states
from ministack.compute import models as m
from ministack.compute.api import block_devices, flavors, idempotency
from ministack.compute.api.common import (
    Api,
    api_of,
    base_url,
    caller,
    links,
)
from ministack.compute.api.server_networks import REQUESTED_KEY, requested_networks
from ministack.compute.api.views import TRUSTED_CERTS_KEY, canonical_ipv6
from ministack.compute.instances import ADMIN_PASS_KEY

_HOSTNAME = re.compile(r"[^a-zA-Z0-9-]+")


@dataclass
class Plan:
    """A validated create request."""

    name: str
    flavor: dict[str, Any]
    image: dict[str, Any]
    min_count: int
    max_count: int
    metadata: dict[str, str]
    key_name: str | None = None
    key_data: str | None = None
    user_data: str | None = None
    availability_zone: str | None = None
    force_host: str | None = None
    group: m.ServerGroup | None = None
    security_groups: list[str] = field(default_factory=list)
    description: str | None = None
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    config_drive: str = ""
    admin_pass: str = ""
    tags: list[str] = field(default_factory=list)
    trusted_certs: list[str] | None = None
    hostname: str | None = None
    networks: list[dict[str, Any]] = field(default_factory=list)
    """The requested NICs (server_networks.requested_networks), kept in the request_spec."""
    boot: block_devices.BootPlan = field(default_factory=block_devices.BootPlan)
    """The volumes of block_device_mapping_v2 (volume_backed: the root disk is one)."""


def admin_pass(value: Any) -> str:
    """The server's admin password: the one asked for (Nova: any string), else a new one."""
    if value is None:
        return secrets.token_urlsafe(9)
    if not isinstance(value, str):
        raise errors.BadRequest(
            f"Invalid input for field/attribute adminPass. Value: {value}. "
            f"{value!r} is not of type 'string'"
        )
    return value


def _count(body: dict[str, Any]) -> tuple[int, int]:
    low = int(body.get("min_count", 1))
    high = int(body.get("max_count", low))
    if low > high:
        raise errors.BadRequest("min_count must be <= max_count")
    return low, high


async def _plan(request: Request, api: Api, auth: Auth, data: dict[str, Any]) -> Plan:
    body: dict[str, Any] = data["server"]
    name: str = body["name"]
    metadata = dict(body.get("metadata", {}))
    low, high = _count(body)
    user_data: str | None = body.get("user_data")
    flavor_ref = str(body.get("flavorRef", "")).rstrip("/").rsplit("/", 1)[-1]
    image_ref = str(body.get("imageRef", "")).rstrip("/").rsplit("/", 1)[-1]
    if not flavor_ref:
        raise errors.BadRequest("Invalid input for field/attribute flavorRef: it is required.")
    async with api.db.session() as s:
        f = await flavors.find(s, flavor_ref, auth)
        if f is None or f.disabled:
            raise errors.BadRequest(f"Flavor {flavor_ref} could not be found.")
        flavor = flavors.flavor_dict(f)
        plan = Plan(
            name=name,
            flavor=flavor,
            image={},
            min_count=low,
            max_count=high,
            metadata=metadata,
            user_data=user_data,
            admin_pass=admin_pass(body.get("adminPass")),
        )
        await _key(s, body, auth, plan)
        await _group(s, data, auth, plan)
    plan.boot = await block_devices.plan_boot(api, auth, body, image_ref, high)
    if plan.boot.volume_backed:
        plan.image = plan.boot.image  # its properties only: a volume-backed server has no image
    else:
        plan.image = await api.images.lookup(image_ref, auth.project_id, auth.is_admin)
        _check_image_fits(plan)
    await _zone(api, body, auth, plan)
    plan.security_groups = [
        str(g.get("name")) for g in body.get("security_groups") or [] if isinstance(g, dict)
    ] or ["default"]
    plan.description = body.get("description")  # the schema allows it from 2.19 on
    plan.access_ip_v4 = body.get("accessIPv4")
    plan.access_ip_v6 = canonical_ipv6(body.get("accessIPv6")) or None
    drive = body.get("config_drive")
    plan.config_drive = "True" if to_bool(drive) else ""
    # each from the microversion whose schema admits it: tags 2.52, trusted certificates
    # 2.63, host/hypervisor_hostname 2.74, hostname 2.90
    plan.tags = list(dict.fromkeys(body.get("tags") or []))
    plan.trusted_certs = body.get("trusted_image_certificates")
    plan.hostname = body.get("hostname")
    if plan.hostname is not None and plan.max_count > 1:
        raise errors.BadRequest(
            "Unable to launch multiple instances with a single configured hostname. "
            "Please specify a unique hostname per instance."
        )
    await _destination(api, body, auth, plan)
    plan.networks = await requested_networks(
        api.network, body.get("networks"), auth, plan.max_count
    )
    if api.network is not None and plan.networks:
        # Nova checks the groups with Neutron before anything is made (400 naming the group)
        await api.network.security_group_ids(auth.project_id or "", plan.security_groups)
    return plan


async def _destination(api: Api, body: dict[str, Any], auth: Auth, plan: Plan) -> None:
    """2.74: an admin names the host and/or node; the scheduler still checks it fits."""
    host, node = body.get("host"), body.get("hypervisor_hostname")
    if host is None and node is None:
        return
    if not auth.is_admin:
        raise errors.Forbidden(
            "Policy doesn't allow compute:servers:create:requested_destination to be performed."
        )
    async with api.db.session() as s:
        nodes = list((await s.execute(select(m.ComputeNode))).scalars())
    if host is not None and not any(n.host == host for n in nodes):
        raise errors.BadRequest(f"Compute host {host} could not be found.")
    if node is not None:
        match = [n for n in nodes if n.hypervisor_hostname == node and host in (None, n.host)]
        if not match:
            where = f"{host}({node})" if host else node
            raise errors.BadRequest(f"Compute host {where} could not be found.")
        host = match[0].host
    plan.force_host = host


async def _key(s: Any, body: dict[str, Any], auth: Auth, plan: Plan) -> None:
    key_name = body.get("key_name")
    if key_name is None:
        return
    kp = (
        await s.execute(
            select(m.KeyPair).where(m.KeyPair.user_id == auth.user_id, m.KeyPair.name == key_name)
        )
    ).scalar_one_or_none()
    if kp is None:
        raise errors.BadRequest("Invalid key_name provided.")
    plan.key_name, plan.key_data = kp.name, kp.public_key


async def _group(s: Any, data: dict[str, Any], auth: Auth, plan: Plan) -> None:
    hints = data.get("os:scheduler_hints") or data.get("OS-SCH-HNT:scheduler_hints") or {}
    if not hints.get("group"):
        return
    group = (
        await s.execute(select(m.ServerGroup).where(m.ServerGroup.uuid == str(hints["group"])))
    ).scalar_one_or_none()
    if group is None or (group.project_id != auth.project_id and not auth.is_admin):
        raise errors.BadRequest(f"Invalid server group {hints['group']}: it could not be found.")
    plan.group = group


def _check_image_fits(plan: Plan) -> None:
    min_ram = int(plan.image.get("min_ram") or 0)
    min_disk = int(plan.image.get("min_disk") or 0)
    if plan.flavor["ram"] < min_ram:
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    if plan.flavor["disk"] and plan.flavor["disk"] < min_disk:
        raise errors.BadRequest("Flavor's disk is too small for requested image.")
    # Nova's FlavorDiskSmallerThanImage: the image (its virtual disk too) must fit the flavor
    flavor_bytes = int(plan.flavor["disk"]) * 1024**3
    image_bytes = max(int(plan.image.get("size") or 0), int(plan.image.get("virtual_size") or 0))
    if flavor_bytes and image_bytes > flavor_bytes:
        raise errors.BadRequest(
            "Flavor's disk is too small for requested image. Flavor disk is "
            f"{flavor_bytes} bytes, image is {image_bytes} bytes."
        )


async def _zone(api: Api, body: dict[str, Any], auth: Auth, plan: Plan) -> None:
    from ministack.compute.api.zones import zone_names

    raw = body.get("availability_zone")
    if not raw:
        return
    zone, _, host = str(raw).partition(":")
    if host:
        if not auth.is_admin:
            raise errors.Forbidden("Only an admin may ask for a specific host.")
        plan.force_host = host
    if zone and zone not in await zone_names(api):
        raise errors.BadRequest(
            f"The requested availability zone is not available: {zone!r} does not exist."
        )
    plan.availability_zone = zone or None


def _hostname(name: str, index: int, count: int) -> str:
    base = _HOSTNAME.sub("-", name).strip("-")[:63] or "server"
    return f"{base}-{index + 1}" if count > 1 else base


def sysmeta_of(plan: Plan) -> dict[str, Any]:
    sysmeta: dict[str, Any] = {ADMIN_PASS_KEY: plan.admin_pass}
    if plan.trusted_certs:
        sysmeta[TRUSTED_CERTS_KEY] = list(plan.trusted_certs)
    return sysmeta


def image_properties(image: dict[str, Any]) -> dict[str, str]:
    """The image properties the scheduler and driver use (Glance v2 keeps them top-level)."""
    return {
        k: str(v)
        for k, v in image.items()
        if isinstance(v, str)
        and (
            k in ("architecture", "hypervisor_type", "os_distro")
            or k.startswith(("hw_", "img_", "os_"))
        )
    }


def _rows(plan: Plan, auth: Auth, count: int) -> list[m.Instance]:
    reservation = f"r-{secrets.token_hex(4)}"
    spec = {
        "flavor": plan.flavor,
        "image_properties": image_properties(plan.image),
        "image_disk_format": plan.image.get("disk_format"),
        "availability_zone": plan.availability_zone,
        "force_host": plan.force_host,
        "group": plan.group.uuid if plan.group else None,
        "project_id": auth.project_id,
        "user_id": auth.user_id,
        REQUESTED_KEY: plan.networks,
        "volume_backed": plan.boot.volume_backed,
    }
    now = utcnow()
    return [
        m.Instance(
            uuid=str(uuid.uuid4()),
            display_name=plan.name if count == 1 else f"{plan.name}-{i + 1}",
            display_description=plan.description,
            hostname=plan.hostname or _hostname(plan.name, i, count),
            project_id=auth.project_id or "",
            user_id=auth.user_id,
            reservation_id=reservation,
            launch_index=i,
            image_ref="" if plan.boot.volume_backed else str(plan.image.get("id", "")),
            flavor=plan.flavor,
            vcpus=plan.flavor["vcpus"],
            memory_mb=plan.flavor["ram"],
            root_gb=plan.flavor["disk"],
            key_name=plan.key_name,
            key_data=plan.key_data,
            user_data=plan.user_data,
            metadata_=plan.metadata,
            # the agent writes it into the config drive, then forgets it (instances.py)
            system_metadata=sysmeta_of(plan),
            request_spec=spec,
            availability_zone=plan.availability_zone,
            vm_state=states.BUILDING,
            task_state=states.SCHEDULING,
            task_started_at=now,
            power_state=0,
            config_drive=plan.config_drive,
            access_ip_v4=plan.access_ip_v4,
            access_ip_v6=plan.access_ip_v6,
            security_groups=plan.security_groups,
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    ]


async def _claim(api: Api, plan: Plan, auth: Auth) -> list[m.Instance]:
    """Check quota and insert the rows atomically; 403 overLimit when even min_count won't fit."""
    project = auth.project_id or ""
    per = {"instances": 1, "cores": plan.flavor["vcpus"], "ram": plan.flavor["ram"]}
    async with api.db.writer() as s:
        await quotas.lock_project(s, api.db, project)
        limit = await quotas.limits(s, project)
        if 0 <= limit["metadata_items"] < len(plan.metadata):
            raise errors.OverLimit(
                f"Quota exceeded for metadata_items: Requested {len(plan.metadata)}, but the "
                f"limit is {limit['metadata_items']} metadata items"
            )
        used = await quotas.usage(s, project)
        count = min(plan.max_count, quotas.max_instances(limit, used, per))
        if count < plan.min_count:
            quotas.check(limit, used, {r: n * plan.min_count for r, n in per.items()})
            raise errors.OverLimit("Quota exceeded for instances")
        group = await s.get(m.ServerGroup, plan.group.id) if plan.group else None
        if group is not None:
            members = limit.get("server_group_members", -1)
            if 0 <= members < len(group.members) + count:
                raise errors.OverLimit("Quota exceeded, too many servers in group")
        rows = _rows(plan, auth, count)
        for row in rows:
            s.add(row)
            s.add(instances.new_action(row.uuid, "create", auth.user_id, project))
            s.add_all(m.InstanceTag(instance_uuid=row.uuid, tag=t) for t in plan.tags)
            s.add_all(block_devices.rows_for(row, plan.boot))
        if group is not None:
            group.members = [*group.members, *(r.uuid for r in rows)]
    return rows


async def create_server(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:servers:create")
    if auth.project_id is None:  # Nova's scope_types=['project']: a server needs a project
        raise errors.Forbidden(
            "Policy doesn't allow os_compute_api:servers:create to be performed: a server "
            "belongs to a project, so create it with a project-scoped token."
        )
    api = api_of(request)
    data = validation.body(request)
    key = idempotency.key_of(request)
    if key is not None:
        replay = await idempotency.replay(api.db, key, auth.project_id or "", data)
        if replay is not None:
            return json_response(replay["body"], status=202, headers=replay["headers"])
        response = await _create(request, api, auth, data)
        await idempotency.remember(api.db, key, auth.project_id or "", data, response)
        return response
    return await _create(request, api, auth, data)


async def _create(request: Request, api: Api, auth: Auth, data: dict[str, Any]) -> Response:
    plan = await _plan(request, api, auth, data)
    rows = await _claim(api, plan, auth)
    await api.conductor.build_instances([r.uuid for r in rows])
    if data["server"].get("return_reservation_id"):
        return json_response({"reservation_id": rows[0].reservation_id}, status=202)
    first = rows[0]
    server: dict[str, Any] = {
        "id": first.uuid,
        "links": links(request, "servers", first.uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": n} for n in first.security_groups],
        "adminPass": plan.admin_pass,
    }
    location = f"{base_url(request)}/v2.1/servers/{first.uuid}"
    return json_response({"server": server}, status=202, headers={"Location": location})
