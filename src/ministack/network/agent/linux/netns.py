"""Network namespaces: create, remove, list, and run code or a process inside one.

A namespace is a name under /run/netns (as `ip netns` makes them). Entering one changes only
the calling thread, so code that must run inside (making a listening socket) runs in a
short-lived thread of its own; a process is started inside with `preexec_fn`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from pyroute2 import IPRoute, netns

CLONE_NEWNET = 0x40000000
RUN_DIR = "/run/netns"

T = TypeVar("T")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def path(name: str) -> str:
    return os.path.join(RUN_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(path(name))


def names(prefix: str = "") -> list[str]:
    """The namespaces whose name starts with `prefix`."""
    return sorted(n for n in netns.listnetns() if n.startswith(prefix))


def ensure(name: str) -> None:
    """Create namespace `name` with its loopback up. Idempotent."""
    if not exists(name):
        netns.create(name)
    with iproute(name) as ipr:
        lo = ipr.link_lookup(ifname="lo")
        if lo:
            ipr.link("set", index=lo[0], state="up")


def remove(name: str) -> None:
    """Delete namespace `name` (its interfaces go with it). Succeeds when it is absent."""
    if exists(name):
        try:
            netns.remove(name)
        except FileNotFoundError:
            pass


def enter(name: str) -> None:
    """Move the calling thread (or a child before exec) into namespace `name`."""
    fd = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def iproute(name: str | None) -> IPRoute:
    """A netlink socket inside namespace `name` (None: this thread's). Made by switching this
    thread in and back, which costs well under a millisecond, where `IPRoute(netns=...)` forks
    a helper (tens of milliseconds)."""
    if name is None:
        return IPRoute()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter(name)
        try:
            return IPRoute()
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:  # pragma: no cover - the kernel refused
                err = ctypes.get_errno()
                raise OSError(err, f"setns back from {name}: {os.strerror(err)}")
    finally:
        os.close(home)


def run_in(name: str | None, func: Callable[[], T]) -> T:
    """Run `func` in a fresh thread inside namespace `name` (None: this one) and return its
    result; sockets it makes stay in that namespace. The thread ends with the call, so no
    other code ever runs in the wrong namespace."""
    if name is None:
        return func()
    box: dict[str, object] = {}

    def target() -> None:
        try:
            enter(name)
            box["result"] = func()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def preexec(name: str | None) -> Callable[[], None] | None:
    """A `preexec_fn` that starts a child process in namespace `name` in its own session."""
    if name is None:
        return None

    def enter_child() -> None:
        enter(name)

    return enter_child
