"""Benchmark: the compute server-create schema check per microversion (issue 15), baseline
2.38 measured in the same run as the later versions.

Checks one create body (name, image, flavor, networks, metadata, description, access IP, a
scheduler hint; two tags and a hostname where the version has them) with the accept path
every POST /servers takes (`schemas.create_server.pick(v).fast_accepts(body)`), best of 3 x
2000 calls, `--rounds` times, and prints the range per version and the change of the median
against 2.38.
Usage: .venv/bin/python bench/compute_schema_versions.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from typing import Any

from ministack.compute.api import schemas

VERSIONS = ((2, 38), (2, 52), (2, 74), (2, 90), (2, 96))


def body(version: tuple[int, int]) -> dict[str, Any]:
    server: dict[str, Any] = {
        "name": "bench",
        "imageRef": "7b4d3a6e-0000-4000-8000-000000000000",
        "flavorRef": "1",
        "networks": "none",
        "metadata": {"a": "b", "c": "d"},
        "description": "x",
        "accessIPv4": "10.0.0.1",
    }
    if version >= (2, 52):
        server["tags"] = ["a", "b"]
    if version >= (2, 90):
        server["hostname"] = "bench-1"
    return {
        "server": server,
        "os:scheduler_hints": {"group": "7b4d3a6e-0000-4000-8000-000000000001"},
    }


def _per_call(check: Any, data: dict[str, Any]) -> float:
    """Microseconds per check: the best of 3 repeats of 2000 calls."""
    return min(timeit.repeat(lambda: check(data), number=2000, repeat=3)) / 2000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures: dict[tuple[int, int], list[float]] = {v: [] for v in VERSIONS}
    for _ in range(args.rounds):  # versions interleaved, so machine noise hits all alike
        for version in VERSIONS:
            compiled = schemas.create_server.pick(version)
            assert compiled is not None
            data = body(version)
            assert compiled.fast_accepts(data), version
            figures[version].append(_per_call(compiled.fast_accepts, data))
    base = statistics.median(figures[VERSIONS[0]])
    for version, runs in figures.items():
        median = statistics.median(runs)
        print(
            f"{version[0]}.{version[1]}: {min(runs):.1f}-{max(runs):.1f} us, median "
            f"{median:.1f} us ({(median - base) / base * 100:+.1f} % vs 2.38)"
        )


if __name__ == "__main__":
    main()
