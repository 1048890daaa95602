"""The ministack-test guest image: built from Debian packages, booted under QEMU TCG.

Guests get no host networking: either no NIC, or QEMU's user network with restrict=on (the
guest reaches nothing outside QEMU) and one forward from 127.0.0.1 to the guest's SSH port.
The image is built into MINISTACK_GUESTIMAGE_CACHE (default /var/cache/ministack/guestimage)
so reruns reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ministack.compute.guestimage import BANNER_PREFIX, DEFAULT_CACHE_DIR, build_test_image
from ministack.compute.guestimage.debs import parse_apt_records
from ministack.compute.guestimage.initramfs import Tree
from ministack.compute.guestimage.kernel import dependency_order
from ministack.compute.guestimage.tools import GuestImageError

CACHE_DIR = Path(os.environ.get("MINISTACK_GUESTIMAGE_CACHE", str(DEFAULT_CACHE_DIR)))
INSTALL_HINT = "run scripts/install-guest-deps.sh (as root)"
BOOT_TIMEOUT = 120.0  # seconds from QEMU start to the banner; about 10-15 s is usual here
POWEROFF_TIMEOUT = 60.0
HOSTNAME = "testvm-abc"
ADMIN_PASS = "Guest-pw 42"
INSTANCE_UUID = "5e6f4b1c-0d2a-4c3b-9e8f-7a6b5c4d3e2f"
USER_DATA = "#!/bin/sh\necho USERDATA-RAN-42\n"
BANNER = re.compile(re.escape(BANNER_PREFIX) + r" hostname=(\S+) ip=(\S+) ===")


def require(*tools: str) -> None:
    """Fail (never skip) when a host tool the test needs is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: {INSTALL_HINT}")


@pytest.fixture(scope="module")
def image() -> Path:
    try:
        return build_test_image(CACHE_DIR)
    except GuestImageError as exc:
        pytest.fail(f"building the guest image failed: {exc}")


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("ssh-keygen", "ssh")
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tester@ministack", "-f", key],
        check=True,
    )
    return key


def write_metadata(root: Path, hostname: str, public_key: str, user_data: str) -> Path:
    """openstack/latest/{meta_data.json,user_data} under root, as Nova serves them."""
    latest = root / "openstack" / "latest"
    latest.mkdir(parents=True)
    meta = {
        "uuid": INSTANCE_UUID,
        "name": hostname,
        "hostname": hostname,
        "launch_index": 0,
        "availability_zone": "nova",
        "meta": {"role": "test"},
        "public_keys": {"testkey": public_key},
        "keys": [{"name": "testkey", "type": "ssh", "data": public_key}],
        "admin_pass": ADMIN_PASS,
    }
    (latest / "meta_data.json").write_text(json.dumps(meta))
    (latest / "user_data").write_text(user_data)
    return root


def make_config_drive(directory: Path, public_key: str, user_data: str) -> Path:
    """An ISO 9660 config drive labelled config-2, laid out as Nova writes it."""
    require("genisoimage")
    root = write_metadata(directory / "configdrive", HOSTNAME, public_key, user_data)
    iso = directory / "configdrive.iso"
    command = ["genisoimage", "-quiet", "-o", str(iso), "-V", "config-2", "-r", "-J", str(root)]
    subprocess.run(command, check=True)
    return iso


