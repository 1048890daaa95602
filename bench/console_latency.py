"""Web consoles of real VMs: what a console costs and how fast it answers.

1. Boot to the ready banner through LibvirtDriver with the VNC screen (and its VGA device) on
   and off, runs alternating, so the price of `[console] enabled` on every boot is measured
   against a baseline from the same run.
2. Console URL → first frame: POST /servers/{id}/remote-consoles, websocket to the console
   proxy, RFB handshake, one full-screen FramebufferUpdate read whole; against the same RFB
   exchange straight to the domain's VNC port (no API, no token, no proxy) in the same run.

Needs root, libvirtd and the guest image (built on first run).

    .venv/bin/python bench/console_latency.py [--runs 3] [--frames 10]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from libvirt_boot import FileImages, driver_boot  # noqa: E402
from libvirt_servers import Api  # noqa: E402
from tests.cloud import running_cloud  # noqa: E402

from ministack.compute.guestimage import BANNER_PREFIX, DEFAULT_CACHE_DIR, build_test_image  # noqa: E402
from ministack.compute.virt.libvirt import LibvirtDriver, LibvirtOptions  # noqa: E402

TIMEOUT = 300.0
V26 = {"OpenStack-API-Version": "compute 2.31"}  # remote-consoles from 2.6, every token at 2.31


class Stream:
    """Exact reads over TCP or a websocket (binary messages joined)."""

    def __init__(self, tcp: asyncio.StreamReader | None = None, ws: Any = None) -> None:
        self.tcp, self.ws, self.buffer = tcp, ws, b""

    async def read(self, n: int) -> bytes:
        if self.tcp is not None:
            return await self.tcp.readexactly(n)
        while len(self.buffer) < n:
            self.buffer += await self.ws.recv()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


async def first_frame(stream: Stream, send: Any) -> int:
    """RFB 3.8 without a password, then one full FramebufferUpdate (raw encoding) read whole;
    returns its size in bytes."""
    await stream.read(12)
    await send(b"RFB 003.008\n")
    count = (await stream.read(1))[0]
    assert 1 in await stream.read(count), "the VNC server wants a password"
    await send(b"\x01")
    assert await stream.read(4) == b"\0\0\0\0"
    await send(b"\x01")  # shared
    width, height = struct.unpack(">HH", await stream.read(4))
    bpp = (await stream.read(16))[0] // 8
    (name_length,) = struct.unpack(">I", await stream.read(4))
    await stream.read(name_length)
    await send(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
    while (await stream.read(1))[0] != 0:  # skip anything but a FramebufferUpdate
        pass
    _pad, rects = struct.unpack(">BH", await stream.read(3))
    size = 0
    for _ in range(rects):
        _x, _y, w, h, encoding = struct.unpack(">HHHHi", await stream.read(12))
        assert encoding == 0, f"unexpected encoding {encoding}"
        size += len(await stream.read(w * h * bpp))
    return size


async def direct(port: int) -> tuple[float, int]:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    try:
        size = await first_frame(Stream(tcp=reader), send)
    finally:
        writer.close()
    return time.monotonic() - started, size


async def through_proxy(api: Api, uuid: str, novnc_port: int) -> tuple[float, float, int]:
    """Seconds to the URL, seconds to the whole first frame, and its size."""
    started = time.monotonic()
    body = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
    resp = await asyncio.to_thread(
        api.http.post, f"/servers/{uuid}/remote-consoles", json=body, headers=V26
    )
    url = resp.json()["remote_console"]["url"]
    got_url = time.monotonic() - started
    token = url.split("token%3D", 1)[1]
    socket = f"ws://127.0.0.1:{novnc_port}/?token={token}"
    async with websockets.connect(
        socket,
        origin=f"http://127.0.0.1:{novnc_port}",  # type: ignore[arg-type]
        max_size=None,
    ) as ws:
        size = await first_frame(Stream(ws=ws), ws.send)
    return got_url, time.monotonic() - started, size


async def boot_cost(runs: int, image: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="ministack-bench-console-", dir="/var/tmp"))
    work.chmod(0o755)
    try:
        drivers = {}
        for vnc in (True, False):
            options = LibvirtOptions(
                instances_path=work / "instances",
                image_cache_path=work / "imagecache",
                virt_type="qemu",
                vnc=vnc,
            )
            drivers[vnc] = LibvirtDriver(options, FileImages(image))
            await drivers[vnc].init_host("bench")
        times: dict[bool, list[float]] = {True: [], False: []}
        for run in range(runs):
            for vnc in (True, False) if run % 2 == 0 else (False, True):
                times[vnc].append(await driver_boot(drivers[vnc]))
            print(
                f"run {run + 1}: with VNC {times[True][-1]:.2f} s, without {times[False][-1]:.2f} s"
            )
        on, off = statistics.median(times[True]), statistics.median(times[False])
        print(
            f"boot to banner, median of {runs}: with VNC screen {on:.2f} s, headless "
            f"{off:.2f} s (same run), difference {on - off:+.2f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def frame_latency(frames: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ministack-bench-console-api-", dir="/var/tmp"))
    tmp.chmod(0o755)
    env = {
        "MINISTACK_COMPUTE_VIRT_DRIVER": "libvirt",
        "MINISTACK_LIBVIRT_INSTANCES_PATH": str(tmp / "instances"),
        "MINISTACK_LIBVIRT_IMAGE_CACHE_PATH": str(tmp / "imagecache"),
    }
    try:
        with running_cloud(tmp, services=("identity", "image", "compute"), extra_env=env) as c:
            c.ministack("seed")
            api = Api(c)
            try:
                uuid = api.create("bench-console")
                deadline = time.monotonic() + TIMEOUT
                while BANNER_PREFIX not in api.console(uuid):
                    assert time.monotonic() < deadline, "no banner"
                    await asyncio.sleep(0.5)
                shown = api.http.post(
                    f"/servers/{uuid}/remote-consoles",
                    json={"remote_console": {"protocol": "vnc", "type": "novnc"}},
                    headers=V26,
                ).json()["remote_console"]["url"]
                token = shown.split("token%3D", 1)[1]
                found = api.http.get(f"/os-console-auth-tokens/{token}", headers=V26)
                port = found.json()["console"]["port"]
                urls, proxied, plain = [], [], []
                size = 0
                for _ in range(frames):
                    u, t, size = await through_proxy(api, uuid, c.ports["console_novnc"])
                    urls.append(u)
                    proxied.append(t)
                    plain.append((await direct(port))[0])
                p, d = statistics.median(proxied), statistics.median(plain)
                print(
                    f"console URL → first full frame ({size} bytes), median of {frames}: "
                    f"{p * 1000:.1f} ms through the API and proxy; straight to QEMU's VNC "
                    f"{d * 1000:.1f} ms (same run); overhead {(p - d) * 1000:+.1f} ms, of which "
                    f"the URL (POST remote-consoles) {statistics.median(urls) * 1000:.1f} ms"
                )
            finally:
                api.delete_all("bench-console")  # a failed run leaves no domain behind
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def main(runs: int, frames: int) -> None:
    image = build_test_image(DEFAULT_CACHE_DIR)
    await frame_latency(frames)
    if runs:
        await boot_cost(runs, image)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.frames))
