"""/v2/tasks (admin only, Glance's tasks_api_access) and /v2/images/{id}/tasks (whoever sees
the image): the records of imports."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ministack.common import errors, params, validation
from ministack.common.auth import Auth, require_auth
from ministack.common.web import json_response
from ministack.image import policies, tasks
from ministack.image.api.common import core_of, image_id, route

list_query = params.query(
    {
        "limit": params.query_int(1, 1000),
        "marker": params.marker,
        "sort_key": params.sort_key("created_at", "updated_at", "status", "type", "id"),
        "sort_dir": params.sort_dir,
        "status": params.enum(*tasks.STATUSES),
        "type": params.enum("import", tasks.IMPORT_TYPE),
    }
)


def _enforce(auth: Auth) -> None:
    policies.authorize(auth, "tasks_api_access", auth.project_id)


async def list_tasks(request: Request) -> Response:
    auth = await require_auth(request)
    _enforce(auth)
    query = validation.query(request)
    limit = int(query.get("limit", 25))
    column = getattr(tasks.Task, query.get("sort_key", "created_at"))
    order = column.asc() if query.get("sort_dir") == "asc" else column.desc()
    stmt = select(tasks.Task).order_by(order, tasks.Task.id)
    for key in ("status", "type"):
        if key in query:
            stmt = stmt.where(getattr(tasks.Task, key) == query[key])
    async with core_of(request).db.session() as s:
        rows = list((await s.execute(stmt)).scalars())
    if "marker" in query:
        ids = [t.id for t in rows]
        if query["marker"] not in ids:
            raise errors.NotFound(f"No task found with ID {query['marker']}.")
        rows = rows[ids.index(query["marker"]) + 1 :]
    page = rows[:limit]
    body = {
        "tasks": [tasks.task_view(t, full=False) for t in page],
        "first": "/v2/tasks",
        "schema": "/v2/schemas/tasks",
    }
    if page and len(page) == limit:
        body["next"] = f"/v2/tasks?marker={page[-1].id}&limit={limit}"
    return json_response(body)


async def show_task(request: Request) -> Response:
    auth = await require_auth(request)
    _enforce(auth)
    task_id = request.path_params["task_id"]
    async with core_of(request).db.session() as s:
        task = await s.get(tasks.Task, task_id)
    if task is None:
        raise errors.NotFound(f"Task with the given id {task_id} was not found.")
    return json_response(tasks.task_view(task))


async def list_image_tasks(request: Request) -> Response:
    auth = await require_auth(request)
    core = core_of(request)
    async with core.db.session() as s:
        img = await core.find(s, auth, image_id(request))
    found = await tasks.of_image(core.db, img.id)
    return json_response({"tasks": [tasks.task_view(t) for t in found]})


async def no_image_id(request: Request) -> Response:
    """GET or DELETE /v2/images/ (an empty id): Glance answers 404."""
    await require_auth(request)
    raise errors.NotFound("No image found with an empty ID.")


ROUTES: list[BaseRoute] = [
    route("/v2/tasks", list_tasks, "GET", query=list_query),
    route("/v2/tasks/{task_id}", show_task, "GET"),
    route("/v2/images/{image_id}/tasks", list_image_tasks, "GET"),
    route("/v2/images/", no_image_id, "GET"),
    route("/v2/images/", no_image_id, "DELETE"),
]
