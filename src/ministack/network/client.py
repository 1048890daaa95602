"""How other services reach the network service: one Protocol, `NetworkApi`, with two
transports.

- `NetworkClient` (in-process): runs the same code paths as the API as a trusted caller.
- `HttpNetworkClient`: the Networking v2.0 API over HTTP as a service user (`ServiceSession`:
  the `neutron`-side user compute calls as, endpoints from its catalog).

`for_context` picks one. Where it sits: compute's API (a server's networks and ports, `networks:
auto`) and compute's agents (binding a port to the host before plugging its tap) call it.
Naming shared with the agents: a network's bridge is `brq` + network_id[:11], a port's tap
`tap` + port_id[:11] (`bridge_name`, `tap_name`), as Neutron's linuxbridge agent names them.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from sqlalchemy import select

from ministack.common import errors
from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.common.runtime import Context
from ministack.config import Settings
from ministack.identity.client import ServiceSession
from ministack.network import networks, ports, secgroups, subnets
from ministack.network.core import Core, trusted
from ministack.network.models import SecurityGroup
from ministack.network.ports import bridge_name, tap_name

__all__ = ["HttpNetworkClient", "NetworkApi", "NetworkClient", "bridge_name", "tap_name"]


class NetworkApi(Protocol):
    """What other services may ask of the network service. Bodies are the API's (Neutron's)
    dicts. Errors are `errors.ApiError`s: NotFound (absent or not visible to the project),
    Conflict (address in use, IpAddressGenerationFailure, over quota), BadRequest,
    ServiceUnavailable (the network service cannot be reached)."""

    async def get_network(self, network_id: str, project_id: str) -> dict[str, Any]:
        """The network when `project_id` may use it (its own or shared); NotFound otherwise."""
        ...

    async def get_port(self, port_id: str, project_id: str | None = None) -> dict[str, Any]:
        """The port (when `project_id` is given: only if it belongs to that project)."""
        ...

    async def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        """The subnet (compute describes a port's addresses to its guest: CIDR, gateway, DNS,
        routes, DHCP). NotFound when it is gone."""
        ...

    async def create_port(
        self,
        project_id: str,
        network_id: str,
        fixed_ip: str | None = None,
        device_id: str = "",
        device_owner: str = "",
        security_groups: list[str] | None = None,
    ) -> dict[str, Any]:
        """A port of `project_id` on a network it may use, with a free address (or `fixed_ip`),
        in the given security groups (ids; None: the project's default group)."""
        ...

    async def security_group_ids(self, project_id: str, wanted: list[str]) -> list[str]:
        """The ids of the project's security groups named (by name or id) in `wanted`, in
        order; BadRequest naming the first that the project has not (Nova's
        SecurityGroupNotFoundForProject) or a name two of its groups share."""
        ...

    async def bind_port(
        self, port_id: str, host: str, device_id: str, availability_zone: str
    ) -> dict[str, Any]:
        """Bind the port to `host` for instance `device_id`: binding:host_id, device_owner
        `compute:<az>`, vif_type bridge, vif_details {bridge_name, port_filter}. Idempotent."""
        ...

    async def unbind_port(self, port_id: str) -> dict[str, Any]:
        """Clear binding, device_id and device_owner. Idempotent."""
        ...

    async def clear_binding(self, port_id: str) -> dict[str, Any]:
        """Clear the port's host binding only (binding:host_id ''), keeping device_id and
        device_owner: the server still owns it (Nova's shelve offload). Idempotent."""
        ...

    async def list_ports(self, device_id: str) -> list[dict[str, Any]]:
        """The ports of one device (instance), oldest first."""
        ...

    async def delete_port(self, port_id: str) -> None:
        """Delete a port. Idempotent: a port already gone is not an error."""
        ...

    async def available_networks(self, project_id: str) -> list[dict[str, Any]]:
        """The networks `networks: auto` chooses from (Nova 2.37, `_get_available_networks`):
        the project's own unshared networks and every shared network. Exactly one: use it;
        more: ambiguous; none: nothing to attach."""
        ...


def usable(network: dict[str, Any], project_id: str) -> bool:
    return bool(network["project_id"] == project_id or network["shared"])


def resolve_groups(found: list[tuple[str, str]], wanted: list[str], project_id: str) -> list[str]:
    """(id, name) pairs of a project's groups → the ids `wanted` names, by id or name."""
    ids = {i for i, _ in found}
    out: list[str] = []
    for want in wanted:
        match = [want] if want in ids else [i for i, n in found if n == want]
        if not match:
            raise errors.BadRequest(f"Security group {want} not found for project {project_id}.")
        if len(match) > 1:
            raise errors.BadRequest(
                f"Security group name {want} is used by more than one group of the project; "
                "name it by id."
            )
        if match[0] not in out:
            out.append(match[0])
    return out


def port_body(
    project_id: str,
    network_id: str,
    fixed_ip: str | None,
    device_id: str,
    device_owner: str,
    security_groups: list[str] | None,
) -> dict[str, Any]:
    """The POST /v2.0/ports body `create_port` sends (either client)."""
    body: dict[str, Any] = {
        "network_id": network_id,
        "project_id": project_id,
        "device_id": device_id,
        "device_owner": device_owner,
    }
    if fixed_ip:
        body["fixed_ips"] = [{"ip_address": fixed_ip}]
    if security_groups is not None:
        body["security_groups"] = security_groups
    return body


def choose_available(found: list[dict[str, Any]], project_id: str) -> list[dict[str, Any]]:
    """Nova's `_get_available_networks`: the project's own unshared networks, then every
    shared one (so a project with `private` and the seeded `shared` has two: ambiguous)."""
    own = [n for n in found if n["project_id"] == project_id and not n["shared"]]
    shared = [n for n in found if n["shared"]]
    return own + shared


class NetworkClient:
    """`NetworkApi` in-process (the network service runs in this process)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def get_network(self, network_id: str, project_id: str) -> dict[str, Any]:
        found = await networks.show(self.core, trusted(), network_id)
        if not usable(found, project_id):
            raise errors.NotFound(f"Network {network_id} could not be found.")
        return found

    async def get_port(self, port_id: str, project_id: str | None = None) -> dict[str, Any]:
        found = await ports.show(self.core, trusted(), port_id)
        if project_id is not None and found["project_id"] != project_id:
            raise errors.NotFound(f"Port {port_id} could not be found.")
        return found

    async def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        return await subnets.show(self.core, trusted(), subnet_id)

    async def create_port(
        self,
        project_id: str,
        network_id: str,
        fixed_ip: str | None = None,
        device_id: str = "",
        device_owner: str = "",
        security_groups: list[str] | None = None,
    ) -> dict[str, Any]:
        await self.get_network(network_id, project_id)
        body = port_body(project_id, network_id, fixed_ip, device_id, device_owner, security_groups)
        return await ports.create(self.core, trusted(project_id), body)

    async def security_group_ids(self, project_id: str, wanted: list[str]) -> list[str]:
        if secgroups.DEFAULT in wanted:
            async with self.core.db.writer() as w:
                await secgroups.ensure_default(w, project_id)
        async with self.core.db.session() as s:
            query = select(SecurityGroup.id, SecurityGroup.name).where(
                SecurityGroup.project_id == project_id
            )
            found = [(str(i), str(n)) for i, n in (await s.execute(query)).all()]
        return resolve_groups(found, wanted, project_id)

    async def bind_port(
        self, port_id: str, host: str, device_id: str, availability_zone: str
    ) -> dict[str, Any]:
        return await ports.bind(self.core, port_id, host, device_id, f"compute:{availability_zone}")

    async def unbind_port(self, port_id: str) -> dict[str, Any]:
        return await ports.unbind(self.core, port_id)

    async def clear_binding(self, port_id: str) -> dict[str, Any]:
        return await ports.update(self.core, trusted(), port_id, {"binding:host_id": ""}, None)

    async def list_ports(self, device_id: str) -> list[dict[str, Any]]:
        return await ports.of_device(self.core, device_id)

    async def delete_port(self, port_id: str) -> None:
        try:
            await ports.delete(self.core, trusted(), port_id, None)
        except errors.NotFound:
            pass

    async def available_networks(self, project_id: str) -> list[dict[str, Any]]:
        found = await networks.all_visible(self.core, project_id)
        return choose_available(found, project_id)


_ERRORS: dict[int, type[errors.ApiError]] = {
    400: errors.BadRequest,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    503: errors.ServiceUnavailable,
}


def _check(resp: httpx.Response, what: str) -> Any:
    if resp.status_code < 300:
        return resp.json() if resp.content else None
    try:
        body = resp.json()["NeutronError"]
        message, kind = str(body["message"]), str(body["type"])
    except (ValueError, KeyError, TypeError):
        message, kind = resp.text[:300], None
    raise _ERRORS.get(resp.status_code, errors.InternalError)(f"{what}: {message}", kind=kind)


class HttpNetworkClient:
    """`NetworkApi` over HTTP as a service user (admin and service roles on the service
    project, so it sees every project's networks and may bind ports)."""

    def __init__(self, session: ServiceSession) -> None:
        self.session = session

    async def _call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        resp = await self.session.request("network", method, path, **kw)
        return _check(resp, what)

    async def get_network(self, network_id: str, project_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (
            await self._call("GET", f"/v2.0/networks/{network_id}", f"Network {network_id}")
        )["network"]
        if not usable(found, project_id):
            raise errors.NotFound(f"Network {network_id} could not be found.")
        return found

    async def get_port(self, port_id: str, project_id: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = (
            await self._call("GET", f"/v2.0/ports/{port_id}", f"Port {port_id}")
        )["port"]
        if project_id is not None and found["project_id"] != project_id:
            raise errors.NotFound(f"Port {port_id} could not be found.")
        return found

    async def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (
            await self._call("GET", f"/v2.0/subnets/{subnet_id}", f"Subnet {subnet_id}")
        )["subnet"]
        return found

    async def create_port(
        self,
        project_id: str,
        network_id: str,
        fixed_ip: str | None = None,
        device_id: str = "",
        device_owner: str = "",
        security_groups: list[str] | None = None,
    ) -> dict[str, Any]:
        await self.get_network(network_id, project_id)
        body = port_body(project_id, network_id, fixed_ip, device_id, device_owner, security_groups)
        made = await self._call("POST", "/v2.0/ports", "Creating a port", json={"port": body})
        port: dict[str, Any] = made["port"]
        return port

    async def security_group_ids(self, project_id: str, wanted: list[str]) -> list[str]:
        listed = await self._call(
            "GET",
            "/v2.0/security-groups",
            "Listing security groups",
            params={"project_id": project_id, "fields": ["id", "name"]},
        )
        found = [(str(g["id"]), str(g["name"])) for g in listed["security_groups"]]
        return resolve_groups(found, wanted, project_id)

    async def _update(self, port_id: str, body: dict[str, Any]) -> dict[str, Any]:
        done = await self._call(
            "PUT", f"/v2.0/ports/{port_id}", f"Port {port_id}", json={"port": body}
        )
        port: dict[str, Any] = done["port"]
        return port

    async def bind_port(
        self, port_id: str, host: str, device_id: str, availability_zone: str
    ) -> dict[str, Any]:
        body = {
            "binding:host_id": host,
            "device_id": device_id,
            "device_owner": f"compute:{availability_zone}",
        }
        return await self._update(port_id, body)

    async def unbind_port(self, port_id: str) -> dict[str, Any]:
        return await self._update(
            port_id, {"binding:host_id": "", "device_id": "", "device_owner": ""}
        )

    async def clear_binding(self, port_id: str) -> dict[str, Any]:
        return await self._update(port_id, {"binding:host_id": ""})

    async def list_ports(self, device_id: str) -> list[dict[str, Any]]:
        found = await self._call(
            "GET",
            "/v2.0/ports",
            "Listing ports",
            params={"device_id": device_id, "sort_key": "created_at"},
        )
        items: list[dict[str, Any]] = found["ports"]
        return items

    async def delete_port(self, port_id: str) -> None:
        resp = await self.session.request("network", "DELETE", f"/v2.0/ports/{port_id}")
        if resp.status_code != 404:
            _check(resp, f"Deleting port {port_id}")

    async def available_networks(self, project_id: str) -> list[dict[str, Any]]:
        own = await self._call(
            "GET",
            "/v2.0/networks",
            "Listing networks",
            params={"project_id": project_id, "shared": "false"},
        )
        shared = await self._call(
            "GET", "/v2.0/networks", "Listing networks", params={"shared": "true"}
        )
        return choose_available(own["networks"] + shared["networks"], project_id)


def in_process(settings: Settings, db: Database, bus: Bus) -> NetworkClient:
    return NetworkClient(Core(settings, db, bus))


def over_http(settings: Settings, user: str) -> HttpNetworkClient:
    """The HTTP client, logged in as service user `user` ([service_auth] <user>_password)."""
    return HttpNetworkClient(ServiceSession.for_service(settings, user))


def for_context(ctx: Context, user: str) -> NetworkApi:
    """In-process when the network service runs in this process, over HTTP otherwise."""
    if ctx.runs("network"):
        return in_process(ctx.settings, ctx.db, ctx.bus)
    return over_http(ctx.settings, user)