# QEMU runs this once per guest connection to 169.254.169.254:80, on the connection's stdio.
METADATA_RESPONDER = """\
import os, sys
root = sys.argv[1]
request = sys.stdin.buffer.readline().decode(errors="replace").split()
while sys.stdin.buffer.readline() not in (b"\\r\\n", b"\\n", b""):
    pass
path = os.path.normpath(os.path.join(root, request[1].lstrip("/"))) if len(request) > 1 else root
if path.startswith(root + os.sep) and os.path.isfile(path):
    status, body = b"200 OK", open(path, "rb").read()
else:
    status, body = b"404 Not Found", b"not found"
head = b"HTTP/1.0 %s\\r\\nContent-Length: %d\\r\\n\\r\\n" % (status, len(body))
sys.stdout.buffer.write(head + body)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Guest:
    """One QEMU process booting the image, with its serial log and QMP socket."""

    def __init__(self, image: Path, workdir: Path, extra: list[str]) -> None:
        require("qemu-system-x86_64")
        self.log = workdir / "serial.log"
        self.qmp_socket = workdir / "qmp.sock"
        self.started = time.monotonic()
        self.output = (workdir / "qemu.out").open("wb")
        self.process = subprocess.Popen(
            [
                "qemu-system-x86_64",
                *["-accel", "tcg", "-m", "256", "-nodefaults", "-no-user-config"],
                *["-display", "none"],
                *[
                    "-serial",
                    f"file:{self.log}",
                    "-qmp",
                    f"unix:{self.qmp_socket},server=on,wait=off",
                ],
                # snapshot=on: the guest's writes go to a temp file, the cached image stays clean
                *["-drive", f"file={image},if=virtio,snapshot=on"],
                *extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    def console(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first match of pattern in the serial log; fails when QEMU exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := pattern.search(self.console()):
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(
            f"no {pattern.pattern!r} on the console after {timeout:.0f} s "
            f"(QEMU exit status {self.process.poll()}); console:\n{self.console()[-4000:]}"
        )

    def qmp(self, *commands: dict[str, object]) -> None:
        """Run QMP commands in order; fails on the first error."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self.qmp_socket))
            with sock.makefile("rw") as stream:
                json.loads(stream.readline())  # greeting
                for command in ({"execute": "qmp_capabilities"}, *commands):
                    stream.write(json.dumps(command) + "\n")
                    stream.flush()
                    while "return" not in (reply := json.loads(stream.readline())):
                        assert "error" not in reply, (command, reply)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"QEMU still running {timeout:.0f} s later; console:\n{self.console()[-3000:]}"
            )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.output.close()


@pytest.fixture
def guests() -> Iterator[list[Guest]]:
    started: list[Guest] = []
    yield started
    for guest in started:
        guest.kill()


