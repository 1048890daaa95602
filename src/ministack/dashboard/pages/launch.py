"""The launch wizard: one form that becomes one ``POST /servers``.

The source is an image (or an instance snapshot, which is an image too), optionally copied
into a new volume, an existing bootable volume, or a volume snapshot; a volume source becomes
a ``block_device_mapping_v2`` entry with boot index 0 and no ``imageRef``, as the CLI's
``--volume`` / ``--snapshot`` / ``--boot-from-volume`` send it. Each flavor is shown with what
it would leave of the project's vCPU and RAM quota (``GET /limits``). The compute API checks
everything again and its message is shown when it refuses.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from starlette.datastructures import FormData
from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page

MAX_COUNT = 100
SOURCES = ("image", "volume", "snapshot")
VOLUME_SERVICE = "volumev3"


async def _optional(p: Page, service: str, path: str, key: str, **params: Any) -> list[Any]:
    """A list from a service the login may not have (then empty)."""
    if not p.login.has(service):
        return []
    body = await p.get(service, path, **params)
    found = body.get(key, []) if isinstance(body, dict) else []
    return list(found)


def _split_images(images: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """(images, instance snapshots): Nova marks its snapshots with image_type=snapshot."""
    snaps = [i for i in images if i.get("image_type") == "snapshot"]
    return [i for i in images if i.get("image_type") != "snapshot"], snaps


def flavor_costs(flavors: list[dict[str, Any]], limits: dict[str, Any]) -> list[dict[str, Any]]:
    """Each flavor with what one instance of it leaves of the vCPU and RAM quota."""
    absolute = limits.get("absolute", {}) if isinstance(limits, dict) else {}
    cores_left = int(absolute.get("maxTotalCores", -1)) - int(absolute.get("totalCoresUsed", 0))
    ram_left = int(absolute.get("maxTotalRAMSize", -1)) - int(absolute.get("totalRAMUsed", 0))
    unlimited_cores = int(absolute.get("maxTotalCores", -1)) < 0
    unlimited_ram = int(absolute.get("maxTotalRAMSize", -1)) < 0
    out = []
    for f in sorted(flavors, key=lambda f: (f["vcpus"], f["ram"])):
        cost = []
        if not unlimited_cores:
            cost.append(f"leaves {cores_left - f['vcpus']} of {cores_left} vCPUs")
        if not unlimited_ram:
            cost.append(f"{ram_left - f['ram']} of {ram_left} MB RAM")
        fits = (unlimited_cores or f["vcpus"] <= cores_left) and (
            unlimited_ram or f["ram"] <= ram_left
        )
        out.append({**f, "cost": ", ".join(cost), "fits": fits})
    return out


async def launch_form(p: Page) -> Response:
    images, flavors, keys, zones, limits = await asyncio.gather(
        p.get("image", "/v2/images", limit=1000, status="active"),
        p.get("compute", "/flavors/detail"),
        p.get("compute", "/os-keypairs"),
        p.get("compute", "/os-availability-zone"),
        p.get("compute", "/limits"),
    )
    volumes, snapshots, networks, groups = await asyncio.gather(
        _optional(p, VOLUME_SERVICE, "/volumes/detail", "volumes", status="available"),
        _optional(p, VOLUME_SERVICE, "/snapshots/detail", "snapshots", status="available"),
        _optional(p, "network", "/v2.0/networks", "networks"),
        _optional(
            p, "network", "/v2.0/security-groups", "security_groups", project_id=p.login.project_id
        ),
    )
    plain, instance_snapshots = _split_images(images.get("images", []))
    return p.render(
        "launch.html",
        networks=sorted(
            (n for n in networks if not n.get("router:external")),
            key=lambda n: str(n.get("name", "")),
        ),
        security_groups=sorted(groups, key=lambda g: str(g.get("name", ""))),
        images=plain,
        instance_snapshots=instance_snapshots,
        volumes=[v for v in volumes if str(v.get("bootable", "false")).lower() == "true"],
        snapshots=snapshots,
        flavors=flavor_costs(flavors.get("flavors", []), limits.get("limits", {})),
        keypairs=[k["keypair"] for k in keys.get("keypairs", [])],
        zones=[
            z["zoneName"]
            for z in zones.get("availabilityZoneInfo", [])
            if (z.get("zoneState") or {}).get("available")
        ],
    )


def _size(form: FormData) -> int:
    text = field(form, "volume_size") or "1"
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, "The new volume's size must be a whole number of GB, at least 1.")
    return int(text)


def boot_source(form: FormData) -> dict[str, Any]:
    """The server body's part that names what it boots from (imageRef or a volume BDM)."""
    source = field(form, "source_type") or "image"
    if source not in SOURCES:
        raise ApiError(400, f"Unknown boot source {source!r}.")
    keep = field(form, "delete_on_termination") != "on"
    if source == "image":
        image = field(form, "image")
        if not image:
            raise ApiError(400, "Choose an image to boot from.")
        if field(form, "new_volume") != "on":
            return {"imageRef": image}
        bdm = {"source_type": "image", "uuid": image, "volume_size": _size(form)}
    else:
        uuid = field(form, source)
        if not uuid:
            raise ApiError(400, f"Choose a {'volume' if source == 'volume' else 'snapshot'}.")
        bdm = {"source_type": source, "uuid": uuid}
        if source == "snapshot":
            bdm["volume_size"] = _size(form)
    bdm.update({"destination_type": "volume", "boot_index": 0, "delete_on_termination": not keep})
    return {"imageRef": "", "block_device_mapping_v2": [bdm]}


async def launch(p: Page) -> Response:
    form = await p.form()
    count_text = field(form, "count") or "1"
    if not count_text.isdigit() or not 1 <= int(count_text) <= MAX_COUNT:
        raise ApiError(400, f"Count must be a whole number from 1 to {MAX_COUNT}.")
    server: dict[str, Any] = {
        "name": field(form, "name"),
        **boot_source(form),
        "flavorRef": field(form, "flavor"),
        "min_count": int(count_text),
        "max_count": int(count_text),
    }
    chosen = [n for n in form.getlist("network") if isinstance(n, str) and n]
    if chosen:  # the compute API's own message is shown if it refuses them
        server["networks"] = [{"uuid": n} for n in chosen]
    groups = [g for g in form.getlist("security_group") if isinstance(g, str) and g]
    if groups:
        server["security_groups"] = [{"name": g} for g in groups]
    if field(form, "key_name"):
        server["key_name"] = field(form, "key_name")
    if field(form, "availability_zone"):
        server["availability_zone"] = field(form, "availability_zone")
    user_data = form.get("user_data")
    if isinstance(user_data, str) and user_data.strip():
        # a browser sends a textarea's lines as CRLF; a guest's shell script needs LF
        text = user_data.replace("\r\n", "\n")
        server["user_data"] = base64.b64encode(text.encode()).decode()
    await p.call("compute", "POST", "/servers", json={"server": server})
    what = f"{count_text} instances" if count_text != "1" else "instance"
    return p.redirect("/project/instances", ok=f"Launching {what} {server['name']}.")


ROUTES = [
    page("/project/instances/launch", launch_form),
    page("/project/instances/launch", launch, ["POST"]),
]
