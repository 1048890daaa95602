"""Instance rows and their history: the compare-and-swap every state change goes through,
instance actions with their events, and faults.

`cas` is the only way a state moves: it updates the row only when (vm_state, task_state)
still hold what the caller expects, in one conditional UPDATE, so it is atomic on SQLite and
PostgreSQL alike (PROMISES 9).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ministack.common import context
from ministack.common.db import Database, utcnow
from ministack.compute import models as m
from ministack.compute import states

_ANY: Any = object()
ANY_HOST: Any = _ANY
"""For `on_host`: do not check the instance's host."""


class Unset(enum.Enum):
    """Marks a `Change` field that the change leaves alone (None is a value: NULL)."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True)
class Change:
    """The columns one state change writes; every field left UNSET keeps its value.

    Setting task_state also stamps task_started_at (None when it is cleared).
    """

    vm_state: str | Unset = UNSET
    task_state: str | Unset | None = UNSET
    power_state: int | Unset = UNSET
    host: str | Unset | None = UNSET
    node: str | Unset | None = UNSET
    availability_zone: str | Unset | None = UNSET
    launched_at: dt.datetime | Unset = UNSET
    fault: dict[str, Any] | Unset | None = UNSET
    flavor: dict[str, Any] | Unset = UNSET
    vcpus: int | Unset = UNSET
    memory_mb: int | Unset = UNSET
    root_gb: int | Unset = UNSET
    system_metadata: dict[str, Any] | Unset = UNSET
    image_ref: str | Unset = UNSET
    display_name: str | Unset = UNSET
    display_description: str | Unset | None = UNSET
    metadata_: dict[str, str] | Unset = UNSET
    access_ip_v4: str | Unset | None = UNSET
    access_ip_v6: str | Unset | None = UNSET
    locked: bool | Unset = UNSET
    locked_by: str | Unset | None = UNSET
    hostname: str | Unset = UNSET
    key_name: str | Unset | None = UNSET
    key_data: str | Unset | None = UNSET
    user_data: str | Unset | None = UNSET

    def values(self) -> dict[str, Any]:
        """The columns to write, by attribute name."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not UNSET
        }

    def __bool__(self) -> bool:
        return bool(self.values())


NO_CHANGE = Change()


def with_flavor(flavor: dict[str, Any], **more: Any) -> Change:
    """A change to `flavor` with its vcpus, memory_mb and root_gb columns."""
    return Change(
        flavor=flavor,
        vcpus=int(flavor["vcpus"]),
        memory_mb=int(flavor["ram"]),
        root_gb=int(flavor["disk"]),
        **more,
    )


