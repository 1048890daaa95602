"""Network topology: the project's routers, networks and instances and their links as an SVG
picture drawn on the server, each node a link to its page; htmx fetches the picture again every
`POLL` (``/project/network_topology/picture``), so it follows changes without a reload.

What is linked comes from the ports (``GET /v2.0/ports``): a router interface port
(device_owner ``network:router_interface*``) links its router to its network, a port whose
device_owner starts with ``compute:`` links the server named by its device_id; a router's
external gateway links it to the external network (dashed).
Server names come from the compute API when it is in the catalog.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.pages.networks import SERVICE, all_networks
from ministack.dashboard.web import Page, page

COLUMNS = {"router": 20, "network": 330, "instance": 640}
NODE_W, NODE_H, STEP, TOP = 240, 40, 64, 40


@dataclass(frozen=True)
class Node:
    kind: str  # router | network | instance
    id: str
    label: str
    href: str
    x: int
    y: int

    @property
    def cy(self) -> int:
        return self.y + NODE_H // 2


@dataclass(frozen=True)
class Link:
    x1: int
    y1: int
    x2: int
    y2: int
    kind: str  # interface | gateway | port


def _place(kind: str, items: list[tuple[str, str]], url: str) -> list[Node]:
    return [
        Node(kind, iid, label, url + quote(iid, safe=""), COLUMNS[kind], TOP + i * STEP)
        for i, (iid, label) in enumerate(sorted(items, key=lambda t: t[1]))
    ]


async def _server_names(p: Page) -> dict[str, str]:
    if not p.login.has("compute"):
        return {}
    try:
        body = await p.get("compute", "/servers", limit=1000)
    except ApiError:
        return {}
    return {s["id"]: s.get("name") or s["id"] for s in body.get("servers", [])}


def layout(
    networks: list[dict[str, Any]],
    routers: list[dict[str, Any]],
    ports: list[dict[str, Any]],
    server_names: dict[str, str],
) -> tuple[list[Node], list[Link]]:
    """Nodes in three columns (routers, networks, instances) and the links between them."""
    servers = {
        str(pt["device_id"])
        for pt in ports
        if str(pt.get("device_owner", "")).startswith("compute:") and pt.get("device_id")
    }
    nets = _place(
        "network", [(n["id"], n.get("name") or n["id"]) for n in networks], "/project/networks/"
    )
    rts = _place(
        "router", [(r["id"], r.get("name") or r["id"]) for r in routers], "/project/routers/"
    )
    vms = _place(
        "instance", [(s, server_names.get(s, s[:13])) for s in servers], "/project/instances/"
    )
    at = {(n.kind, n.id): n for n in [*nets, *rts, *vms]}
    pairs: set[tuple[str, str, str, str]] = set()
    for pt in ports:
        owner = str(pt.get("device_owner", ""))
        # a router's gateway port is drawn from its external_gateway_info (dashed)
        kind = (
            "router"
            if owner.startswith("network:router_interface")
            else ("instance" if owner.startswith("compute:") else "")
        )
        if kind:
            pairs.add((kind, str(pt.get("device_id")), str(pt.get("network_id")), "port"))
    for r in routers:
        gw = (r.get("external_gateway_info") or {}).get("network_id")
        if gw:
            pairs.add(("router", r["id"], str(gw), "gateway"))
    links = []
    for kind, dev, net, how in sorted(pairs):
        a, b = at.get((kind, dev)), at.get(("network", net))
        if a is None or b is None:
            continue
        if kind == "router":
            links.append(Link(a.x + NODE_W, a.cy, b.x, b.cy, how))
        else:
            links.append(Link(b.x + NODE_W, b.cy, a.x, a.cy, how))
    return [*nets, *rts, *vms], links


POLL = "5s"  # the picture redraws itself from the APIs this often (htmx)


async def _picture(p: Page) -> dict[str, Any]:
    """What the picture shows now, read from the networking and compute APIs."""
    networks, routers, ports, names = await asyncio.gather(
        all_networks(p),
        p.get(SERVICE, "/v2.0/routers"),
        p.get(SERVICE, "/v2.0/ports"),
        _server_names(p),
    )
    nodes, links = layout(networks, routers.get("routers", []), ports.get("ports", []), names)
    rows = max([1, *(1 + (n.y - TOP) // STEP for n in nodes)])
    return {
        "nodes": nodes,
        "links": links,
        "width": COLUMNS["instance"] + NODE_W + 20,
        "height": TOP + rows * STEP,
        "node_w": NODE_W,
        "node_h": NODE_H,
        "columns": COLUMNS,
        "poll": POLL,
    }


async def topology(p: Page) -> Response:
    return p.render("topology.html", **await _picture(p))


async def topology_picture(p: Page) -> Response:
    """The picture alone: what htmx swaps in on each poll, so it follows changes live."""
    return p.render("topology_picture.html", **await _picture(p))


ROUTES = [
    page("/project/network_topology", topology),
    page("/project/network_topology/picture", topology_picture),
]
