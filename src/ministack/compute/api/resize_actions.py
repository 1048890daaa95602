"""The server actions that change what a server is: rebuild, resize with confirm/revert, and
createImage (a snapshot into the image service)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.web import empty_response, json_response
from ministack.compute import instances, migration_records, quotas, states
from ministack.compute import models as m
from ministack.compute.api import flavors, volume_backed
from ministack.compute.api.actions import begin
from ministack.compute.api.common import Api, host_of, version
from ministack.compute.api.server_create import admin_pass
from ministack.compute.api.servers import full_view
from ministack.compute.api.views import TRUSTED_CERTS_KEY, canonical_ipv6
from ministack.compute.instances import UNSET, Change


async def rebuild(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    # body checked by compute.schemas.server_action at the request's microversion: key_name
    # from 2.54, user_data from 2.57 (personality before), trusted certificates from 2.63,
    # hostname from 2.90
    image_ref = str(body.get("imageRef", "")).rstrip("/").rsplit("/", 1)[-1]
    if not image_ref:
        raise errors.BadRequest("Invalid input for field/attribute imageRef: it is required.")
    image = await api.images.lookup(image_ref, auth.project_id, auth.is_admin)
    reimage: str | None = None
    if not inst.image_ref:  # volume-backed: the image goes onto the root volume (2.93)
        reimage = await volume_backed.rebuild_image(api, inst, image, version(request))
    password = admin_pass(body.get("adminPass"))
    sysmeta = {**(inst.system_metadata or {}), instances.ADMIN_PASS_KEY: password}
    if "trusted_image_certificates" in body:
        certs = body["trusted_image_certificates"]
        sysmeta[TRUSTED_CERTS_KEY] = list(certs) if certs else None
    key_name: Any = UNSET
    key_data: Any = UNSET
    if "key_name" in body:
        key_name, key_data = await _key(api, inst, body["key_name"])
    change = Change(
        image_ref=str(image["id"]) if inst.image_ref else UNSET,
        display_name=body.get("name", UNSET),
        display_description=body.get("description", UNSET),
        metadata_=dict(body["metadata"]) if "metadata" in body else UNSET,
        access_ip_v4=body.get("accessIPv4", UNSET),
        access_ip_v6=canonical_ipv6(body["accessIPv6"]) if "accessIPv6" in body else UNSET,
        system_metadata=sysmeta,
        key_name=key_name,
        key_data=key_data,
        user_data=body.get("user_data", UNSET),
        hostname=body.get("hostname", UNSET),
    )
    await begin(api, auth, inst, "rebuild", "rebuild", states.REBUILDING, change)
    await api.agent(host_of(inst)).rebuild_instance(inst.uuid, inst.vm_state, reimage)
    fresh = await instances.get(api.db, inst.uuid) or inst
    return json_response({"server": await _rebuilt(request, fresh, auth, password)}, status=202)


async def _key(api: Api, inst: m.Instance, name: str | None) -> tuple[str | None, str | None]:
    """2.54: the key pair a rebuild puts in (None removes it); the server owner's keys."""
    if name is None:
        return None, None
    async with api.db.session() as s:
        kp = (
            await s.execute(
                select(m.KeyPair).where(m.KeyPair.user_id == inst.user_id, m.KeyPair.name == name)
            )
        ).scalar_one_or_none()
    if kp is None:
        raise errors.BadRequest("Invalid key_name provided.")
    return kp.name, kp.public_key


async def _rebuilt(request: Request, inst: m.Instance, auth: Auth, password: str) -> dict[str, Any]:
    """Nova's rebuild answer: the server (the full show body from 2.75, the shorter one
    before), with adminPass, key_name from 2.54 and user_data from 2.57."""
    v = version(request)
    server = await full_view(request, inst, auth)
    server.pop("OS-EXT-SRV-ATTR:user_data", None)
    if v >= (2, 54):
        server["key_name"] = inst.key_name
    server["adminPass"] = password
    if v >= (2, 57):
        server["user_data"] = inst.user_data
    return server


async def resize(request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any) -> Response:
    flavor_ref = str(body.get("flavorRef", "")).rstrip("/").rsplit("/", 1)[-1]
    async with api.db.session() as s:
        f = await flavors.find(s, flavor_ref, auth)
        if f is None or f.disabled:
            raise errors.BadRequest(f"Flavor {flavor_ref} could not be found.")
        new = flavors.flavor_dict(f)
        if new["id"] == inst.flavor.get("id"):
            raise errors.BadRequest("When resizing, instances must change flavor!")
        old = await flavors.find(s, str(inst.flavor.get("id", "")))
        limit = await quotas.limits(s, inst.project_id)
        used = await quotas.usage(s, inst.project_id)
    quotas.check(
        limit, used, {"cores": new["vcpus"] - inst.vcpus, "ram": new["ram"] - inst.memory_mb}
    )
    sysmeta = dict(inst.system_metadata or {})
    sysmeta.update(new_flavor=new, old_flavor=dict(inst.flavor), old_vm_state=inst.vm_state)
    change = Change(system_metadata=sysmeta)
    await begin(api, auth, inst, "resize", "resize", states.RESIZE_PREP, change)
    await migration_records.start(api.db, inst, old.id if old else None, f.id)
    await api.conductor.resize_instance(inst.uuid)
    return empty_response(202)


async def confirm_resize(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    source = (inst.system_metadata or {}).get("source_host")
    await begin(api, auth, inst, "confirmResize", "confirmResize", states.RESIZE_CONFIRMING)
    await migration_records.advance(api.db, inst.uuid, "confirming")
    source = source or host_of(inst)
    await api.agent(source).confirm_resize(inst.uuid, source)
    return empty_response(204)


async def revert_resize(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    source = (inst.system_metadata or {}).get("source_host")
    await begin(api, auth, inst, "revertResize", "revertResize", states.RESIZE_REVERTING)
    await migration_records.advance(api.db, inst.uuid, "reverting")
    await api.agent(host_of(inst)).revert_resize(inst.uuid, source or host_of(inst))
    return empty_response(202)


async def create_image(
    request: Request, api: Api, auth: Auth, inst: m.Instance, body: Any
) -> Response:
    if not inst.image_ref:  # volume-backed: volume snapshots and an image naming them
        return await volume_backed.create_image(request, api, auth, inst, body)
    name: str = body["name"]
    props = dict(body.get("metadata", {}))
    props.update(instance_uuid=inst.uuid, image_type="snapshot")
    if inst.image_ref:
        props["base_image_ref"] = inst.image_ref
    disk_format = "raw" if api.settings.compute.virt_driver == "fake" else "qcow2"
    await begin(api, auth, inst, "createImage", "createImage", states.IMAGE_SNAPSHOT)
    try:
        image_id = await api.images.create_queued(name, inst.project_id, props, disk_format)
    except Exception:
        clear = Change(task_state=None)
        await instances.cas(api.db, inst.uuid, task_states=[states.IMAGE_SNAPSHOT], change=clear)
        raise
    await api.agent(host_of(inst)).snapshot_instance(inst.uuid, image_id)
    if version(request) >= (2, 45):  # the image id in the body, no Location header
        return json_response({"image_id": image_id}, status=202)
    location = f"{api.settings.endpoint('image')}/v2/images/{image_id}"
    return empty_response(202, headers={"Location": location})
