"""The driver's connection to libvirtd: reopened once per call when libvirtd restarted.

Where it sits: every libvirt call of `LibvirtDriver` goes through `Connection.call`, which runs
it in a thread and turns libvirt's errors into DriverError. Also the driver's options.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import libvirt

from ministack.compute.virt.driver import DriverError, GuestNotFound
from ministack.compute.virt.libvirt import host
from ministack.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class LibvirtOptions:
    """The driver's configuration; `from_settings` reads the [libvirt] section.

    `uri` may name a remote libvirtd (qemu+ssh://host/system, qemu+tcp://host/system); the
    driver writes disks under `instances_path` itself, so that path must be the same file
    system on the libvirt host (shared storage). `remove_orphans` is for the agent's
    reconcile: domains from `list_guests` that match no instance are destroyed when true.
    """

    instances_path: Path
    image_cache_path: Path
    uri: str = "qemu:///system"
    virt_type: str = "auto"
    image_cache_max_age: float = 86400.0
    remove_orphans: bool = False
    shutdown_timeout: float = 60.0
    vnc: bool = False  # give each guest a VNC screen for the web console
    vnc_listen: str = "127.0.0.1"  # where it listens: [console] proxyclient_address
    tap_netns: str = ""
    """The namespace the network agent's data plane runs in ([network_agent] host_netns, a
    simulated host): each NIC's tap is moved there after libvirt made it. '': none."""

    @classmethod
    def from_settings(cls, settings: Settings) -> LibvirtOptions:
        section = settings.libvirt
        state = settings.state_path
        return cls(
            instances_path=Path(section.instances_path or state / "instances"),
            image_cache_path=Path(section.image_cache_path or state / "imagecache"),
            uri=section.uri,
            virt_type=section.virt_type,
            image_cache_max_age=float(section.image_cache_max_age),
            remove_orphans=section.remove_orphans,
            shutdown_timeout=float(section.shutdown_timeout),
            vnc=settings.console.enabled,
            vnc_listen=settings.console.proxyclient_address,
            tap_netns=settings.network_agent.host_netns,
        )


def lookup(conn: Any, uuid: str) -> Any:
    """The domain with this uuid, or None."""
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def ignore_not_running(action: Callable[[], object]) -> None:
    """Run a stop-like action; a domain that is already stopped or gone is fine."""
    try:
        action()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in (
            libvirt.VIR_ERR_OPERATION_INVALID,
            libvirt.VIR_ERR_NO_DOMAIN,
        ):
            raise


class Connection:
    """One lazily opened libvirt connection, shared by the driver's threads."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        with self._lock:
            if self._conn is None:
                self._conn = host.connect(self.uri)
            return self._conn

    def _drop(self, conn: Any) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()

    async def call(self, work: Callable[[Any], T]) -> T:
        """Run `work(conn)` in a thread; reconnect once if libvirtd went away meanwhile.

        Every libvirt failure comes out as DriverError (GuestNotFound passes through).
        """

        def attempt() -> T:
            conn = self._connection()
            try:
                return work(conn)
            except libvirt.libvirtError as exc:
                if not host.is_connection_error(exc, conn):
                    raise
                log.warning("lost the libvirt connection (%s); reconnecting", exc)
                self._drop(conn)
                return work(self._connection())

        try:
            return await asyncio.to_thread(attempt)
        except libvirt.libvirtError as exc:
            raise DriverError(f"libvirt: {exc.get_error_message()}") from exc


async def find_domain(connection: Connection, uuid: str) -> Any:
    """The domain of `uuid`; raises GuestNotFound."""
    domain = await connection.call(lambda conn: lookup(conn, uuid))
    if domain is None:
        raise GuestNotFound(f"no guest {uuid} on this host")
    return domain


async def hard_stop(connection: Connection, uuid: str) -> None:
    """Power the domain of `uuid` off at once; nothing to do when it is stopped or gone."""

    def stop(conn: Any) -> None:
        domain = lookup(conn, uuid)
        if domain is not None and domain.isActive():
            ignore_not_running(domain.destroy)

    await connection.call(stop)
