"""Project hierarchies as OS-INHERIT reads them: a role granted on a domain or a project with
``inherited_to_projects`` applies to every project below it (never to the target itself).

`ProjectTree` answers "which projects are below this one" and "which are above" from one read
of the projects' (id, domain, parent) rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.identity import models as m

MAX_DEPTH = 10  # Keystone's [DEFAULT] max_project_tree_depth; also guards against a cycle


@dataclass(frozen=True)
class ProjectTree:
    domain_of: dict[str, str]
    parent_of: dict[str, str | None]

    @classmethod
    async def load(cls, s: AsyncSession) -> ProjectTree:
        rows = (
            await s.execute(select(m.Project.id, m.Project.domain_id, m.Project.parent_id))
        ).all()
        return cls({r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows})

    def in_domain(self, domain_id: str) -> list[str]:
        return sorted(p for p, d in self.domain_of.items() if d == domain_id)

    def below(self, project_id: str) -> list[str]:
        """Every project under `project_id` (children, their children, ...), not itself."""
        found: list[str] = []
        frontier = [project_id]
        for _ in range(MAX_DEPTH * 10):
            frontier = sorted(p for p, parent in self.parent_of.items() if parent in frontier)
            frontier = [p for p in frontier if p not in found and p != project_id]
            if not frontier:
                break
            found += frontier
        return found


async def ancestors(s: AsyncSession, project_id: str) -> list[str]:
    """The project's parent, its parent's parent, ... (nearest first)."""
    found: list[str] = []
    current: str | None = project_id
    for _ in range(MAX_DEPTH):
        current = (
            await s.execute(select(m.Project.parent_id).where(m.Project.id == current))
        ).scalar()
        if current is None or current in found or current == project_id:
            break
        found.append(current)
    return found


async def projects_of(s: AsyncSession, user_id: str) -> set[str]:
    """Ids of the projects where the user, or a group of theirs, holds a role: directly, or
    inherited from the project's domain or an ancestor project."""
    groups = select(m.GroupMember.group_id).where(m.GroupMember.user_id == user_id)
    rows = (
        await s.execute(
            select(m.Assignment.target_type, m.Assignment.target_id, m.Assignment.inherited).where(
                ((m.Assignment.actor_type == "user") & (m.Assignment.actor_id == user_id))
                | ((m.Assignment.actor_type == "group") & m.Assignment.actor_id.in_(groups)),
                m.Assignment.target_type.in_(("project", "domain")),
            )
        )
    ).all()
    found = {tid for kind, tid, inherited in rows if kind == "project" and not inherited}
    inherited_rows = [(kind, tid) for kind, tid, inherited in rows if inherited]
    if inherited_rows:
        tree = await ProjectTree.load(s)
        for kind, tid in inherited_rows:
            found |= set(tree.in_domain(tid) if kind == "domain" else tree.below(tid))
    return found
