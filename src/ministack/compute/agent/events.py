"""Events an agent operation waits for (Nova's `wait_for_instance_event`): the network service's
`network-vif-plugged` for each port of a guest being built or given an interface, the volume
service's `volume-reimaged` for the root volume of a volume-backed server being rebuilt.

The waiter is registered before the work that causes the event starts (binding the port,
spawning the guest), so an event that arrives early is not lost; `ComputeAgent.external_event`
delivers what arrives over RPC. An event nobody waits for is dropped (Nova does the same).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

Key = tuple[str, str, str]
"""(instance uuid, event name, tag) — for network-vif-plugged the tag is the port id."""


@dataclass
class Expected:
    """The events one operation waits for; `missing` are the tags not yet arrived."""

    futures: dict[str, asyncio.Future[str]]

    async def wait(self, timeout: float) -> list[str]:
        """Wait up to `timeout` seconds for every event; the tags that did not arrive."""
        pending = [f for f in self.futures.values() if not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        return [tag for tag, f in self.futures.items() if not f.done()]

    def failed(self) -> list[str]:
        """The tags whose event arrived with status failed."""
        return [t for t, f in self.futures.items() if f.done() and f.result() == "failed"]


@dataclass
class InstanceEvents:
    """One agent's waiters, keyed by (instance, event, tag)."""

    waiting: dict[Key, asyncio.Future[str]] = field(default_factory=dict)

    @contextlib.contextmanager
    def expect(self, uuid: str, name: str, tags: Iterable[str]) -> Iterator[Expected]:
        """Register waiters for `name` events of `uuid` with each tag; they are forgotten when
        the block ends (whether or not the events came)."""
        loop = asyncio.get_running_loop()
        futures = {tag: loop.create_future() for tag in tags}
        for tag, future in futures.items():
            self.waiting[(uuid, name, tag)] = future
        try:
            yield Expected(futures)
        finally:
            for tag, future in futures.items():
                if self.waiting.get((uuid, name, tag)) is future:
                    del self.waiting[(uuid, name, tag)]

    def deliver(self, uuid: str, name: str, tag: str | None, status: str = "completed") -> bool:
        """An event arrived (completed or failed); whether someone was waiting for it."""
        future = self.waiting.pop((uuid, name, tag or ""), None)
        if future is None or future.done():
            return False
        future.set_result(status)
        return True
