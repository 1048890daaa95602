"""The skeleton every agent operation shares, written once: take the instance's lock, open the
instance-action event, run the driver work, compare-and-swap the instance into its new state,
close the event — and, when the work fails, close the event with the reason and let the
operation's failure rule put the instance right (by default: ERROR with the reason as fault).

    async with instance_task(agent, uuid, "compute_stop_instance", on_failure=back) as task:
        await agent.driver.power_off(uuid)
        await task.settle(Change(vm_state=STOPPED, task_state=None), task_states=[POWERING_OFF])

An agent operation never raises for an instance's failure (the user reads it on the instance);
`reraise=True` is for the one RPC call whose caller must know (the source side of a resize).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass

from ministack.compute import instances
from ministack.compute.agent.base import AgentBase
from ministack.compute.instances import NO_CHANGE, Change

log = logging.getLogger("ministack.compute.agent")

OnFailure = Callable[["InstanceTask", Exception], Awaitable[None]]
"""What to do to the instance when the work raised (the event is already closed)."""


def reason_of(exc: BaseException) -> str:
    """The message a user reads for a failure."""
    return str(exc) or type(exc).__name__


@dataclass
class InstanceTask:
    """One running operation on one instance: its event and how it settles."""

    agent: AgentBase
    uuid: str
    event: str
    event_id: int | None = None
    opened: bool = False
    error: str | None = None
    """A failure that did not stop the operation; recorded in the event when it closes."""

    async def open(
        self,
        change: Change = NO_CHANGE,
        *,
        vm_states: Collection[str] | None = None,
        task_states: Collection[str | None] | None = None,
        on_host: str | None = instances.ANY_HOST,
    ) -> bool:
        """Open the event, together with `change` when given (one transaction); False, with no
        event, when the instance no longer holds the expected states."""
        if change:
            step = await instances.begin_step(
                self.agent.db,
                self.uuid,
                self.event,
                self.agent.host,
                vm_states=vm_states,
                task_states=task_states,
                on_host=on_host,
                change=change,
            )
            self.event_id, self.opened = step.event_id, step.moved
            return step.moved
        self.event_id = await instances.start_event(
            self.agent.db, self.uuid, self.event, self.agent.host
        )
        self.opened = True
        return True

    async def settle(
        self,
        change: Change,
        *,
        vm_states: Collection[str] | None = None,
        task_states: Collection[str | None] | None = None,
    ) -> bool:
        """Compare-and-swap the instance into its new state; whether it matched."""
        return await instances.cas(
            self.agent.db, self.uuid, vm_states=vm_states, task_states=task_states, change=change
        )

    async def finish(
        self,
        change: Change,
        *,
        vm_states: Collection[str] | None = None,
        task_states: Collection[str | None] | None = None,
    ) -> bool:
        """`settle` and close the event in one transaction (the event then stays closed)."""
        moved = await instances.end_step(
            self.agent.db,
            self.uuid,
            self.event_id,
            self.error,
            vm_states=vm_states,
            task_states=task_states,
            change=change,
        )
        self.opened = False
        return moved

    async def close(self, error: str | None) -> None:
        if self.opened:
            await instances.finish_event(self.agent.db, self.event_id, error)
            self.opened = False


def error_with(prefix: str) -> OnFailure:
    """The usual failure rule: the instance goes ERROR with the fault "<prefix>: <reason>"."""

    async def rule(task: InstanceTask, exc: Exception) -> None:
        await instances.set_error(task.agent.db, task.uuid, f"{prefix}: {reason_of(exc)}")

    return rule


@contextlib.asynccontextmanager
async def instance_task(
    agent: AgentBase,
    uuid: str,
    event: str,
    *,
    on_failure: OnFailure | None,
    lock: bool = True,
    open_event: bool = True,
    reraise: bool = False,
) -> AsyncIterator[InstanceTask]:
    """Run one operation on `uuid` under its lock (unless `lock` is False) with `event` open
    (unless `open_event` is False: the body then opens it with `task.open(change, ...)`, a
    compare-and-swap and the event in one transaction).

    When the body raises, the event closes with the reason, `on_failure` runs (None: nothing
    more to do) and the exception is swallowed, unless `reraise`. Otherwise the event closes
    with `task.error` (None: Success) unless the body closed it with `task.finish`.
    """
    guard = agent.locks[uuid] if lock else contextlib.nullcontext()
    async with guard:
        task = InstanceTask(agent, uuid, event)
        if open_event:
            await task.open()
        try:
            yield task
        except Exception as exc:
            reason = reason_of(exc)
            log.warning("%s of %s failed on %s: %s", event, uuid, agent.host, reason)
            await task.close(reason)
            if on_failure is not None:
                await on_failure(task, exc)
            if reraise:
                raise
            return
        await task.close(task.error)
