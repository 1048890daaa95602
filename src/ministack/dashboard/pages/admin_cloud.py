"""More admin panels (admin role only): every project's images and networks, groups, the
quotas of a chosen project (shown and changed), and the `ministack doctor` checks.

Images and networks are the image and networking APIs' lists as an admin sees them (every
project's); quotas are each service's quota-set API (``PUT`` to change); the doctor runs the
same checks as the command, on the host the dashboard runs on: it runs `ministack doctor
--json` there (the dashboard imports no service code, and the checks read no cloud state).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from ministack.dashboard.cloud import ApiError
from ministack.dashboard.web import Page, field, page


@dataclass(frozen=True)
class QuotaService:
    """One service's quota-set API: where it is, which keys it has, how a change is sent."""

    service: str
    title: str
    path: str  # with {project}
    body_key: str
    keys: tuple[str, ...]


QUOTAS: tuple[QuotaService, ...] = (
    QuotaService(
        "compute",
        "Compute",
        "/os-quota-sets/{project}",
        "quota_set",
        ("instances", "cores", "ram", "key_pairs", "metadata_items", "server_groups"),
    ),
    QuotaService(
        "volumev3",
        "Block storage",
        "/os-quota-sets/{project}",
        "quota_set",
        ("volumes", "gigabytes", "snapshots", "backups", "per_volume_gigabytes"),
    ),
    QuotaService(
        "network",
        "Networking",
        "/v2.0/quotas/{project}",
        "quota",
        (
            "network",
            "subnet",
            "port",
            "router",
            "floatingip",
            "security_group",
            "security_group_rule",
        ),
    ),
)


def _table(p: Page, title: str, columns: list[str], rows: list[list[Any]]) -> Response:
    return p.render("table.html", title=title, columns=columns, rows=rows)


async def _project_names(p: Page) -> dict[str, str]:
    body = await p.get("identity", "/projects")
    return {x["id"]: x.get("name") or x["id"] for x in body.get("projects", [])}


async def images(p: Page) -> Response:
    body, names = await asyncio.gather(p.get("image", "/v2/images", limit=1000), _project_names(p))
    rows = [
        [
            i.get("name") or i["id"],
            i["id"],
            names.get(i.get("owner") or "", i.get("owner") or ""),
            i.get("status"),
            i.get("visibility"),
            i.get("disk_format"),
            i.get("size"),
        ]
        for i in body.get("images", [])
    ]
    columns = ["Name", "ID", "Project", "Status", "Visibility", "Disk format", "Size"]
    return _table(p, "Images (all projects)", columns, rows)


async def networks(p: Page) -> Response:
    nets, subnets, names = await asyncio.gather(
        p.get("network", "/v2.0/networks"), p.get("network", "/v2.0/subnets"), _project_names(p)
    )
    cidrs: dict[str, list[str]] = {}
    for s in subnets.get("subnets", []):
        cidrs.setdefault(s.get("network_id", ""), []).append(str(s.get("cidr", "")))
    rows = [
        [
            n.get("name") or n["id"],
            n["id"],
            names.get(n.get("project_id") or "", n.get("project_id") or ""),
            ", ".join(cidrs.get(n["id"], [])),
            n.get("provider:network_type", ""),
            "yes" if n.get("shared") else "no",
            "yes" if n.get("router:external") else "no",
            n.get("status"),
        ]
        for n in nets.get("networks", [])
    ]
    columns = ["Name", "ID", "Project", "Subnets", "Type", "Shared", "External", "Status"]
    return _table(p, "Networks (all projects)", columns, rows)


async def groups(p: Page) -> Response:
    body = await p.get("identity", "/groups")
    rows = [
        [g.get("name"), g.get("id"), g.get("domain_id"), g.get("description") or ""]
        for g in body.get("groups", [])
    ]
    return _table(p, "Groups", ["Name", "ID", "Domain", "Description"], rows)


async def quotas(p: Page) -> Response:
    names = await _project_names(p)
    project = p.request.query_params.get("project") or p.login.project_id
    if project not in names:
        raise ApiError(404, f"There is no project {project!r}.")
    shown = [q for q in QUOTAS if p.login.has(q.service)]
    bodies = await asyncio.gather(
        *(p.get(q.service, q.path.format(project=quote(project, safe=""))) for q in shown)
    )
    sections = [
        {
            "service": q.service,
            "title": q.title,
            "values": [(k, (body.get(q.body_key) or {}).get(k, "")) for k in q.keys],
        }
        for q, body in zip(shown, bodies, strict=True)
    ]
    return p.render(
        "admin_quotas.html",
        all_projects=sorted(names.items(), key=lambda kv: kv[1]),
        project=project,
        sections=sections,
    )


async def set_quotas(p: Page) -> Response:
    form = await p.form()
    project = field(form, "project")
    service = field(form, "service")
    chosen = next((q for q in QUOTAS if q.service == service), None)
    if chosen is None or not project:
        raise ApiError(400, "Choose a project and a service.")
    values: dict[str, int] = {}
    for key in chosen.keys:
        text = field(form, key)
        if text == "":
            continue
        if not text.lstrip("-").isdigit() or int(text) < -1:
            raise ApiError(400, f"{key} must be a whole number, or -1 for unlimited.")
        values[key] = int(text)
    path = chosen.path.format(project=quote(project, safe=""))
    await p.call(service, "PUT", path, json={chosen.body_key: values})
    target = f"/admin/quotas?project={quote(project, safe='')}"
    return p.redirect(target, ok=f"{chosen.title} quotas updated.")


DOCTOR_TIMEOUT = 60.0


async def _run_doctor() -> list[dict[str, Any]]:
    """`ministack doctor --json` with this process's environment (so its configuration)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ministack",
        "doctor",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), DOCTOR_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ApiError(504, f"The doctor did not finish in {DOCTOR_TIMEOUT:.0f} s.") from None
    try:
        found = json.loads(out.decode() or "null")
    except ValueError:
        found = None
    if not isinstance(found, list):
        raise ApiError(500, f"The doctor failed: {err.decode(errors='replace')[-500:]}")
    return [c for c in found if isinstance(c, dict)]


async def doctor_page(p: Page) -> Response:
    checks = await _run_doctor()
    rows = [
        [
            c.get("name"),
            "ok" if c.get("ok") else ("optional, missing" if c.get("optional") else "FAILED"),
            c.get("detail"),
            "" if c.get("ok") else c.get("fix"),
        ]
        for c in checks
    ]
    return _table(p, "Doctor (this host)", ["Check", "Result", "Detail", "How to fix"], rows)


ROUTES = [
    page("/admin/images", images, need="admin"),
    page("/admin/networks", networks, need="admin"),
    page("/admin/groups", groups, need="admin"),
    page("/admin/quotas", quotas, need="admin"),
    page("/admin/quotas", set_quotas, ["POST"], need="admin"),
    page("/admin/doctor", doctor_page, need="admin"),
]
