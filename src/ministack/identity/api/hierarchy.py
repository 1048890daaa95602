"""Project hierarchy views on ``GET /v3/projects/{id}``: ``parents_as_list``,
``parents_as_ids``, ``subtree_as_list`` and ``subtree_as_ids``, as Keystone expands a project.

Called by the projects collection's show handler (api/crud.py) after the policy check, inside
its read session. The ``*_as_list`` forms hold ``{"project": {...}}`` entries cut to the projects
the caller holds a role on (all of them for a system-scoped token); the ``*_as_ids`` forms are
nested dicts of ids, the domain at the root of the parents (Keystone keeps a domain as the
top project), a leaf mapped to null.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.common.pagination import bool_param
from ministack.identity import models as m
from ministack.identity.inheritance import ProjectTree, projects_of

Render = Any  # Callable[[m.Project, str], dict[str, Any]]; kept loose to avoid a cycle


def _flag(request: Request, name: str) -> bool:
    """Keystone's key-only query flags: present with no value means true."""
    if name not in request.query_params:
        return False
    value = request.query_params[name]
    return value == "" or bool(bool_param(value, name))


def _parents(tree: ProjectTree, project_id: str) -> list[str]:
    """The project's ancestors, nearest first (the domain is not one of them)."""
    found: list[str] = []
    current = tree.parent_of.get(project_id)
    while current and current in tree.parent_of and current not in found:
        found.append(current)
        current = tree.parent_of.get(current)
    return found


def _subtree_ids(tree: ProjectTree, project_id: str) -> dict[str, Any] | None:
    children = sorted(p for p, parent in tree.parent_of.items() if parent == project_id)
    if not children:
        return None
    return {child: _subtree_ids(tree, child) for child in children}


def _parents_ids(tree: ProjectTree, project_id: str) -> dict[str, Any]:
    chain = [*_parents(tree, project_id), tree.domain_of[project_id]]
    nested: dict[str, Any] | None = None
    for ancestor in reversed(chain):
        nested = {ancestor: nested}
    return nested or {}


async def expand_project(
    s: AsyncSession, row: m.Project, request: Request, auth: Auth, render: Render, base: str
) -> dict[str, Any]:
    """The ``parents`` and ``subtree`` keys the query asks for (none when it asks nothing)."""
    flags = ("parents_as_list", "parents_as_ids", "subtree_as_list", "subtree_as_ids")
    wants = {name: _flag(request, name) for name in flags}
    for kind in ("parents", "subtree"):
        if wants[f"{kind}_as_list"] and wants[f"{kind}_as_ids"]:
            raise errors.BadRequest(
                f"Cannot use {kind}_as_list and {kind}_as_ids query params at the same time."
            )
    if not any(wants.values()):
        return {}
    tree = await ProjectTree.load(s)
    extra: dict[str, Any] = {}
    if wants["parents_as_ids"]:
        extra["parents"] = _parents_ids(tree, row.id)
    if wants["subtree_as_ids"]:
        extra["subtree"] = _subtree_ids(tree, row.id)
    listed = {"parents": _parents(tree, row.id), "subtree": tree.below(row.id)}
    visible: set[str] | None = None
    for kind, ids in listed.items():
        if not wants[f"{kind}_as_list"]:
            continue
        if visible is None:
            visible = set(tree.parent_of) if auth.is_system else await projects_of(s, auth.user_id)
        wanted = [i for i in ids if i in visible]
        rows = (await s.execute(select(m.Project).where(m.Project.id.in_(wanted)))).scalars()
        by_id = {r.id: r for r in rows}
        extra[kind] = [{"project": render(by_id[i], base)} for i in wanted if i in by_id]
    return extra
