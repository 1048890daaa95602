"""Tasks: the record Glance keeps of each asynchronous import (`/v2/tasks`,
`/v2/images/{id}/tasks`). An import creates one in `processing`; it ends in `success` or
`failure` with a message, and expires 48 hours after it ends (Glance's task_time_to_live)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ministack.common.db import Base, Database, utcnow

IMPORT_TYPE = "api_image_import"
PROCESSING, SUCCESS, FAILURE = "processing", "success", "failure"
STATUSES = ("pending", PROCESSING, SUCCESS, FAILURE)
TIME_TO_LIVE = dt.timedelta(hours=48)


class Task(Base):
    __tablename__ = "image_tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), index=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    input: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def _time(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def task_view(task: Task, full: bool = True) -> dict[str, Any]:
    """A task as Glance shows it; the list shows the stub (no input, result or message)."""
    body: dict[str, Any] = {
        "id": task.id,
        "type": task.type,
        "status": task.status,
        "owner": task.owner,
        "created_at": _time(task.created_at),
        "updated_at": _time(task.updated_at),
        "self": f"/v2/tasks/{task.id}",
        "schema": "/v2/schemas/task",
    }
    if full:
        body.update(input=task.input, result=task.result, message=task.message)
        for key in ("image_id", "request_id", "user_id"):
            if getattr(task, key):
                body[key] = getattr(task, key)
    if task.expires_at is not None:
        body["expires_at"] = _time(task.expires_at)
    return body


async def start_import(
    db: Database,
    image_id: str,
    owner: str | None,
    user_id: str | None,
    body: dict[str, Any],
    stores: list[str] | None = None,
) -> str:
    """Record a new import task in `processing`; returns its id."""
    async with db.writer() as s:
        return add_import(s, image_id, owner, user_id, body, stores or ["file"])


def add_import(
    s: AsyncSession,
    image_id: str,
    owner: str | None,
    user_id: str | None,
    body: dict[str, Any],
    stores: list[str],
) -> str:
    """Add an import task in `processing` to the session's transaction; returns its id."""
    task_id = str(uuid.uuid4())
    s.add(
        Task(
            id=task_id,
            type=IMPORT_TYPE,
            status=PROCESSING,
            owner=owner,
            input={"image_id": image_id, "import_req": body, "backend": stores},
            image_id=image_id,
            user_id=user_id,
            message="",
        )
    )
    return task_id


async def finish(db: Database, task_id: str, error: str | None) -> None:
    """Mark the task succeeded (error None) or failed with `error` as its message."""
    now = utcnow()
    values: dict[str, Any] = {"updated_at": now, "expires_at": now + TIME_TO_LIVE}
    if error is None:
        values.update(status=SUCCESS)
    else:
        values.update(status=FAILURE, message=error)
    async with db.writer() as s:
        task = await s.get(Task, task_id)
        if task is not None and error is None:
            values["result"] = {"image_id": task.image_id}
        await s.execute(update(Task).where(Task.id == task_id).values(**values))


async def fail_unfinished(db: Database, message: str) -> None:
    """At start-up: a task still processing lost its worker; it failed."""
    now = utcnow()
    async with db.writer() as s:
        await s.execute(
            update(Task)
            .where(Task.status.in_(("pending", PROCESSING)))
            .values(status=FAILURE, message=message, updated_at=now, expires_at=now + TIME_TO_LIVE)
        )


async def of_image(db: Database, image_id: str) -> list[Task]:
    async with db.session() as s:
        rows = await s.execute(
            select(Task).where(Task.image_id == image_id).order_by(Task.created_at, Task.id)
        )
        return list(rows.scalars())
