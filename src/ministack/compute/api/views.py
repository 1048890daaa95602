"""How a server looks on the wire at each microversion (Nova's server view, field by field).

Clients validate these bodies strictly: a field appears exactly from the microversion that
introduced it, and admin-only fields only for admins.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from ministack.common import policy
from ministack.common.auth import Auth
from ministack.compute import models as m
from ministack.compute import network_info, states
from ministack.compute.api.common import base_url, iso, iso_micro, links, version
from ministack.compute.policies import RULES

# where the instance keeps what Nova keeps in system_metadata / its own columns
LOCKED_REASON_KEY = "locked_reason"
TRUSTED_CERTS_KEY = "trusted_image_certificates"
PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.~-]+/)+[\w.~-]*")


def public_message(message: str, hosts: Iterable[str | None]) -> str:
    """A fault message fit for non-admins (PROMISES 22): no traceback, no host paths, no
    host names."""
    text = message.split("Traceback (most recent call last)", 1)[0].rstrip()
    text = _PATH.sub("<path>", text)
    for host in {h for h in hosts if h}:
        text = re.sub(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", "<host>", text)
    return text


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId: an opaque per-project digest of the host ('' before scheduling)."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def render_brief(request: Request, inst: m.Instance) -> dict[str, Any]:
    return {
        "id": inst.uuid,
        "name": inst.display_name,
        "links": links(request, "servers", inst.uuid),
    }


def _fault(inst: m.Instance, auth: Auth) -> dict[str, Any] | None:
    if not inst.fault or inst.vm_state not in (states.ERROR, states.DELETED):
        return None
    fault: dict[str, Any] = {
        "code": inst.fault.get("code", 500),
        "created": inst.fault.get("created"),
        "message": inst.fault.get("message", ""),
    }
    if auth.is_admin:
        fault["details"] = inst.fault.get("details", "")
        return fault
    hosts = (inst.host, inst.node, (inst.system_metadata or {}).get("source_host"))
    fault["message"] = public_message(fault["message"], hosts)
    if fault["code"] != 500:
        fault["details"] = public_message(inst.fault.get("details", ""), hosts)
    return fault


def canonical_ipv6(address: str | None) -> str:
    """An IPv6 address in its compressed canonical form (as Nova returns it), '' when none."""
    if not address:
        return ""
    try:
        return str(ipaddress.IPv6Address(address))
    except ValueError:
        return address


def _flavor(request: Request, inst: m.Instance, auth: Auth) -> dict[str, Any]:
    """The server's flavor: a link to it before 2.47, from 2.47 the copy the server keeps
    (extra_specs when policy lets the caller read them)."""
    flavor = inst.flavor or {}
    if version(request) < (2, 47):
        flavor_id = flavor.get("id", "")
        href = f"{base_url(request)}/flavors/{flavor_id}"
        return {"id": flavor_id, "links": [{"rel": "bookmark", "href": href}]}
    body: dict[str, Any] = {
        "vcpus": flavor.get("vcpus", inst.vcpus),
        "ram": flavor.get("ram", inst.memory_mb),
        "disk": flavor.get("disk", inst.root_gb),
        "ephemeral": flavor.get("ephemeral", 0),
        "swap": flavor.get("swap") or 0,
        "original_name": flavor.get("name", ""),
    }
    target = {"project_id": inst.project_id, "user_id": auth.user_id}
    if policy.check(auth, RULES[EXTRA_SPECS_RULE], target):
        body["extra_specs"] = dict(flavor.get("extra_specs") or {})
    return body


EXTRA_SPECS_RULE = "os_compute_api:servers:show:flavor-extra-specs"


def render_server(
    request: Request,
    inst: m.Instance,
    auth: Auth,
    host_status: dict[str, str] | None = None,
    tags: list[str] | None = None,
    *,
    groups: list[str] | None = None,
    full: bool = True,
    volumes: list[tuple[str, bool]] | None = None,
) -> dict[str, Any]:
    """The full server body (show, detail list, update, rebuild) at the request's microversion;
    `tags` are the server's tags (shown from 2.26), `groups` its server groups (shown when
    given: show, update and rebuild from 2.71). `full=False` is the shorter body update and
    rebuild answered before 2.75. `volumes` are its attached volumes (id, delete on
    termination), boot volume included, as os-extended-volumes:volumes_attached shows them."""
    v = version(request)
    base = base_url(request)
    status = states.status(inst.vm_state, inst.task_state)
    image: Any = ""
    if inst.image_ref:
        image = {
            "id": inst.image_ref,
            "links": [{"rel": "bookmark", "href": f"{base}/images/{inst.image_ref}"}],
        }
    body: dict[str, Any] = {
        "id": inst.uuid,
        "name": inst.display_name,
        "status": status,
        "tenant_id": inst.project_id,
        "user_id": inst.user_id,
        "metadata": dict(inst.metadata_ or {}),
        "hostId": host_id(inst.project_id, inst.host),
        "image": image,
        "flavor": _flavor(request, inst, auth),
        "created": iso(inst.created_at),
        "updated": iso(inst.updated_at),
        "addresses": network_info.addresses(network_info.info_of(inst)),
        "accessIPv4": inst.access_ip_v4 or "",
        "accessIPv6": canonical_ipv6(inst.access_ip_v6),
        "links": links(request, "servers", inst.uuid),
        "OS-DCF:diskConfig": "MANUAL",
    }
    if full:
        body.update(_full_fields(inst))
        # (volume id, delete_on_termination): the latter shown from 2.3
        body["os-extended-volumes:volumes_attached"] = [
            {"id": vid, "delete_on_termination": dot} if v >= (2, 3) else {"id": vid}
            for vid, dot in volumes or []
        ]
    if status in PROGRESS_STATUSES:
        body["progress"] = 0
    admin_attrs = auth.is_admin and (full or v >= (2, 75))
    if admin_attrs:
        body.update(_admin_fields(inst, v))
    if v >= (2, 9):
        body["locked"] = inst.locked
    if v >= (2, 16) and auth.is_admin and (full or v >= (2, 75)):
        body["host_status"] = (host_status or {}).get(inst.host or "", "") if inst.host else ""
    if v >= (2, 19):
        body["description"] = inst.display_description
    if v >= (2, 26):
        body["tags"] = list(tags or [])
    body.update(_late_fields(inst, v, groups))
    if v >= (2, 90) and not admin_attrs:
        body["OS-EXT-SRV-ATTR:hostname"] = inst.hostname
    if v >= (2, 96) and full:
        body["pinned_availability_zone"] = (inst.request_spec or {}).get("availability_zone")
    fault = _fault(inst, auth)
    if fault is not None:
        body["fault"] = fault
    return body


def _full_fields(inst: m.Instance) -> dict[str, Any]:
    """What update and rebuild left out before 2.75 (zone, config drive, key, usage times,
    states, volumes, security groups)."""
    body: dict[str, Any] = {
        "OS-EXT-AZ:availability_zone": inst.availability_zone or "",
        "config_drive": inst.config_drive,
        "key_name": inst.key_name,
        "OS-SRV-USG:launched_at": iso_micro(inst.launched_at),
        "OS-SRV-USG:terminated_at": iso_micro(inst.terminated_at),
        "OS-EXT-STS:task_state": inst.task_state,
        "OS-EXT-STS:vm_state": inst.vm_state,
        "OS-EXT-STS:power_state": inst.power_state,
        "os-extended-volumes:volumes_attached": [],
    }
    if inst.security_groups:
        body["security_groups"] = [{"name": n} for n in inst.security_groups]
    return body


def _admin_fields(inst: m.Instance, v: tuple[int, int]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": inst.host,
        # the libvirt domain name (virt/libvirt/xml.py domain_name): `virsh dominfo` finds it
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{inst.uuid}",
        "OS-EXT-SRV-ATTR:hypervisor_hostname": inst.node,
    }
    if v >= (2, 3):
        body.update(
            {
                "OS-EXT-SRV-ATTR:reservation_id": inst.reservation_id,
                "OS-EXT-SRV-ATTR:launch_index": inst.launch_index,
                "OS-EXT-SRV-ATTR:hostname": inst.hostname,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda" if inst.host else None,
                "OS-EXT-SRV-ATTR:user_data": inst.user_data,
            }
        )
    return body


def _late_fields(inst: m.Instance, v: tuple[int, int], groups: list[str] | None) -> dict[str, Any]:
    """The fields of 2.63 (trusted certificates), 2.71 (server groups) and 2.73 (lock
    reason)."""
    sysmeta = inst.system_metadata or {}
    body: dict[str, Any] = {}
    if v >= (2, 63):
        body["trusted_image_certificates"] = sysmeta.get(TRUSTED_CERTS_KEY)
    if v >= (2, 71) and groups is not None:
        body["server_groups"] = list(groups)
    if v >= (2, 73):
        body["locked_reason"] = sysmeta.get(LOCKED_REASON_KEY)
    return body
