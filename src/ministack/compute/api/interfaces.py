"""Nova's os-interface: `GET/POST /servers/{id}/os-interface`, `GET/DELETE
/servers/{id}/os-interface/{port_id}` (`openstack server add port|network`, `server remove
port|network`).

Request flow: validate → authorize → the server must be on a host and in a state that takes a
NIC (409) → the port or network is checked through the network client (404/409, nothing made)
→ the host's agent is called over RPC and answers once the NIC is plugged
(compute/agent/interfaces.py). Listing reads the ports from the network service, as Nova does.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, validation
from ministack.common import params as p
from ministack.common.rpc.base import RpcError
from ministack.common.web import empty_response, json_response
from ministack.compute import models as m
from ministack.compute import states
from ministack.compute.api.common import Api, api_of, caller, route, version
from ministack.compute.api.servers import load
from ministack.compute.rpcapi.agent import InterfaceAnswer, InterfaceAttach, InterfaceDetach
from ministack.network.client import NetworkApi

TAG_SHOWN = (2, 70)  # interface attachments show their device tag
ATTACHABLE = (states.ACTIVE, states.PAUSED, states.STOPPED, states.SUSPENDED)
RPC_SLACK = 60.0  # seconds the API waits for the host beyond its vif_plugging_timeout

# Kept here rather than in schemas.py: the one body of this resource (Nova's
# attach_interfaces.create schema).
attach_body = p.envelope(
    "interfaceAttachment",
    p.obj(
        {
            "net_id": p.uuid,
            "port_id": p.uuid,
            "fixed_ips": p.array(p.obj({"ip_address": {"anyOf": [p.ipv4, p.ipv6]}})),
            "tag": p.tag,
        }
    ),
)


def _network(api: Api) -> NetworkApi:
    if api.network is None:
        raise errors.Conflict("There is no network service in this cloud.")
    return api.network


def _render(request: Request, port: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "net_id": port["network_id"],
        "port_id": port["id"],
        "mac_addr": port["mac_address"],
        "port_state": port["status"],
        "fixed_ips": [
            {"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
            for f in port.get("fixed_ips") or []
        ],
    }
    if version(request) >= TAG_SHOWN:
        body["tag"] = None
    return body


async def list_interfaces(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-attach-interfaces:list")
    inst = await load(request, auth)
    ports = await _network(api_of(request)).list_ports(inst.uuid)
    return json_response({"interfaceAttachments": [_render(request, x) for x in ports]})


async def show_interface(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-attach-interfaces:show")
    inst = await load(request, auth)
    port_id = request.path_params["port_id"]
    ports = await _network(api_of(request)).list_ports(inst.uuid)
    found = next((x for x in ports if x["id"] == port_id), None)
    if found is None:
        raise errors.NotFound(f"Instance {inst.uuid} is not attached to port {port_id}.")
    return json_response({"interfaceAttachment": _render(request, found)})


def _ready(inst: m.Instance, action: str) -> str:
    if inst.host is None or inst.vm_state not in ATTACHABLE or inst.task_state is not None:
        raise errors.Conflict(
            f"Cannot '{action}' instance {inst.uuid} while it is in vm_state {inst.vm_state}"
        )
    return inst.host


async def _request(network: NetworkApi, inst: m.Instance, body: dict[str, Any]) -> InterfaceAttach:
    """What to attach, checked up front: 404 unknown port or network, 409 a port in use, 400
    no network given and not exactly one to choose."""
    project = inst.project_id
    port_id, net_id = body.get("port_id"), body.get("net_id")
    fixed = [f["ip_address"] for f in body.get("fixed_ips") or []]
    if port_id:
        port = await network.get_port(port_id, project)
        if port.get("device_id"):
            raise errors.Conflict(f"Port {port_id} is still in use.")
        return InterfaceAttach(inst.uuid, port_id=port_id)
    if fixed and not net_id:
        raise errors.BadRequest("Must input network_id when request IP address")
    if not net_id:
        found = await network.available_networks(project)
        if len(found) != 1:
            raise errors.BadRequest(
                "Failed to allocate the network(s) with error No valid network found, not "
                "rescheduling."
                if not found
                else "Multiple possible networks found, use a Network ID to be more specific."
            )
        net_id = found[0]["id"]
    await network.get_network(str(net_id), project)
    return InterfaceAttach(inst.uuid, network_id=net_id, fixed_ip=fixed[0] if fixed else None)


def _check(answer: InterfaceAnswer) -> None:
    if answer.error is None:
        return
    kinds: dict[int, type[errors.ApiError]] = {
        400: errors.BadRequest,
        404: errors.NotFound,
        409: errors.Conflict,
    }
    raise kinds.get(answer.status, errors.InternalError)(answer.error)


def _timeout(api: Api) -> float:
    return api.settings.compute.vif_plugging_timeout + RPC_SLACK


async def create_interface(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-attach-interfaces:create")
    api = api_of(request)
    inst = await load(request, auth)
    body = validation.body(request)["interfaceAttachment"]
    host = _ready(inst, "attach_interface")
    network = _network(api)
    req = await _request(network, inst, body)
    try:
        answer = await api.agent(host).attach_interface(req, _timeout(api))
    except RpcError:
        raise errors.Conflict(f"Host {host} of instance {inst.uuid} did not answer.") from None
    _check(answer)
    port = await network.get_port(answer.port_id)
    return json_response({"interfaceAttachment": _render(request, port)})


async def delete_interface(request: Request) -> Response:
    auth = await caller(request, "os_compute_api:os-attach-interfaces:delete")
    api = api_of(request)
    inst = await load(request, auth)
    host = _ready(inst, "detach_interface")
    req = InterfaceDetach(inst.uuid, request.path_params["port_id"])
    try:
        answer = await api.agent(host).detach_interface(req, _timeout(api))
    except RpcError:
        raise errors.Conflict(f"Host {host} of instance {inst.uuid} did not answer.") from None
    _check(answer)
    return empty_response(202)


ROUTES: list[BaseRoute] = [
    route("/v2.1/servers/{server_id}/os-interface", list_interfaces, "GET"),
    route("/v2.1/servers/{server_id}/os-interface", create_interface, "POST", body=attach_body),
    route("/v2.1/servers/{server_id}/os-interface/{port_id}", show_interface, "GET"),
    route("/v2.1/servers/{server_id}/os-interface/{port_id}", delete_interface, "DELETE"),
]
