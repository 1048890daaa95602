"""POST /servers `networks`: what the create body asks for, checked against the network service
before anything is made (PROMISES 13), as Nova's `validate_networks` does.

Each entry becomes a requested NIC in the instance's request_spec (`networks`): a port the
user passed ({"port_id"}), or a network to make a port on ({"network_id", "fixed_ip"}). The
agent of the chosen host creates and binds the ports (compute/agent/networking.py).
`auto` picks the single network available to the project (Nova 2.37); `none` asks for none.
"""

from __future__ import annotations

from typing import Any

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.compute.network_info import REQUESTED_KEY
from ministack.network.client import NetworkApi

__all__ = ["REQUESTED_KEY", "requested_networks"]


async def requested_networks(
    network: NetworkApi | None, value: Any, auth: Auth, max_count: int
) -> list[dict[str, Any]]:
    """The requested NICs of a create body; 400/409 (nothing made) when one cannot be had.
    Without a network service in this cloud only `auto`, `none` or nothing is accepted."""
    if value == "none" or value == []:
        return []
    if network is None:
        if value is None or value == "auto":
            return []
        raise errors.BadRequest(
            "Requested networks are not available: there is no network service in this "
            "cloud; use networks 'auto' or 'none'."
        )
    project = auth.project_id or ""
    if value is None or value == "auto":
        return await _auto(network, project, required=value == "auto")
    wanted: list[dict[str, Any]] = []
    for item in value:
        wanted.append(await _one(network, item, project, max_count))
    _no_duplicates(wanted)
    return wanted


async def _auto(network: NetworkApi, project: str, *, required: bool) -> list[dict[str, Any]]:
    """Nova's choice among the project's networks and the shared ones: exactly one is used;
    more is ambiguous (409); none is a 400 for `auto` (no auto-allocated topology here) and
    no NIC for a body without `networks` (before 2.37)."""
    found = await network.available_networks(project)
    if len(found) == 1:
        return [{"network_id": found[0]["id"]}]
    if len(found) > 1:
        raise errors.Conflict(
            "Multiple possible networks found, use a Network ID to be more specific."
        )
    if required:
        raise errors.BadRequest(
            f"Unable to automatically allocate a network for project {project}: it has no "
            "network of its own and none is shared with it; create one or ask for 'none'."
        )
    return []


async def _one(
    network: NetworkApi, item: dict[str, Any], project: str, max_count: int
) -> dict[str, Any]:
    port_id, net_id, fixed_ip = item.get("port"), item.get("uuid"), item.get("fixed_ip")
    if port_id:
        if max_count > 1:
            raise errors.BadRequest(
                "Unable to launch multiple instances with a single configured port ID. "
                "Please launch your instance one by one with different ports."
            )
        return await _port(network, str(port_id), project)
    if not net_id:
        raise errors.BadRequest("Bad networks format: network uuid is not in proper format ()")
    if fixed_ip and max_count > 1:
        raise errors.BadRequest("max_count cannot be greater than 1 if an fixed_ip is specified.")
    try:
        await network.get_network(str(net_id), project)
    except errors.NotFound:
        raise errors.BadRequest(f"Network {net_id} could not be found.") from None
    wanted: dict[str, Any] = {"network_id": str(net_id)}
    if fixed_ip:
        wanted["fixed_ip"] = str(fixed_ip)
    return wanted


async def _port(network: NetworkApi, port_id: str, project: str) -> dict[str, Any]:
    try:
        port = await network.get_port(port_id, project)
    except errors.NotFound:
        raise errors.BadRequest(f"Port {port_id} could not be found.") from None
    if port.get("device_id"):
        raise errors.Conflict(f"Port {port_id} is still in use.")
    return {"port_id": port_id, "network_id": port["network_id"]}


def _no_duplicates(wanted: list[dict[str, Any]]) -> None:
    ports = [w["port_id"] for w in wanted if "port_id" in w]
    if len(ports) != len(set(ports)):
        raise errors.BadRequest("Port id is duplicated in the requested networks.")
    ips = [w["fixed_ip"] for w in wanted if w.get("fixed_ip")]
    if len(ips) != len(set(ips)):
        raise errors.BadRequest("Fixed IP address is duplicated in the requested networks.")