def _fmt(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cas_statement(
    uuid: str,
    vm_states: Collection[str] | None,
    task_states: Collection[str | None] | None,
    on_host: str | None,
    change: Change,
) -> Any:
    query = update(m.Instance).where(m.Instance.uuid == uuid, m.Instance.deleted.is_(False))
    if vm_states is not None:
        query = query.where(m.Instance.vm_state.in_(list(vm_states)))
    if task_states is not None:
        named = [t for t in task_states if t is not None]
        cond: Any = m.Instance.task_state.in_(named)
        if None in task_states:
            cond = cond | m.Instance.task_state.is_(None)
        query = query.where(cond)
    if on_host is not _ANY:
        query = query.where(m.Instance.host == on_host)
    now = utcnow()
    values = change.values()
    values["updated_at"] = now
    if "task_state" in values:
        values["task_started_at"] = now if values["task_state"] is not None else None
    return query.values(**values)


async def cas(
    db: Database,
    uuid: str,
    *,
    vm_states: Collection[str] | None = None,
    task_states: Collection[str | None] | None = None,
    on_host: str | None = _ANY,
    change: Change = NO_CHANGE,
) -> bool:
    """Apply `change` to the live instance when its vm_state is in `vm_states` and its
    task_state in `task_states` (None in the collection matches NULL) and, when given, its
    host is `on_host`. Returns whether it matched."""
    async with db.writer() as s:
        result = await s.execute(_cas_statement(uuid, vm_states, task_states, on_host, change))
        return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Step:
    """The outcome of `begin_step`: whether the state moved, and the event opened."""

    moved: bool
    event_id: int | None = None


async def begin_step(
    db: Database,
    uuid: str,
    event: str,
    host: str | None,
    *,
    vm_states: Collection[str] | None = None,
    task_states: Collection[str | None] | None = None,
    on_host: str | None = _ANY,
    change: Change = NO_CHANGE,
) -> Step:
    """`cas` and, when it matched, open `event` under the current request's action — in one
    transaction."""
    async with db.writer() as s:
        result = await s.execute(_cas_statement(uuid, vm_states, task_states, on_host, change))
        if not result.rowcount:  # type: ignore[attr-defined]
            return Step(False)
        action_id = await _action_id_in(s, uuid)
        if action_id is None:
            return Step(True)
        row = m.InstanceActionEvent(action_id=action_id, event=event, host=host)
        s.add(row)
        await s.flush()
        return Step(True, row.id)


async def end_step(
    db: Database,
    uuid: str,
    event_id: int | None,
    error: str | None = None,
    *,
    vm_states: Collection[str] | None = None,
    task_states: Collection[str | None] | None = None,
    on_host: str | None = _ANY,
    change: Change = NO_CHANGE,
) -> bool:
    """`cas` (when `change` is not empty) and close the event, in one transaction."""
    async with db.writer() as s:
        moved = True
        if change:
            result = await s.execute(_cas_statement(uuid, vm_states, task_states, on_host, change))
            moved = bool(result.rowcount)  # type: ignore[attr-defined]
        if event_id is not None:
            await s.execute(
                _finish_statement(
                    event_id, error if moved else error or "the instance changed meanwhile"
                )
            )
        return moved


async def whole_step(
    db: Database,
    uuid: str,
    event: str,
    started: dt.datetime,
    error: str | None = None,
    *,
    vm_states: Collection[str] | None = None,
    task_states: Collection[str | None] | None = None,
    on_host: str | None = _ANY,
    change: Change = NO_CHANGE,
    host: str | None = None,
) -> bool:
    """`cas` (when `change` is not empty) and record a finished event that began at `started`
    on `host` (the service's host), in one transaction. Returns whether the state moved."""
    async with db.writer() as s:
        moved = True
        if change:
            result = await s.execute(_cas_statement(uuid, vm_states, task_states, on_host, change))
            moved = bool(result.rowcount)  # type: ignore[attr-defined]
        action_id = await _action_id_in(s, uuid)
        if action_id is not None:
            s.add(
                m.InstanceActionEvent(
                    action_id=action_id,
                    event=event,
                    start_time=started,
                    finish_time=utcnow(),
                    result="Error" if error else "Success",
                    traceback=error,
                    host=host,
                )
            )
        return moved


def _finish_statement(event_id: int, error: str | None) -> Any:
    return (
        update(m.InstanceActionEvent)
        .where(m.InstanceActionEvent.id == event_id)
        .values(finish_time=utcnow(), result="Error" if error else "Success", traceback=error)
    )


async def get(db: Database, uuid: str, *, deleted: bool = False) -> m.Instance | None:
    """The instance (live only, unless deleted=True)."""
    query = select(m.Instance).where(m.Instance.uuid == uuid)
    if not deleted:
        query = query.where(m.Instance.deleted.is_(False))
    async with db.session() as s:
        return (await s.execute(query)).scalar_one_or_none()


async def set_error(db: Database, uuid: str, message: str, *, details: str = "") -> None:
    """Put the instance in ERROR (task_state None) with a fault; a no-op once deleted."""
    fault = {"code": 500, "message": message, "details": details, "created": _fmt(utcnow())}
    await cas(db, uuid, change=Change(vm_state=states.ERROR, task_state=None, fault=fault))


def new_action(
    uuid: str, action: str, user_id: str, project_id: str, request_id: str | None = None
) -> m.InstanceAction:
    """An action row for the caller to add to its transaction (so it commits with the change)."""
    now = utcnow()
    return m.InstanceAction(
        instance_uuid=uuid,
        action=action,
        request_id=request_id or context.current_request_id() or "req-none",
        user_id=user_id,
        project_id=project_id,
        start_time=now,
        updated_at=now,
    )


async def add_action(db: Database, uuid: str, action: str, user_id: str, project_id: str) -> None:
    """Record that the user started `action` on the instance (this request's id)."""
    async with db.writer() as s:
        s.add(new_action(uuid, action, user_id, project_id))


async def _action_id_in(s: AsyncSession, uuid: str) -> int | None:
    request_id = context.current_request_id()
    query = select(m.InstanceAction.id).where(m.InstanceAction.instance_uuid == uuid)
    if request_id:
        query = query.where(m.InstanceAction.request_id == request_id)
    query = query.order_by(m.InstanceAction.id.desc()).limit(1)
    return (await s.execute(query)).scalar_one_or_none()


async def _action_id(db: Database, uuid: str) -> int | None:
    async with db.session() as s:
        return await _action_id_in(s, uuid)


async def start_event(db: Database, uuid: str, event: str, host: str | None) -> int | None:
    """Open an event under the action of the current request; returns its id (None when the
    action is unknown, e.g. in a periodic task)."""
    action_id = await _action_id(db, uuid)
    if action_id is None:
        return None
    async with db.writer() as s:
        row = m.InstanceActionEvent(action_id=action_id, event=event, host=host)
        s.add(row)
        await s.flush()
        return row.id


async def finish_event(db: Database, event_id: int | None, error: str | None = None) -> None:
    """Close an event as Success, or as Error with `error` as its explanation."""
    if event_id is None:
        return
    async with db.writer() as s:
        await s.execute(_finish_statement(event_id, error))


async def record_event(
    db: Database, uuid: str, event: str, host: str | None, error: str | None = None
) -> None:
    """An event that starts and finishes at once (e.g. a scheduling decision)."""
    await finish_event(db, await start_event(db, uuid, event, host), error)


async def mark_deleted(db: Database, uuid: str) -> bool:
    """Soft-delete the row (vm_state deleted); the quota it held is free. Idempotent."""
    now = utcnow()
    async with db.writer() as s:
        result = await s.execute(
            update(m.Instance)
            .where(m.Instance.uuid == uuid, m.Instance.deleted.is_(False))
            .values(
                deleted=True,
                deleted_at=now,
                terminated_at=now,
                updated_at=now,
                vm_state=states.DELETED,
                task_state=None,
                task_started_at=None,
                power_state=0,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


# system_metadata key holding a new admin password until the guest's spawn has used it
ADMIN_PASS_KEY = "admin_pass"


def without_admin_pass(inst: m.Instance) -> dict[str, Any] | Unset:
    """The instance's system_metadata without the admin password, to write in the same
    compare-and-swap that starts the spawn (the guest spec already holds the password, which
    is written into the config drive and kept nowhere else, as Nova keeps it out of its
    database); UNSET when there is none to drop, so nothing more is written."""
    sysmeta = inst.system_metadata or {}
    if ADMIN_PASS_KEY not in sysmeta:
        return UNSET
    return {k: v for k, v in sysmeta.items() if k != ADMIN_PASS_KEY}
