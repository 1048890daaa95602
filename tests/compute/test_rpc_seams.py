"""The typed RPC seams hold: no code outside a topic's RPC API module names a remote method by
string, and every method an RPC API names exists on its endpoint and decodes a payload."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ministack.compute.agent.manager import ComputeAgent
from ministack.compute.conductor import Conductor
from ministack.compute.scheduler.manager import Scheduler

SRC = Path(__file__).resolve().parents[2] / "src" / "ministack"
RPC_VERBS = {"call", "cast", "fanout"}
ALLOWED = {"common/rpc"}  # the bus itself
# an HTTP client's `.call(service, "POST", path)` (the dashboard's) or `.call("POST", path)`
# (the doctor's canary) names a verb, not a method
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _is_rpcapi(path: Path) -> bool:
    return "rpcapi" in path.relative_to(SRC).parts


def remote_calls_by_string(path: Path) -> list[str]:
    """`<x>.call/cast/fanout("topic", "method", ...)` with a literal method name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RPC_VERBS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and not any(
                isinstance(a, ast.Constant) and a.value in HTTP_METHODS for a in node.args[:2]
            )
        ):
            found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.args[1].value}")
    return found


def test_no_remote_method_named_outside_rpc_api_modules() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = str(path.relative_to(SRC))
        if _is_rpcapi(path) or any(rel.startswith(a) for a in ALLOWED):
            continue
        offenders += remote_calls_by_string(path)
    assert offenders == []


def test_the_scan_finds_string_named_calls() -> None:
    """The scan above is not vacuous: it sees the calls the RPC API modules make."""
    found = [
        c for p in (SRC / "compute" / "rpcapi").glob("*.py") for c in remote_calls_by_string(p)
    ]
    assert any(c.endswith(" build_instances") for c in found)
    assert any(c.endswith(" select_destinations") for c in found)


ENDPOINTS = {"agent.py": ComputeAgent, "conductor.py": Conductor, "scheduler.py": Scheduler}


@pytest.mark.parametrize("module", sorted(ENDPOINTS))
def test_every_method_an_rpc_api_names_is_served_with_a_payload(module: str) -> None:
    text = (SRC / "compute" / "rpcapi" / module).read_text()
    names = set(re.findall(r'(?:_cast|_call|cast|call|fanout)\(\s*(?:TOPIC,\s*)?"(\w+)"', text))
    assert names, f"no remote method found in rpcapi/{module}"
    endpoint = ENDPOINTS[module]
    for name in names:
        method = getattr(endpoint, name, None)
        assert method is not None, f"{endpoint.__name__} does not serve {name}"
        assert hasattr(method, "__wrapped__"), f"{endpoint.__name__}.{name} takes no payload"
