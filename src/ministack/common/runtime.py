"""What the process runner hands each service at start, and what a service hands back.

Every ``ministack.<service>.service`` module has ``async def start(ctx: Context) -> Runtime``.
A service reaches another only through that service's ``client`` module (built from the
context: in-process when the other service runs here, over HTTP otherwise), never through
shared mutable state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp

from ministack.common.auth import TokenValidator
from ministack.common.db import Database
from ministack.common.rpc.base import Bus
from ministack.config import Settings


@dataclass
class Context:
    """What a service gets at start: settings, database, bus, token validation, and the names
    of the services running in this process (so a client can choose in-process or HTTP)."""

    settings: Settings
    db: Database
    bus: Bus
    services: tuple[str, ...] = ()
    validator: TokenValidator | None = None

    def runs(self, service: str) -> bool:
        """True when `service` runs in this process (its in-process client may be used)."""
        return service in self.services


@dataclass
class Runtime:
    """What a started service gives back: its API app (served on the service's port, or None),
    how to stop it, and the binaries it reports in the services table."""

    app: ASGIApp | None = None
    stop: Callable[[], Awaitable[None]] | None = None
    binaries: tuple[str, ...] = ()