def ssh(key: Path, port: int, command: str) -> str:
    done = subprocess.run(
        [
            "ssh",
            "-i",
            key,
            "-p",
            str(port),
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=30",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
            command,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return done.stdout


@pytest.mark.e2e
def test_boots_from_config_drive_with_ssh_and_powers_off_on_acpi_button(
    image: Path, ssh_key: Path, tmp_path: Path, guests: list[Guest]
) -> None:
    public_key = ssh_key.with_suffix(".pub").read_text()
    iso = make_config_drive(tmp_path, public_key, USER_DATA)
    port = free_port()
    guest = Guest(
        image,
        tmp_path,
        [
            "-drive",
            f"file={iso},media=cdrom,readonly=on",
            "-nic",
            f"user,restrict=on,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22",
        ],
    )
    guests.append(guest)

    banner = guest.wait_for(BANNER, BOOT_TIMEOUT)
    print(f"\nQEMU start to banner: {time.monotonic() - guest.started:.1f} s")
    assert banner.group(1) == HOSTNAME
    assert banner.group(2) == "10.0.2.15"  # QEMU's user-network DHCP
    assert "USERDATA-RAN-42" in guest.console()

    # The key from the config drive lets root in; the uuid came along too.
    assert ssh(ssh_key, port, "hostname; cat /run/ministack/instance-id").split() == [
        HOSTNAME,
        INSTANCE_UUID,
    ]
    # admin_pass became root's password: hashing it again with the stored salt gives the hash
    assert "set root's password from admin_pass" in guest.console()
    check = (
        "h=$(sed -n 's/^root:\\([^:]*\\):.*/\\1/p' /etc/shadow); "
        "s=$(echo \"$h\" | cut -d'$' -f3); "
        f'[ "$(mkpasswd -m sha512 \'{ADMIN_PASS}\' "$s")" = "$h" ] && echo MATCH'
    )
    assert ssh(ssh_key, port, check).strip() == "MATCH"

    # A NIC attached to the running guest gets DHCP too (like interface attach).
    guest.qmp(
        {"execute": "netdev_add", "arguments": {"type": "user", "id": "net1", "restrict": True}},
        {"execute": "device_add", "arguments": {"driver": "virtio-net-pci", "netdev": "net1"}},
    )
    for _ in range(60):
        if "inet 10.0.2.15/24" in ssh(ssh_key, port, "ip -4 addr show dev eth1 || true"):
            break
        time.sleep(1)
    else:
        pytest.fail(f"the attached NIC got no address; console:\n{guest.console()[-3000:]}")

    pressed = time.monotonic()
    guest.qmp({"execute": "system_powerdown"})
    assert guest.wait_exit(POWEROFF_TIMEOUT) == 0
    print(f"power button to QEMU exit: {time.monotonic() - pressed:.1f} s")
    assert "power button pressed" in guest.console()
    assert "reboot: Power down" in guest.console()


@pytest.mark.e2e
def test_boots_from_virtio_config_drive_without_nic_and_reboots(
    image: Path, ssh_key: Path, tmp_path: Path, guests: list[Guest]
) -> None:
    user_data = "#!/bin/sh\necho USERDATA-RAN-43\n(sleep 1; reboot) &\n"
    iso = make_config_drive(tmp_path, ssh_key.with_suffix(".pub").read_text(), user_data)
    guest = Guest(
        image,
        tmp_path,
        [
            "-drive",
            f"file={iso},if=virtio,format=raw,readonly=on",
            "-nic",
            "none",
            "-no-reboot",
        ],
    )
    guests.append(guest)

    banner = guest.wait_for(BANNER, BOOT_TIMEOUT)
    assert banner.groups() == (HOSTNAME, "none")
    assert "USERDATA-RAN-43" in guest.console()
    # `reboot` inside the guest resets the machine, which -no-reboot turns into an exit.
    assert guest.wait_exit(POWEROFF_TIMEOUT) == 0
    assert "reboot: Restarting system" in guest.console()


@pytest.mark.e2e
def test_boots_from_metadata_service_without_config_drive(
    image: Path, ssh_key: Path, tmp_path: Path, guests: list[Guest]
) -> None:
    root = write_metadata(
        tmp_path / "metadata", "testvm-md", ssh_key.with_suffix(".pub").read_text(), USER_DATA
    )
    responder = tmp_path / "responder.py"
    responder.write_text(METADATA_RESPONDER)
    port = free_port()
    # 169.254.0.0/16 as QEMU's user network puts the metadata address on-link; guestfwd hands
    # each connection to it to the responder, so nothing leaves QEMU.
    nic = (
        "user,restrict=on,model=virtio-net-pci,net=169.254.0.0/16,"
        f"hostfwd=tcp:127.0.0.1:{port}-:22,"
        f"guestfwd=tcp:169.254.169.254:80-cmd:{sys.executable} {responder} {root}"
    )
    guest = Guest(image, tmp_path, ["-nic", nic])
    guests.append(guest)

    banner = guest.wait_for(BANNER, BOOT_TIMEOUT)
    assert banner.group(1) == "testvm-md"
    assert "metadata service: http://169.254.169.254/openstack/latest" in guest.console()
    assert "USERDATA-RAN-42" in guest.console()
    assert ssh(ssh_key, port, "hostname").strip() == "testvm-md"


def test_unchanged_inputs_reuse_the_cached_image(image: Path) -> None:
    before = image.stat()
    started = time.monotonic()
    again = build_test_image(CACHE_DIR)
    print(f"\ncached build: {time.monotonic() - started:.2f} s")
    after = again.stat()
    assert again == image
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_build_is_reproducible(image: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # Seed only the downloaded packages: everything else is built again from them.
    shutil.copytree(CACHE_DIR / "debs", cache / "debs")
    shutil.copy2(CACHE_DIR / "packages.json", cache / "packages.json")
    rebuilt = build_test_image(cache)
    assert rebuilt != image
    digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (image, rebuilt)]
    assert digest[0] == digest[1]


def test_modules_load_after_their_dependencies() -> None:
    depends = {
        "virtio": ["virtio_ring"],
        "virtio_ring": [],
        "virtio_net": ["virtio", "virtio_ring", "net_failover"],
        "net_failover": ["failover"],
        "failover": [],
    }
    order = dependency_order(["virtio_net", "virtio"], depends, builtin={"crc32c"})
    assert order == ["virtio_ring", "virtio", "failover", "net_failover", "virtio_net"]
    with pytest.raises(GuestImageError, match="nosuch"):
        dependency_order(["nosuch"], depends, builtin=set())


def test_cpio_archive_is_newc_and_deterministic() -> None:
    def archive() -> bytes:
        tree = Tree()
        tree.add_file("etc/b", b"hello")
        tree.add_symlink("bin/sh", "/bin/busybox")
        tree.add_char_device("dev/console", 5, 1)
        return tree.cpio()

    data = archive()
    assert data == archive()
    assert data.startswith(b"070701")
    names = re.findall(rb"070701[0-9a-f]{104}([^\x00]+)\x00", data)
    assert names == [b"bin", b"bin/sh", b"dev", b"dev/console", b"etc", b"etc/b", b"TRAILER!!!"]


def test_apt_records_are_parsed() -> None:
    text = "Package: a\nVersion: 1\nDescription: x\n continued\n\nPackage: b\nVersion: 2\n"
    assert parse_apt_records(text) == [
        {"Package": "a", "Version": "1", "Description": "x"},
        {"Package": "b", "Version": "2"},
    ]
