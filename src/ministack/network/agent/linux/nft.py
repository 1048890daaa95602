"""Apply a `firewall.Ruleset` to one host namespace with `nft -f -`, as the difference with the
ruleset applied last, in one transaction; and clear the conntrack entries of ports whose
allowed traffic narrowed.

Only the tables `bridge ministack` and `inet ministack` are ever written. The first pass of an
agent (nothing applied yet, e.g. after a restart) re-makes both tables whole in one atomic
transaction: conntrack keeps the established flows, so guests see no gap. Later passes write
only the chains whose rules changed (flush + add) and the set and map elements that changed.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterable

from ministack.network.agent.firewall import TABLE, Ruleset, set_decl
from ministack.network.agent.linux import netns

log = logging.getLogger("ministack.network.agent")

FAMILIES = ("bridge", "inet")


def run(host_netns: str | None, script: str) -> None:
    done = subprocess.run(
        ["nft", "-f", "-"],
        input=script.encode(),
        capture_output=True,
        preexec_fn=netns.preexec(host_netns),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"nft refused the ruleset: {done.stderr.decode().strip()[:2000]}")


def _declare_chain(family: str, name: str, rules: tuple[str, ...]) -> str:
    hook = f" {{ {rules[0]} }}" if rules and rules[0].startswith("type ") else ""
    return f"add chain {family} {TABLE} {name}{hook}"


def _chain(family: str, name: str, rules: tuple[str, ...], *, flush: bool) -> list[str]:
    body = rules[1:] if rules and rules[0].startswith("type ") else rules
    out = [f"flush chain {family} {TABLE} {name}"] if flush else []
    return out + [f"add rule {family} {TABLE} {name} {rule}" for rule in body]


def _elements(action: str, family: str, name: str, items: Iterable[str]) -> list[str]:
    items = sorted(items)
    if not items:
        return []
    return [f"{action} element {family} {TABLE} {name} {{ {', '.join(items)} }}"]


def script(new: Ruleset, old: Ruleset | None) -> str:
    """The nft commands that turn `old` (None: whatever is there) into `new`."""
    lines: list[str] = []
    if old is None:
        lines.append(drop_tables())
        old = Ruleset()
    for family in FAMILIES:
        lines.append(f"add table {family} {TABLE}")
    for family, name in sorted(new.sets.keys() - old.sets.keys()):
        lines.append(_declare(family, name))
    for key in sorted(new.chains.keys() - old.chains.keys()):
        lines.append(_declare_chain(*key, new.chains[key]))
    # sets first (rules name them), then chains (maps jump to them), then map elements
    for key, items in sorted(new.sets.items()):
        if key[1] in ("spoof", "egress", "ingress"):
            continue
        before = old.sets.get(key, frozenset())
        lines += _elements("delete", *key, before - items)
        lines += _elements("add", *key, items - before)
    for key, rules in sorted(new.chains.items()):
        if old.chains.get(key) != rules:
            lines += _chain(*key, rules, flush=key in old.chains)
    for key, items in sorted(new.sets.items()):
        if key[1] not in ("spoof", "egress", "ingress"):
            continue
        before = old.sets.get(key, frozenset())
        lines += _elements("delete", *key, before - items)
        lines += _elements("add", *key, items - before)
    stale = sorted(old.chains.keys() - new.chains.keys(), key=_chain_order)
    lines += [f"flush chain {f} {TABLE} {n}" for f, n in stale]
    lines += [f"delete chain {f} {TABLE} {n}" for f, n in stale]
    lines += [f"delete set {f} {TABLE} {n}" for f, n in sorted(old.sets.keys() - new.sets.keys())]
    return "\n".join(lines) + "\n"


def drop_tables() -> str:
    """Commands removing both our tables (succeeding when they are absent)."""
    lines = []
    for family in FAMILIES:
        lines += [f"add table {family} {TABLE}", f"delete table {family} {TABLE}"]
    return "\n".join(lines) + "\n"


def _declare(family: str, name: str) -> str:
    decl = set_decl(family, name)  # "set NAME { ... }" or "map NAME { ... }"
    kind, rest = decl.split(" ", 1)
    return f"add {kind} {family} {TABLE} {rest}"


def _chain_order(key: tuple[str, str]) -> tuple[int, str]:
    """Port chains go before the group chains they jump to."""
    return (1 if key[1].startswith("g-") else 0, key[1])


def narrowed(new: Ruleset, old: Ruleset | None) -> set[str]:
    """Addresses of filtered ports whose verdicts may now refuse a flow they allowed: a chain
    or set they depend on lost something, or the port itself went away or lost its filter."""
    if old is None:
        return set()
    lost: set[tuple[str, str]] = set()
    for key, rules in old.chains.items():
        if not set(rules) <= set(new.chains.get(key, ())):
            lost.add(key)
    for key, items in old.sets.items():
        if not items <= new.sets.get(key, frozenset()):
            lost.add(key)
    out: set[str] = set()
    for port_id, deps in old.port_deps.items():
        gone = port_id not in new.port_deps or new.port_deps[port_id] != deps
        if gone or deps & lost:
            out.update(old.port_ips.get(port_id, ()))
    return out


def forget_flows(host_netns: str | None, addresses: Iterable[str]) -> None:
    """Delete the conntrack entries from or to each address (they are re-checked against the
    rules from their next packet on: allowed flows carry on, refused ones end)."""
    for address in sorted(addresses):
        family = "ipv6" if ":" in address else "ipv4"
        for flag in ("-s", "-d"):
            subprocess.run(
                ["conntrack", "-D", "-f", family, flag, address],
                capture_output=True,
                preexec_fn=netns.preexec(host_netns),
                check=False,
            )
