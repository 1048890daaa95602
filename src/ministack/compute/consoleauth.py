"""Web console tokens: issued by the compute API, checked by the console proxy.

Where it sits: `POST /servers/{id}/remote-consoles` (api/remote_consoles.py) asks the server's
agent where its console listens, then `issue`s a token for that place and hands the user a URL
holding it; the proxy (consoleproxy/) `claim`s the token when a browser connects and relays to
that place. Only the token's SHA-256 is stored (as Nova's console_auth_tokens), so a database
reader cannot open a console. A token lives `[console] token_ttl` seconds (Nova's 600) and
opens one connection: the claim is a compare-and-swap, so two connects with one token never
both win.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete, select, update

from ministack.common.db import Database
from ministack.compute import models as m
from ministack.config import Settings

Clock = Callable[[], float]

# console type (the API's word) → the driver's console kind
CONSOLE_KINDS = {"novnc": "vnc", "serial": "serial"}
# every type Nova's API knows, by protocol (os-remote-consoles at 2.6 and 2.8)
PROTOCOL_TYPES = {
    "vnc": ("novnc", "xvpvnc"),
    "spice": ("spice-html5",),
    "rdp": ("rdp-html5",),
    "serial": ("serial",),
    "mks": ("webmks",),
}


@dataclass(frozen=True)
class Connection:
    """Where the proxy connects for one console: TCP `host`:`port`, or the unix socket
    `internal_access_path` when `port` is 0."""

    instance_uuid: str
    console_type: str
    host: str
    port: int
    internal_access_path: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def novnc_base(settings: Settings) -> str:
    c = settings.console
    host = settings.default.public_host
    return c.novncproxy_base_url or f"http://{host}:{c.novnc_port}/vnc_lite.html"


def serial_base(settings: Settings) -> str:
    c = settings.console
    return c.serialproxy_base_url or f"ws://{settings.default.public_host}:{c.serial_port}/"


def access_url(settings: Settings, console_type: str, token: str) -> str:
    """The URL a user opens, as Nova builds it: noVNC's page with the websocket path in
    `path` (noVNC ≥ 1.1), the serial websocket with `token` in its query."""
    if console_type == "novnc":
        return f"{novnc_base(settings)}?{urlencode({'path': f'?token={token}'})}"
    return f"{serial_base(settings)}?{urlencode({'token': token})}"


def allowed_origins(settings: Settings) -> frozenset[str]:
    """The origins whose pages may open a console websocket: the proxy's own pages, the
    dashboard and `[console] allowed_origins`."""
    dashboard = settings.endpoint("dashboard")
    found = {_origin(novnc_base(settings)), _origin(serial_base(settings)), _origin(dashboard)}
    found.update(o.rstrip("/") for o in settings.console.allowed_origins)
    return frozenset(found)


async def issue(db: Database, ttl: int, conn: Connection, now: Clock = time.time) -> str:
    """A new token for `conn`, valid `ttl` seconds; expired tokens are dropped on the way."""
    token = str(uuid.uuid4())
    when = now()
    async with db.writer() as s:
        await s.execute(delete(m.ConsoleAuthToken).where(m.ConsoleAuthToken.expires <= when))
        s.add(
            m.ConsoleAuthToken(
                token_hash=token_hash(token),
                console_type=conn.console_type,
                host=conn.host,
                port=conn.port,
                internal_access_path=conn.internal_access_path,
                instance_uuid=conn.instance_uuid,
                expires=when + ttl,
                used=False,
            )
        )
    return token


def _connection(row: m.ConsoleAuthToken) -> Connection:
    return Connection(
        instance_uuid=row.instance_uuid,
        console_type=row.console_type,
        host=row.host,
        port=row.port,
        internal_access_path=row.internal_access_path,
    )


async def show(db: Database, token: str, now: Clock = time.time) -> Connection | None:
    """The connection of an unexpired token (used or not); None when unknown or expired."""
    async with db.session() as s:
        row = (
            await s.execute(
                select(m.ConsoleAuthToken).where(
                    m.ConsoleAuthToken.token_hash == token_hash(token),
                    m.ConsoleAuthToken.expires > now(),
                )
            )
        ).scalar_one_or_none()
    return _connection(row) if row is not None else None


async def claim(
    db: Database, token: str, console_type: str, now: Clock = time.time
) -> Connection | None:
    """Use the token once: its connection when it is known, unexpired, unused and of
    `console_type`; None otherwise. Of two claims of one token exactly one wins."""
    digest = token_hash(token)
    async with db.writer() as s:
        result = await s.execute(
            update(m.ConsoleAuthToken)
            .where(
                m.ConsoleAuthToken.token_hash == digest,
                m.ConsoleAuthToken.console_type == console_type,
                m.ConsoleAuthToken.expires > now(),
                m.ConsoleAuthToken.used.is_(False),
            )
            .values(used=True)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = (
            await s.execute(
                select(m.ConsoleAuthToken).where(m.ConsoleAuthToken.token_hash == digest)
            )
        ).scalar_one()
    return _connection(row)


async def forget_instance(db: Database, instance_uuid: str) -> None:
    """Drop every token of an instance (its console moved or went away)."""
    async with db.writer() as s:
        await s.execute(
            delete(m.ConsoleAuthToken).where(m.ConsoleAuthToken.instance_uuid == instance_uuid)
        )
