"""`ministack seed`: what a fresh all-in-one cloud offers its users, created once.

Where it sits: `./stack.sh` runs it after `ministack up`. It talks to the running cloud over
its public APIs with the admin credentials of the configuration, like any client would:

- the guest test image `ministack-test` (built from Debian packages, cached) registered as a
  public qcow2 image, unless an active image of that name with the same sha512 exists; an
  older image of that name is renamed, so the name stays unambiguous for `--image`;
- DevStack's default flavors (m1.nano … m1.xlarge), each only when no flavor has its name;
- DevStack's networks (when the network service runs): `private` (10.0.0.0/26, DHCP) owned
  by the admin project and `shared` (192.168.233.0/24, shared), each with its subnet, each
  only when missing.

Idempotent, and fast when everything exists (one login, three GETs, one hash of ~13 MB).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ministack.compute.guestimage import DEFAULT_CACHE_DIR, IMAGE_NAME, build_test_image
from ministack.config import Settings

TIMEOUT = 60.0
IMAGE_PROPERTIES = {"hw_disk_bus": "virtio", "os_type": "linux", "os_distro": "debian"}


@dataclass(frozen=True)
class FlavorSpec:
    id: str
    name: str
    ram: int
    disk: int
    vcpus: int


DEFAULT_FLAVORS = (
    FlavorSpec("42", "m1.nano", 128, 1, 1),
    FlavorSpec("84", "m1.micro", 192, 1, 1),
    FlavorSpec("1", "m1.tiny", 512, 1, 1),
    FlavorSpec("2", "m1.small", 2048, 20, 1),
    FlavorSpec("3", "m1.medium", 4096, 40, 2),
    FlavorSpec("4", "m1.large", 8192, 80, 4),
    FlavorSpec("5", "m1.xlarge", 16384, 160, 8),
)


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    subnet: str
    cidr: str
    shared: bool


DEFAULT_NETWORKS = (
    NetworkSpec("private", "private-subnet", "10.0.0.0/26", False),
    NetworkSpec("shared", "shared-subnet", "192.168.233.0/24", True),
)


class SeedError(Exception):
    """Seeding failed; the message says which request and why."""


def image_cache_dir(settings: Settings) -> Path:
    """/var/cache/ministack/guestimage when writable (shared with the tests), else under the
    state directory."""
    shared = DEFAULT_CACHE_DIR
    try:
        shared.mkdir(parents=True, exist_ok=True)
    except OSError:
        return settings.state_path / "guestimage"
    return shared if os.access(shared, os.W_OK) else settings.state_path / "guestimage"


def _check(resp: httpx.Response, what: str) -> httpx.Response:
    if resp.status_code >= 400:
        raise SeedError(f"{what} failed: {resp.status_code} {resp.text[:300]}")
    return resp


def admin_client(settings: Settings) -> httpx.Client:
    """An httpx client carrying a fresh admin token (project admin, domain default)."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"id": "default"},
                        "password": settings.identity.admin_password,
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    url = settings.endpoint("identity") + "/v3/auth/tokens"
    try:
        resp = httpx.post(url, json=body, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise SeedError(f"cannot reach identity at {url} ({exc}): is `ministack up` done?") from exc
    _check(resp, "admin login")
    return httpx.Client(headers={"X-Auth-Token": resp.headers["X-Subject-Token"]}, timeout=TIMEOUT)


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_test_image(settings: Settings, http: httpx.Client, path: Path) -> tuple[str, bool]:
    """The id of the active public `ministack-test` image holding `path`; uploaded when
    missing (returns created=True). On an upload error the new image record is deleted."""
    base = settings.endpoint("image") + "/v2/images"
    wanted = _sha512(path)
    found = _check(http.get(base, params={"name": IMAGE_NAME}), "listing images").json()
    for image in found["images"]:
        if image["status"] == "active" and image.get("os_hash_value") == wanted:
            return str(image["id"]), False
    body: dict[str, Any] = {
        "name": IMAGE_NAME,
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "public",
        **IMAGE_PROPERTIES,
    }
    image = _check(http.post(base, json=body), "creating the image").json()
    try:
        with path.open("rb") as data:
            _check(
                http.put(
                    f"{base}/{image['id']}/file",
                    content=data,
                    headers={"Content-Type": "application/octet-stream"},
                ),
                "uploading the image",
            )
    except BaseException:
        http.delete(f"{base}/{image['id']}")
        raise
    for old in found["images"]:  # keep `--image ministack-test` unambiguous
        patch = [{"op": "replace", "path": "/name", "value": f"{IMAGE_NAME}-old-{old['id'][:8]}"}]
        http.patch(
            f"{base}/{old['id']}",
            json=patch,
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
        )
    return str(image["id"]), True


def ensure_flavors(settings: Settings, http: httpx.Client) -> list[str]:
    """Create each default flavor no flavor (public or private) is named like; returns the
    names created."""
    base = settings.endpoint("compute") + "/v2.1/flavors"
    listed = _check(http.get(base, params={"is_public": "None"}), "listing flavors").json()
    have = {f["name"] for f in listed["flavors"]}
    ids = {f["id"] for f in listed["flavors"]}
    created = []
    for spec in DEFAULT_FLAVORS:
        if spec.name in have:
            continue
        body: dict[str, Any] = {
            "name": spec.name,
            "ram": spec.ram,
            "disk": spec.disk,
            "vcpus": spec.vcpus,
        }
        if spec.id not in ids:
            body["id"] = spec.id
        _check(http.post(base, json={"flavor": body}), f"creating flavor {spec.name}")
        created.append(spec.name)
    return created


def ensure_networks(settings: Settings, http: httpx.Client) -> list[str]:
    """Create DevStack's `private` and `shared` networks (owned by the admin project, the
    token's) and their subnets where missing; returns what was created."""
    base = settings.endpoint("network") + "/v2.0"
    created = []
    for spec in DEFAULT_NETWORKS:
        found = _check(http.get(f"{base}/networks", params={"name": spec.name}), "listing networks")
        networks = found.json()["networks"]
        if networks:
            network = networks[0]
        else:
            body = {"network": {"name": spec.name, "shared": spec.shared}}
            made = _check(http.post(f"{base}/networks", json=body), f"creating {spec.name}")
            network = made.json()["network"]
            created.append(spec.name)
        subnets = _check(
            http.get(f"{base}/subnets", params={"network_id": network["id"]}), "listing subnets"
        ).json()["subnets"]
        if any(s["cidr"] == spec.cidr for s in subnets):
            continue
        body = {
            "subnet": {
                "name": spec.subnet,
                "network_id": network["id"],
                "ip_version": 4,
                "cidr": spec.cidr,
                "enable_dhcp": True,
            }
        }
        _check(http.post(f"{base}/subnets", json=body), f"creating {spec.subnet}")
        created.append(spec.subnet)
    return created


PUBLIC_CIDR = "172.24.4.0/24"


def ensure_public_router(settings: Settings, http: httpx.Client) -> list[str]:
    """DevStack's `public` (flat, router:external, 172.24.4.0/24, gateway 172.24.4.1 held by
    the host's bridge, no uplink, no DHCP) and `router1` joining `private` to it, where
    missing; returns what was created. Only when the network agent runs (it makes them real)."""
    base = settings.endpoint("network") + "/v2.0"
    created = []

    def one(kind: str, name: str) -> dict[str, Any] | None:
        found = _check(http.get(f"{base}/{kind}s", params={"name": name}), f"listing {kind}s")
        items: list[dict[str, Any]] = found.json()[f"{kind}s"]
        return items[0] if items else None

    public = one("network", "public")
    if public is None:
        body = {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        }
        made = _check(http.post(f"{base}/networks", json={"network": body}), "creating public")
        public = made.json()["network"]
        created.append("public")
    if one("subnet", "public-subnet") is None:
        body = {
            "name": "public-subnet",
            "network_id": public["id"],
            "ip_version": 4,
            "cidr": PUBLIC_CIDR,
            "gateway_ip": "172.24.4.1",
            "enable_dhcp": False,
        }
        _check(http.post(f"{base}/subnets", json={"subnet": body}), "creating public-subnet")
        created.append("public-subnet")
    if one("router", "router1") is None:
        body = {"name": "router1", "external_gateway_info": {"network_id": public["id"]}}
        made = _check(http.post(f"{base}/routers", json={"router": body}), "creating router1")
        router = made.json()["router"]
        private = one("subnet", "private-subnet")
        if private is not None:
            _check(
                http.put(
                    f"{base}/routers/{router['id']}/add_router_interface",
                    json={"subnet_id": private["id"]},
                ),
                "joining private-subnet to router1",
            )
        created.append("router1")
    return created


def runs(settings: Settings, service: str) -> bool:
    enabled = settings.services.enabled
    return "all" in enabled or service in enabled


def seed(settings: Settings) -> list[str]:
    """Build and register the test image and create the default flavors; returns what it
    did, one line each. Raises SeedError (or GuestImageError) saying what failed."""
    path = build_test_image(image_cache_dir(settings))
    done = []
    with admin_client(settings) as http:
        image_id, created = ensure_test_image(settings, http, path)
        done.append(f"image {IMAGE_NAME} {image_id}: {'registered' if created else 'present'}")
        made = ensure_flavors(settings, http)
        done.append(f"flavors created: {', '.join(made)}" if made else "flavors: present")
        if runs(settings, "network"):
            nets = ensure_networks(settings, http)
            if settings.network_agent.enabled:
                nets += ensure_public_router(settings, http)
            done.append(f"networks created: {', '.join(nets)}" if nets else "networks: present")
    return done
