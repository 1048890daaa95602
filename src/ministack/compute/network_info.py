"""A server's ports as compute keeps them (Nova's instance info_cache): what the API shows as
`addresses`, what the driver plugs (`Vif`s) and what the guest reads (`network_data.json`).

Kept in the instance's system_metadata under `network_info` — one entry per port, written by
the agent when it binds the ports, refreshed on `network-changed` — so listing servers needs
no call to the network service. The requested NICs of a create live in the request_spec under
`networks` (compute/api/server_networks.py). `release` frees a server's ports on delete:
ports compute made are deleted, ports the user passed in are unbound and kept.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from ministack.common import errors
from ministack.compute import models as m
from ministack.network.client import NetworkApi, bridge_name, tap_name

log = logging.getLogger("ministack.compute")

REQUESTED_KEY = "networks"
"""request_spec key: the requested NICs, [{"network_id", "fixed_ip"?} | {"port_id", ...}]."""
INFO_KEY = "network_info"
"""system_metadata key: the info cache, one `describe` entry per port."""


def info_of(inst: m.Instance) -> list[dict[str, Any]]:
    """The instance's cached ports (empty when it has none)."""
    found: list[dict[str, Any]] = list((inst.system_metadata or {}).get(INFO_KEY) or [])
    return found


def requested_of(inst: m.Instance) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = list((inst.request_spec or {}).get(REQUESTED_KEY) or [])
    return found


async def describe(
    network: NetworkApi, port: dict[str, Any], project_id: str, *, preserve: bool
) -> dict[str, Any]:
    """One info-cache entry for a bound port: its network's name and MTU, its addresses and
    their subnets. `preserve`: the user passed the port in (kept on delete)."""
    net = await network.get_network(port["network_id"], project_id)
    subnets: dict[str, dict[str, Any]] = {}
    ips = []
    for fixed in port.get("fixed_ips") or []:
        sid = fixed["subnet_id"]
        if sid not in subnets:
            sub = await network.get_subnet(sid)
            subnets[sid] = {
                "cidr": sub["cidr"],
                "gateway_ip": sub.get("gateway_ip"),
                "dns_nameservers": list(sub.get("dns_nameservers") or []),
                "host_routes": list(sub.get("host_routes") or []),
                "enable_dhcp": bool(sub.get("enable_dhcp")),
            }
        version = ipaddress.ip_address(fixed["ip_address"]).version
        ips.append({"address": fixed["ip_address"], "version": version, "subnet_id": sid})
    details = port.get("binding:vif_details") or {}
    return {
        "port_id": port["id"],
        "network_id": port["network_id"],
        "network_name": net.get("name") or port["network_id"],
        "mac": port["mac_address"],
        "mtu": int(net.get("mtu") or 1500),
        "bridge": details.get("bridge_name") or bridge_name(port["network_id"]),
        "tap": tap_name(port["id"]),
        "vif_type": port.get("binding:vif_type") or "bridge",
        "ips": ips,
        "subnets": subnets,
        "preserve": preserve,
    }


def addresses(info: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Nova's `addresses`: network name → its fixed addresses with their MAC."""
    shown: dict[str, list[dict[str, Any]]] = {}
    for entry in info:
        for ip in entry["ips"]:
            shown.setdefault(entry["network_name"], []).append(
                {
                    "version": ip["version"],
                    "addr": ip["address"],
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": entry["mac"],
                }
            )
    return shown


def network_data(info: list[dict[str, Any]]) -> dict[str, Any]:
    """The guest's network_data.json as Nova writes it: one link per port, one network per
    address (ipv4_dhcp where the subnet has DHCP, else static with netmask and routes), and
    the DNS servers as services."""
    links: list[dict[str, Any]] = []
    nets: list[dict[str, Any]] = []
    services: list[dict[str, str]] = []
    for entry in info:
        links.append(
            {
                "id": entry["tap"],
                "vif_id": entry["port_id"],
                "type": entry["vif_type"],
                "mtu": entry["mtu"],
                "ethernet_mac_address": entry["mac"],
            }
        )
        for ip in entry["ips"]:
            subnet = entry["subnets"].get(ip["subnet_id"], {})
            nets.append(_network(len(nets), entry, ip, subnet))
            for dns in subnet.get("dns_nameservers", []):
                service = {"type": "dns", "address": dns}
                if service not in services:
                    services.append(service)
    return {"links": links, "networks": nets, "services": services}


def _network(
    index: int, entry: dict[str, Any], ip: dict[str, Any], subnet: dict[str, Any]
) -> dict[str, Any]:
    v6 = ip["version"] == 6
    base = {"id": f"network{index}", "link": entry["tap"], "network_id": entry["network_id"]}
    if subnet.get("enable_dhcp"):
        return {**base, "type": "ipv6_dhcp" if v6 else "ipv4_dhcp"}
    cidr = ipaddress.ip_network(subnet.get("cidr") or ip["address"], strict=False)
    routes = []
    if subnet.get("gateway_ip"):
        default = "::" if v6 else "0.0.0.0"
        routes.append({"network": default, "netmask": default, "gateway": subnet["gateway_ip"]})
    for route in subnet.get("host_routes", []):
        dest = ipaddress.ip_network(route["destination"], strict=False)
        routes.append(
            {
                "network": str(dest.network_address),
                "netmask": str(dest.netmask),
                "gateway": route["nexthop"],
            }
        )
    return {
        **base,
        "type": "ipv6" if v6 else "ipv4",
        "ip_address": ip["address"],
        "netmask": str(cidr.netmask),
        "routes": routes,
        "services": [{"type": "dns", "address": d} for d in subnet.get("dns_nameservers", [])],
    }


async def release(network: NetworkApi | None, inst: m.Instance) -> None:
    """Free the server's ports: the ones compute made are deleted, the ones the user passed in
    are unbound (device_id cleared) and kept. Idempotent; a port already gone is fine. A
    server that never asked for a NIC nor got one costs no call to the network service."""
    if network is None or not (requested_of(inst) or info_of(inst)):
        return
    kept = {w["port_id"] for w in requested_of(inst) if "port_id" in w}
    kept |= {e["port_id"] for e in info_of(inst) if e.get("preserve")}
    for port in await network.list_ports(inst.uuid):
        try:
            if port["id"] in kept:
                await network.unbind_port(port["id"])
            else:
                await network.delete_port(port["id"])
        except errors.NotFound:
            continue
