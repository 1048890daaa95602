"""What `ministack doctor` asks of the kernel for the network data plane: can this machine make
namespaces, bridges, veth pairs and VXLAN devices? Tried in a throwaway namespace, so the host's
own interfaces are never touched."""

from __future__ import annotations

import os
import shutil
import subprocess

from pyroute2 import IPRoute

from ministack.network.agent.linux import netns

KINDS = ("namespace", "bridge", "veth", "vxlan")


def kernel_support() -> dict[str, str]:
    """Kind → error message for each kind that cannot be made (empty: all work)."""
    name = f"msdoctor-{os.getpid()}"
    errors: dict[str, str] = {}
    try:
        netns.ensure(name)
    except OSError as exc:
        return {kind: f"no network namespaces: {exc}" for kind in KINDS}
    try:
        with IPRoute(netns=name) as ipr:
            tries: dict[str, dict[str, object]] = {
                "bridge": {"ifname": "probe-br", "kind": "bridge"},
                "veth": {"ifname": "probe-v0", "kind": "veth", "peer": "probe-v1"},
                "vxlan": {
                    "ifname": "probe-vx",
                    "kind": "vxlan",
                    "vxlan_id": 42,
                    "vxlan_port": 4789,
                },
            }
            for kind, spec in tries.items():
                try:
                    ipr.link("add", **spec)
                except Exception as exc:  # the message is the diagnosis
                    errors[kind] = str(exc)
    finally:
        netns.remove(name)
    return errors


def bridge_netfilter() -> bool:
    """True when bridged packets pass through iptables (br_netfilter with
    bridge-nf-call-iptables=1)."""
    try:
        with open("/proc/sys/net/bridge/bridge-nf-call-iptables") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


def forward_policy_drops() -> bool:
    """True when iptables' FORWARD chain drops by default (as Docker sets it); then bridged
    guest traffic dies when `bridge_netfilter()` holds. A diagnostic, not the hot path."""
    iptables = shutil.which("iptables") or shutil.which("iptables-nft")
    if iptables is None:
        return False
    try:
        out = subprocess.run(
            [iptables, "-S", "FORWARD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "-P FORWARD DROP" in out
