"""Volumes exported over NBD by a volume service on another machine, on a libvirt host.

Where it sits: `LibvirtDriver.attach_volume` of a BlockDevice with an `NbdSource` (connection
info "nbd") calls `connect` before plugging the disk, `detach_volume` calls `disconnect`
after unplugging it, and `destroy` calls `disconnect_all`.

The export requires TLS with a pre-shared key. libvirt 9.0 cannot give QEMU one: a network
disk's `tls='yes'` only uses the host-wide x509 credentials of qemu.conf (`nbd_tls_x509_*`),
and a `tls-creds-psk` object passed with `<qemu:commandline>` exists at domain start only,
not for a hot-plugged disk. So each attached volume gets a `qemu-storage-daemon` on this host
that is the TLS-PSK client of the remote export and serves it again on a unix socket
(0660 and the hypervisor's group, in a 2710 directory), and the guest's disk is libvirt's
`<source protocol='nbd'>` on that socket. The key never leaves this process's files
(0600); no unauthenticated TCP port is opened. The price is one more hop per I/O
(bench/volume_nbd.py measures it). The client reconnects for RECONNECT_DELAY seconds, so a
restart of the volume service does not fail the guest's disk.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ministack.common import storagedaemon as qsd
from ministack.compute.virt.driver import BlockDevice, NbdSource
from ministack.compute.virt.libvirt import access

RECONNECT_DELAY = 60
PREFIX = "nbd-"
RUNTIME = Path("/run/ministack-nbd")
"""Where the clients live: a unix socket path must be shorter than 108 bytes, which a state
directory's instance path often is not. The instance directory keeps a link
`nbd-<volume id>` to its client's directory, so destroying the instance finds them."""


def _runtime() -> Path:
    root = RUNTIME if os.access(RUNTIME.parent, os.W_OK) else Path(tempfile.gettempdir()) / "msnbd"
    access.shared_dir(root, access.hypervisor_gid())
    return root


def bridge_dir(instance_dir: Path, volume_id: str) -> Path:
    """The client's directory of the instance's volume (pidfile, key, socket)."""
    digest = hashlib.sha256(f"{instance_dir.resolve()}:{volume_id}".encode()).hexdigest()
    return _runtime() / digest[:24]


def link(instance_dir: Path, volume_id: str) -> Path:
    return instance_dir / f"{PREFIX}{volume_id}"


def socket_path(instance_dir: Path, volume_id: str) -> Path:
    return bridge_dir(instance_dir, volume_id) / "sock"


def _args(d: Path, nbd: NbdSource, read_only: bool) -> list[str]:
    ro = "on" if read_only else "off"
    return [
        "--object",
        f"tls-creds-psk,id=tls0,endpoint=client,dir={qsd.opt_value(str(d))},"
        f"username={qsd.opt_value(nbd.identity)}",
        "--blockdev",
        f"driver=nbd,node-name=remote,server.type=inet,server.host={nbd.host},"
        f"server.port={nbd.port},export={qsd.opt_value(nbd.name)},tls-creds=tls0,"
        f"reconnect-delay={RECONNECT_DELAY},read-only={ro}",
        "--nbd-server",
        f"addr.type=unix,addr.path={qsd.opt_value(str(d / 'sock'))}",
        "--export",
        f"type=nbd,id=export0,node-name=remote,name={qsd.opt_value(nbd.name)},"
        f"writable={'off' if read_only else 'on'}",
    ]


async def connect(instance_dir: Path, device: BlockDevice) -> Path:
    """Reach the device's export through a local TLS-PSK client; returns the unix socket the
    guest's QEMU opens. Idempotent; on error nothing is left and StorageDaemonError says why."""
    assert device.nbd is not None
    d = bridge_dir(instance_dir, device.volume_id)
    sock = d / "sock"
    if qsd.running(d) is not None and sock.exists():
        return sock
    await qsd.stop(d)
    gid = access.hypervisor_gid()
    access.shared_dir(d, gid)
    try:
        qsd.write_psk(d, device.nbd.identity, device.nbd.key)
        await qsd.start(d, _args(d, device.nbd, device.read_only))
        if gid is not None:
            os.chown(sock, -1, gid)
        sock.chmod(0o660)
        pointer = link(instance_dir, device.volume_id)
        pointer.unlink(missing_ok=True)
        pointer.symlink_to(d)
    except BaseException:
        await disconnect(instance_dir, device.volume_id)
        raise
    return sock


async def disconnect(instance_dir: Path, volume_id: str) -> None:
    """Stop the volume's client and remove its key, socket and link. Idempotent."""
    await qsd.stop(bridge_dir(instance_dir, volume_id))
    link(instance_dir, volume_id).unlink(missing_ok=True)


async def disconnect_all(instance_dir: Path) -> None:
    """Stop every NBD client of the instance (it is being destroyed). Idempotent."""
    if instance_dir.is_dir():
        for pointer in instance_dir.glob(f"{PREFIX}*"):
            await disconnect(instance_dir, pointer.name.removeprefix(PREFIX))


def source_xml(device: BlockDevice, sock: Path) -> str:
    """The <source> of the guest's disk: the local client's export on its unix socket."""
    assert device.nbd is not None
    return (
        f"<source protocol='nbd' name={quoteattr(device.nbd.name)}>"
        f"<host transport='unix' socket={quoteattr(str(sock))}/></source>"
    )
