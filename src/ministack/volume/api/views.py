"""Cinder's response bodies for volumes, snapshots, attachments and types, with the fields
each microversion adds (group_id 3.13, provider_id 3.21, shared_targets and service_uuid 3.48,
cluster_name 3.61, volume_type_id 3.63, consumes_quota 3.65; snapshots: group_snapshot_id
3.14, user_id 3.41, consumes_quota 3.65)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ministack.common.auth import Auth
from ministack.volume import models as m
from ministack.volume.api.common import at_least, iso, links


def attachment_summary(att: m.Attachment) -> dict[str, Any]:
    """An attachment as a volume's `attachments` list shows it (Cinder's volume view)."""
    return {
        "id": att.volume_id,
        "attachment_id": att.id,
        "volume_id": att.volume_id,
        "server_id": att.instance_uuid,
        "host_name": att.attached_host,
        "device": att.mountpoint,
        "attached_at": iso(att.attach_time),
    }


def volume(
    request: Request,
    auth: Auth,
    row: m.Volume,
    *,
    type_name: str,
    meta: dict[str, str],
    image_meta: dict[str, str],
    attachments: list[m.Attachment],
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "size": row.size,
        "availability_zone": row.availability_zone,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "attachments": [
            attachment_summary(a) for a in attachments if a.attach_status == "attached"
        ],
        "bootable": "true" if row.bootable else "false",
        "encrypted": False,
        "metadata": meta,
        "volume_type": type_name,
        "snapshot_id": row.snapshot_id,
        "source_volid": row.source_volid,
        "user_id": row.user_id,
        "consistencygroup_id": None,
        "multiattach": row.multiattach,
        "replication_status": None,
        "migration_status": None,
        "links": links(request, row.project_id, "volumes", row.id),
        "os-vol-tenant-attr:tenant_id": row.project_id,
    }
    if image_meta:
        body["volume_image_metadata"] = image_meta
    if auth.is_admin:
        body["os-vol-host-attr:host"] = row.host
        body["os-vol-mig-status-attr:migstat"] = None
        body["os-vol-mig-status-attr:name_id"] = None
    if at_least(request, "3.13"):
        body["group_id"] = None
    if at_least(request, "3.21") and auth.is_admin:
        body["provider_id"] = None
    if at_least(request, "3.48"):
        body["shared_targets"] = False
        body["service_uuid"] = None
    if at_least(request, "3.61") and auth.is_admin:
        body["cluster_name"] = None
    if at_least(request, "3.63"):
        body["volume_type_id"] = row.volume_type_id
    if at_least(request, "3.65"):
        body["consumes_quota"] = row.consumes_quota
    return body


def volume_summary(request: Request, row: m.Volume) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "links": links(request, row.project_id, "volumes", row.id),
    }


def snapshot(request: Request, auth: Auth, row: m.Snapshot, meta: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "size": row.size,
        "volume_id": row.volume_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "metadata": meta,
        "os-extended-snapshot-attributes:progress": row.progress,
        "os-extended-snapshot-attributes:project_id": row.project_id,
    }
    if at_least(request, "3.14"):
        body["group_snapshot_id"] = None
    if at_least(request, "3.41"):
        body["user_id"] = row.user_id
    if at_least(request, "3.65"):
        body["consumes_quota"] = True
    return body


def volume_type(row: m.VolumeType, specs: dict[str, str], auth: Auth) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "is_public": row.is_public,
        "os-volume-type-access:is_public": row.is_public,
        "extra_specs": specs,
    }
    if auth.is_admin:
        body["qos_specs_id"] = None
    return body


def attachment(att: m.Attachment, connection_info: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": att.id,
        "status": att.attach_status,
        "instance": att.instance_uuid,
        "volume_id": att.volume_id,
        "attached_at": iso(att.attach_time),
        "detached_at": iso(att.detach_time),
        "attach_mode": att.attach_mode,
        "connection_info": connection_info,
    }
