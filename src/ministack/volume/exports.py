"""NBD exports of volumes to compute hosts on other machines (connection_info "nbd").

Where it sits: attachment update (a connector) → `VolumeManager.initialize_connection` →
here when the compute host cannot open the volume's file (another machine, or
`volume.nbd_for_local`); attachment delete → `terminate_connection` → `remove`. The manager's
start and its reaper call `reconcile` with the attachments still alive.

One `qemu-storage-daemon` per attachment, rather than one daemon with an export per
attachment added over QMP: the TLS-PSK credentials of an NBD server are per server, so only
a daemon of its own gives each attachment its own secret (a shared server would accept every
attachment's key for every export); a crash or a stop touches one attachment; and the state
of an export is a directory plus a process, which a restarted manager can check without
replaying QMP commands. The cost is one small process (~15 MiB) per remote attachment.

Each export listens on `volume.storage_address` and requires TLS with the attachment's
pre-shared key (identity: the attachment id); the key travels in the connection info as
Cinder's iSCSI CHAP secret does (`auth_method`, `auth_username`, `auth_password`). Its
directory `<volumes>/../nbd-exports/<attachment id>` (0700) holds `export.json` (port, volume),
the PSK file and the pidfile; `remove` leaves no process, no file. An attachment removed
without `terminate_connection` (force-detach, reset, the reaper) loses its export at the
reaper's next pass. Exports outlive a stop of the volume service, as a storage target would.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ministack.common import files
from ministack.common import storagedaemon as qsd
from ministack.volume.backends.base import BackendError

log = logging.getLogger("ministack.volume.exports")
START_ATTEMPTS = 5  # a port picked free may be taken before the daemon binds it


@dataclass(frozen=True)
class Export:
    """What a restarted manager needs to serve an attachment again, the same way."""

    attachment_id: str
    volume_id: str
    path: str
    address: str
    port: int
    read_only: bool = False

    @property
    def name(self) -> str:
        return f"volume-{self.volume_id}"


def _free_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        port: int = s.getsockname()[1]
        return port


class NbdExports:
    """The NBD exports of one volume service, under `root`."""

    def __init__(self, root: Path, address: str) -> None:
        self.root = files.private_dir(root)
        self.address = address

    def directory(self, attachment_id: str) -> Path:
        return self.root / attachment_id

    def attachment_ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def _load(self, attachment_id: str) -> tuple[Export, str] | None:
        d = self.directory(attachment_id)
        try:
            export = Export(**json.loads((d / "export.json").read_text()))
            key = (d / qsd.PSK_FILE).read_text().strip().partition(":")[2]
        except (OSError, ValueError, TypeError):
            return None
        return (export, key) if key else None

    async def ensure(
        self, attachment_id: str, volume_id: str, path: Path, read_only: bool = False
    ) -> dict[str, Any]:
        """Serve the volume for the attachment (again, on the same port and key, when it was
        served before) and return its connection info. Idempotent. On error nothing is left
        and BackendError says why."""
        known = self._load(attachment_id)
        if known is not None and known[0].volume_id == volume_id:
            export, key = known
            if qsd.running(self.directory(attachment_id)) is None:
                await self._start(export, key)
            return self.connection_info(export, key)
        await self.remove(attachment_id)
        key = qsd.new_key()
        for attempt in range(START_ATTEMPTS):
            port = _free_port(self.address)
            export = Export(attachment_id, volume_id, str(path), self.address, port, read_only)
            try:
                await self._start(export, key)
                return self.connection_info(export, key)
            except BackendError:
                if attempt == START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _start(self, export: Export, key: str) -> None:
        d = files.private_dir(self.directory(export.attachment_id))
        try:
            (d / "export.json").write_text(json.dumps(asdict(export)))
            qsd.write_psk(d, export.attachment_id, key)
            await qsd.start(d, self._args(export, d))
        except (OSError, qsd.StorageDaemonError) as exc:
            await qsd.stop(d)
            raise BackendError(f"Could not export volume {export.volume_id}: {exc}") from None
        log.info("exported volume %s on %s:%d", export.volume_id, export.address, export.port)

    def _args(self, export: Export, d: Path) -> list[str]:
        host = export.address
        ro = "on" if export.read_only else "off"
        return [
            "--object",
            f"tls-creds-psk,id=tls0,endpoint=server,dir={qsd.opt_value(str(d))}",
            "--blockdev",
            f"driver=file,node-name=file0,filename={qsd.opt_value(export.path)},read-only={ro}",
            "--blockdev",
            f"driver=qcow2,node-name=disk0,file=file0,read-only={ro}",
            "--nbd-server",
            f"addr.type=inet,addr.host={host},addr.port={export.port},tls-creds=tls0",
            "--export",
            f"type=nbd,id=export0,node-name=disk0,name={export.name},"
            f"writable={'off' if export.read_only else 'on'}",
        ]

    def connection_info(self, export: Export, key: str) -> dict[str, Any]:
        return {
            "driver_volume_type": "nbd",
            "data": {
                "host": export.address,
                "port": export.port,
                "name": export.name,
                "volume_id": export.volume_id,
                "format": "raw",
                "auth_method": "tls-psk",
                "auth_username": export.attachment_id,
                "auth_password": key,
            },
        }

    async def remove(self, attachment_id: str) -> None:
        """Stop the attachment's export and remove its keys. Idempotent."""
        d = self.directory(attachment_id)
        if d.exists():
            await qsd.stop(d)
            log.info("removed the NBD export of attachment %s", attachment_id)

    async def reconcile(self, found: list[str], live: set[str]) -> None:
        """Of the exports `found`, remove those of attachments not in `live`; serve those of
        live attachments whose daemon is gone (a host reboot) again, on their port and key.
        Never raises."""
        for attachment_id in found:
            try:
                known = self._load(attachment_id)
                if attachment_id not in live or known is None:
                    await self.remove(attachment_id)
                elif qsd.running(self.directory(attachment_id)) is None:
                    await self._start(*known)
            except Exception as exc:
                log.warning("reconciling the export of %s failed: %s", attachment_id, exc)
